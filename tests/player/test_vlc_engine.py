"""The libVLC engine offscreen (`--vout=dummy --aout=dummy`): real libVLC, real media files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from player.engine import EngineEventKind, PlaybackState
from player.errors import ErrorCategory, classify
from player.vlc_engine import VlcEngine, check_video_output_plugins

from ..telemetry.waiting import wait_until
from .engine_probe import EngineProbe
from .fixture_media import FixtureMedia
from .refused_port import refused_port

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"
CLIP = SAMPLES / "colour-bars.mp4"  # 8 s


def test_video_output_plugins_are_found() -> None:
    assert check_video_output_plugins() is None


def test_plays_reports_length_and_advances(engine: VlcEngine, probe: EngineProbe) -> None:
    engine.open(str(CLIP))
    length = probe.wait_for(EngineEventKind.LENGTH_CHANGED, where=lambda e: bool(e.value))
    assert length.value == 8000
    probe.wait_for(EngineEventKind.PLAYING)
    probe.wait_for(EngineEventKind.TIME_CHANGED, where=lambda e: int(e.value or 0) >= 500)
    assert engine.state is PlaybackState.PLAYING
    assert engine.duration_ms == 8000
    info = engine.video_info()
    assert (info.codec, info.width, info.height, info.fps) == ("h264", 480, 270, 24.0)
    assert engine.backend_version.startswith("libVLC 3.")


def test_pause_stops_the_playhead_and_resume_continues(
    engine: VlcEngine, probe: EngineProbe
) -> None:
    engine.open(str(CLIP))
    probe.wait_for(EngineEventKind.TIME_CHANGED, where=lambda e: int(e.value or 0) >= 300)
    engine.pause()
    probe.wait_for(EngineEventKind.PAUSED)
    held = engine.position_ms
    probe.clear()
    # A paused playhead must not move while a playing one would pass 250 ms boundaries.
    with pytest.raises(AssertionError):
        probe.wait_for(EngineEventKind.TIME_CHANGED, timeout=0.8)
    assert engine.position_ms == held
    engine.toggle_pause()
    probe.wait_for(EngineEventKind.TIME_CHANGED, where=lambda e: int(e.value or 0) > held)


def test_seek_lands_within_half_a_second(engine: VlcEngine, probe: EngineProbe) -> None:
    engine.open(str(CLIP))
    probe.wait_for(EngineEventKind.TIME_CHANGED, where=lambda e: int(e.value or 0) > 0)
    engine.seek(5000)
    wait_until(lambda: engine.position_ms >= 5000, timeout=5)
    assert abs(engine.position_ms - 5000) <= 500


def test_end_of_media_is_reported(engine: VlcEngine, probe: EngineProbe) -> None:
    engine.open(str(CLIP))
    probe.wait_for(EngineEventKind.PLAYING)
    engine.seek(7500)
    probe.wait_for(EngineEventKind.ENDED, timeout=10)
    assert engine.state is PlaybackState.ENDED
    assert EngineEventKind.ERROR not in probe.kinds()


def test_a_complete_transport_stream_ends_without_an_error(
    engine: VlcEngine, probe: EngineProbe, media: FixtureMedia
) -> None:
    """MPEG-TS lengths are libVLC's estimate and its time comes in ~1 s steps: still an end."""
    engine.open(str(media.transport_stream()))
    probe.wait_for(EngineEventKind.TIME_CHANGED, where=lambda e: int(e.value or 0) > 0)
    engine.seek(9000)
    probe.wait_for(EngineEventKind.ENDED, timeout=15)
    assert EngineEventKind.ERROR not in probe.kinds()


