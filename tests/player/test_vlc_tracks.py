"""Tracks, subtitles, chapters and snapshots through the libVLC engine offscreen, on the
feature samples (`resources/make_samples.sh`): two audio languages, two embedded subtitle
tracks, an external German .srt beside the clip, and chapters."""

from __future__ import annotations

import shutil
from pathlib import Path

from player.engine import EngineEventKind
from player.vlc_engine import VlcEngine

from ..telemetry.waiting import wait_until
from .engine_probe import EngineProbe

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
FEATURE_CLIP = SAMPLES / "harbour-nights.mkv"  # 150 s, 4 chapters of 37.5 s


def _open(engine: VlcEngine, probe: EngineProbe, source: Path) -> None:
    engine.open(str(source))
    probe.wait_for(EngineEventKind.TIME_CHANGED, where=lambda e: int(e.value or 0) > 0)


def test_audio_tracks_have_language_names_and_switch(engine: VlcEngine, probe: EngineProbe) -> None:
    _open(engine, probe, FEATURE_CLIP)
    tracks = wait_until(lambda: engine.audio_tracks() if len(engine.audio_tracks()) == 2 else ())
    assert [t.language for t in tracks] == ["English", "French"]
    assert engine.audio_track == tracks[0].id
    assert engine.set_audio_track(tracks[1].id)
    wait_until(lambda: engine.audio_track == tracks[1].id, what="the French audio track")


def test_the_subtitle_file_beside_the_clip_is_loaded_and_tracks_switch_on_and_off(
    engine: VlcEngine, probe: EngineProbe
) -> None:
    _open(engine, probe, FEATURE_CLIP)
    tracks = wait_until(
        lambda: engine.subtitle_tracks() if len(engine.subtitle_tracks()) == 3 else ()
    )
    assert [t.language for t in tracks] == ["English", "French", "German"]
    # libVLC prefers the external file it found beside the media.
    assert engine.subtitle_track == tracks[2].id
    assert engine.set_subtitle_track(tracks[1].id)
    wait_until(lambda: engine.subtitle_track == tracks[1].id)
    assert engine.set_subtitle_track(-1)
    wait_until(lambda: engine.subtitle_track == -1, what="subtitles off")


def test_an_external_subtitle_file_is_added_and_shown(
    engine: VlcEngine, probe: EngineProbe, tmp_path: Path
) -> None:
    clip = tmp_path / "clip.mkv"  # alone in its folder: no file beside it to auto-load
    shutil.copy(FEATURE_CLIP, clip)
    _open(engine, probe, clip)
    wait_until(lambda: len(engine.subtitle_tracks()) == 2)
    vtt = tmp_path / "elsewhere.vtt"
    vtt.write_text("WEBVTT\n\n00:00.000 --> 02:30.000\nHello from a WebVTT file\n")
    assert engine.add_subtitle_file(str(vtt))
    tracks = wait_until(
        lambda: engine.subtitle_tracks() if len(engine.subtitle_tracks()) == 3 else ()
    )
    wait_until(lambda: engine.subtitle_track == tracks[2].id, what="the added track shown")


def test_subtitle_delay_is_set_in_ms(engine: VlcEngine, probe: EngineProbe) -> None:
    _open(engine, probe, FEATURE_CLIP)
    assert engine.subtitle_delay_ms == 0
    engine.set_subtitle_delay(-150)
    assert engine.subtitle_delay_ms == -150


def test_chapters_are_listed_and_a_chapter_seek_lands_at_its_start(
    engine: VlcEngine, probe: EngineProbe
) -> None:
    _open(engine, probe, FEATURE_CLIP)
    chapters = wait_until(engine.chapters)
    assert [(c.start_ms, c.title) for c in chapters] == [
        (0, "Arrival"),
        (37_500, "The Quay"),
        (75_000, "Lanterns"),
        (112_500, "Departure"),
    ]
    engine.set_chapter(2)
    wait_until(lambda: engine.chapter == 2 and engine.position_ms >= 75_000, what="chapter 3")
    assert engine.position_ms < 75_000 + 1_000


def test_a_snapshot_is_saved_as_png(engine: VlcEngine, probe: EngineProbe, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    assert not engine.take_snapshot(str(shot))  # nothing playing, no picture
    _open(engine, probe, FEATURE_CLIP)
    probe.wait_for(EngineEventKind.VIDEO_OUTPUT, where=lambda e: bool(e.value))
    assert engine.take_snapshot(str(shot))
    wait_until(lambda: shot.exists() and shot.stat().st_size > 0, what="the snapshot file")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_thumbnailer_makes_small_pictures_of_the_positions_asked_for(tmp_path: Path) -> None:
    from player.vlc_engine import VlcThumbnailer

    thumbnailer = VlcThumbnailer(str(FEATURE_CLIP))
    try:
        early, late = tmp_path / "early.png", tmp_path / "late.png"
        assert thumbnailer.thumbnail(10_000, early, 160)
        assert thumbnailer.thumbnail(120_000, late, 160)
    finally:
        thumbnailer.release()
    for picture in (early, late):
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The clip's burned-in clock differs, so the pictures do.
    assert early.read_bytes() != late.read_bytes()
