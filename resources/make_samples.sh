#!/usr/bin/env bash
# Regenerates the bundled sample clips and posters from ffmpeg's synthetic sources.
# The outputs are committed (all media together stay under 5 MB); run `make samples`
# only to change them. Needs ffmpeg (Debian: ffmpeg).
set -euo pipefail
cd "$(dirname "$0")/samples"
command -v ffmpeg >/dev/null || { echo "needs ffmpeg: apt-get install ffmpeg" >&2; exit 1; }

size=480x270
# id | seconds | video source | audio source
clips=(
  "ocean-drift|12|gradients=s=$size:r=24:speed=0.015:c0=0x0b3d91:c1=0x1ec8c8:c2=0x062040:n=3|sine=f=196:sample_rate=44100,volume=0.25"
  "mandelbrot-voyage|15|mandelbrot=s=$size:r=24:end_scale=0.02|sine=f=261.6:sample_rate=44100,volume=0.2"
  "game-of-life|10|life=s=$size:r=24:mold=10:ratio=0.12:life_color=0x3ce070:death_color=0x802020|anoisesrc=c=pink:a=0.05:sample_rate=44100"
  "test-card|24|testsrc2=s=$size:r=24|sine=f=440:beep_factor=4:sample_rate=44100,volume=0.2"
  "colour-bars|8|smptehdbars=s=$size:r=24|sine=f=1000:sample_rate=44100,volume=0.1"
  "cellular-dreams|10|cellauto=s=$size:r=24:rule=110:scroll=1,negate|anoisesrc=c=brown:a=0.08:sample_rate=44100"
  "sunset-hues|9|color=c=0xff7030:s=$size:r=24,hue=H=2*PI*t/9:s=1.2|sine=f=329.6:sample_rate=44100,volume=0.2"
  "rainbow-spin|12|rgbtestsrc=s=$size:r=24,rotate=a=t*0.6:fillcolor=black|sine=f=523.3:beep_factor=2:sample_rate=44100,volume=0.15"
)

for spec in "${clips[@]}"; do
  IFS='|' read -r id secs video audio <<<"$spec"
  ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i "$video" -f lavfi -i "$audio" -t "$secs" \
    -c:v libx264 -preset slow -crf 30 -maxrate 420k -bufsize 840k -pix_fmt yuv420p -g 48 \
    -c:a aac -b:a 48k -ac 2 -movflags +faststart -shortest "$id.mp4"
  # Posters carry no title: the home screen draws titles itself.
  ffmpeg -hide_banner -loglevel error -y -ss 2 -i "$id.mp4" -frames:v 1 \
    -vf "scale=320:180" -q:v 4 "$id.jpg"
done
du -ch ./*.mp4 | tail -1

# Feature clips: 2-3 minutes each with chapters, two audio languages (English and French, told
# apart by pitch), two embedded subtitle tracks (English SRT, French ASS) and an external German
# subtitle file beside the clip, which libVLC loads by itself. Tiny on purpose (320x180, a calm
# picture at 15 fps, 24 kbit/s mono audio per language) so that every player feature can be
# tried, and is tested, on real media without weighing down the repository.
feature_size=320x180
# id | seconds | video source | English tone | French tone | chapter titles (comma separated)
features=(
  "harbour-nights|150|gradients=s=$feature_size:r=15:speed=0.01:c0=0x10204a:c1=0xd08a30:n=2|220|330|Arrival,The Quay,Lanterns,Departure"
  "city-of-clocks|120|gradients=s=$feature_size:r=15:speed=0.012:c0=0x2a0a3a:c1=0x30c0a0:n=2|262|392|Morning,Noon,Midnight"
)

srt_time() {  # seconds -> HH:MM:SS,mmm
  printf '%02d:%02d:%02d,000' $(($1 / 3600)) $(($1 / 60 % 60)) $(($1 % 60))
}

write_srt() {  # file, seconds, label, word: one cue every 5 s, 4 s long
  local file=$1 secs=$2 label=$3 word=$4 n=0
  : >"$file"
  for ((start = 0; start + 4 <= secs; start += 5)); do
    n=$((n + 1))
    printf '%d\n%s --> %s\n[%s] %s %d\n\n' "$n" "$(srt_time "$start")" \
      "$(srt_time $((start + 4)))" "$label" "$word" "$n" >>"$file"
  done
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for spec in "${features[@]}"; do
  IFS='|' read -r id secs video tone_en tone_fr chapters <<<"$spec"
  write_srt "$work/en.srt" "$secs" English Line
  write_srt "$work/fr.srt" "$secs" Français Réplique
  write_srt "$id.de.srt" "$secs" Deutsch Zeile
  IFS=',' read -r -a titles <<<"$chapters"
  {
    echo ";FFMETADATA1"
    echo "title=$id"
    count=${#titles[@]}
    for i in "${!titles[@]}"; do
      printf '[CHAPTER]\nTIMEBASE=1/1000\nSTART=%d\nEND=%d\ntitle=%s\n' \
        $((i * secs * 1000 / count)) $(((i + 1) * secs * 1000 / count)) "${titles[$i]}"
    done
  } >"$work/chapters.txt"
  ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i "$video,drawtext=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf:text='%{pts\:hms}':x=8:y=8:fontsize=14:fontcolor=white" \
    -f lavfi -i "sine=f=$tone_en:sample_rate=22050,volume=0.2" \
    -f lavfi -i "sine=f=$tone_fr:sample_rate=22050,volume=0.2" \
    -i "$work/en.srt" -i "$work/fr.srt" -i "$work/chapters.txt" \
    -map 0:v -map 1:a -map 2:a -map 3:s -map 4:s -map_metadata 5 -map_chapters 5 -t "$secs" \
    -c:v libx264 -preset slow -crf 34 -maxrate 60k -bufsize 120k -pix_fmt yuv420p -g 150 \
    -c:a aac -b:a 24k -ac 1 -c:s:0 srt -c:s:1 ass \
    -metadata:s:a:0 language=eng -metadata:s:a:0 title=English \
    -metadata:s:a:1 language=fre -metadata:s:a:1 title=Français \
    -metadata:s:s:0 language=eng -metadata:s:s:1 language=fre \
    -shortest "$id.mkv"
  ffmpeg -hide_banner -loglevel error -y -ss 20 -i "$id.mkv" -frames:v 1 -q:v 4 "$id.jpg"
done
du -ch ./*.mkv ./*.srt | tail -1