def test_rate_volume_and_mute_are_applied(engine: VlcEngine, probe: EngineProbe) -> None:
    engine.open(str(CLIP))
    probe.wait_for(EngineEventKind.PLAYING)
    engine.set_rate(2.0)
    engine.set_volume(40)
    engine.set_muted(True)
    assert (engine.rate, engine.volume, engine.muted) == (2.0, 40, True)
    start = engine.position_ms
    probe.clear()
    probe.wait_for(EngineEventKind.TIME_CHANGED, where=lambda e: int(e.value or 0) >= start + 1500)
    # At 2x the playhead covers 1.5 s of media in well under 1.5 s of wall time.
    events = probe.events
    span_media = int(events[-1].value or 0) - start
    span_wall = events[-1].mono_ms - events[0].mono_ms
    assert span_media > span_wall * 1.4


def _text_file(folder: Path) -> str:
    path = folder / "notes.mp4"
    path.write_text("These are my notes, not a video.\n" * 20)
    return str(path)


@pytest.mark.parametrize(
    "case",
    [
        (lambda tmp, _media: str(tmp / "missing.mp4"), ErrorCategory.NOT_FOUND, "Can't find"),
        (lambda tmp, _media: _text_file(tmp), ErrorCategory.UNSUPPORTED, "text file"),
        (lambda _tmp, media: str(media.text_mkv()), ErrorCategory.UNSUPPORTED, "text file"),
        (
            lambda _tmp, media: str(media.truncated()),
            ErrorCategory.DECODE,
            "stops before its end",
        ),
        (
            lambda _tmp, _media: f"http://127.0.0.1:{refused_port()}/x.mp4",
            ErrorCategory.NETWORK,
            "Can't reach",
        ),
    ],
    ids=["missing-file", "text-renamed-mp4", "text-mkv", "truncated-mp4", "closed-port"],
)
def test_bad_input_gives_a_classified_error_and_the_next_file_plays(
    engine: VlcEngine,
    probe: EngineProbe,
    tmp_path: Path,
    media: FixtureMedia,
    case: tuple[Callable[[Path, FixtureMedia], str], ErrorCategory, str],
) -> None:
    make_source, category, words = case
    source = make_source(tmp_path, media)
    engine.open(source)
    error = probe.wait_for(EngineEventKind.ERROR, timeout=20)
    assert EngineEventKind.ENDED not in probe.kinds()
    problem = classify(source, str(error.value or ""))
    assert problem.category is category
    assert words in problem.user_message
    probe.clear()
    engine.open(str(CLIP))
    probe.wait_for(EngineEventKind.TIME_CHANGED, where=lambda e: int(e.value or 0) > 0)


def test_video_info_is_the_picture_shown_now_not_the_first_track_seen(
    engine: VlcEngine, probe: EngineProbe, media: FixtureMedia
) -> None:
    """One TS stream whose picture goes from 320x180 to 640x360 at 4 s: libVLC keeps both in
    its track list, first one first; the engine reports the one on screen."""
    engine.open(str(media.size_change_ts()))
    probe.wait_for(EngineEventKind.TIME_CHANGED, where=lambda e: int(e.value or 0) > 0)
    wait_until(lambda: engine.video_info().width == 320, timeout=5)
    assert engine.video_info().height == 180
    wait_until(lambda: engine.position_ms >= 5500, timeout=15)
    wait_until(lambda: engine.video_info().width == 640, timeout=3)
    assert engine.video_info().height == 360


def test_a_refused_connection_is_a_network_error_whatever_else_the_log_says() -> None:
    """Seen under load: a late ffmpeg line from the previous title ("moov atom not found")
    in the log tail of a refused connection made it "not found on the server"."""
    detail = (
        "mp4: moov atom not found\n"
        "http: cannot connect to 127.0.0.1:40487: Connection refused\n"
        "Your input can't be opened"
    )
    problem = classify("http://127.0.0.1:40487/x.mp4", detail)
    assert problem.category is ErrorCategory.NETWORK
    assert "Can't reach" in problem.user_message
    assert classify("http://h/x.mp4", "HTTP 404 error: not found").category is (
        ErrorCategory.NOT_FOUND
    )
