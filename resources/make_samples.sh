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
