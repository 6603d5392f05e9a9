"""The report over a hand-written data set (`known_data.py`) posted through the real collector
over HTTP, out of order, partly twice and partly under a second key: every figure equals the
one worked out on paper below. Also each filter, and the edge cases one at a time: a session with
no end, a crash-recovered end, clock skew, duplicates and out-of-order arrival."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from telemetry.contracts.stored import store_url
from telemetry.report.compute import compute_report
from telemetry.report.metrics import Report
from telemetry.report.queries import Filters
from tests.collector.harness import thread_collector

from .conftest import CHUNK
from .known_data import DAY1, DAY2, HOUR


def report(store: tuple[str, dict[str, int]], **filters: Any) -> Report:
    return compute_report(store[0], Filters(**filters))


def sessions(result: Report) -> dict[str, Any]:
    return {s.play_session_id: s for s in result.sessions}


def test_every_session_figure(store: tuple[str, dict[str, int]]) -> None:
    got = sessions(report(store))
    assert sorted(got) == ["S1", "S2", "S3", "S4", "S5", "S6", "S7"]
    # name: startup, stalls, stalled, seeks, latencies, seeking, startup phase, playing,
    # paused, watch, content watched, duration, ended, completed, end reason, failure
    expected = {
        "S1": (800, 1, 2000, 1, [300], 300, 800, 40_400, 5000, 43_500, 40_000, 60_000,
               True, True, "completed", None, None),
        "S2": (None, 0, 0, 0, [], 0, 700, 20_000, 1000, 20_700, 20_000, 100_000,
               False, False, "crash_recovered", None, None),
        "S3": (None, 0, 0, 0, [], 0, 400, 0, 0, 400, 0, None,
               False, False, "error", "not_found", "startup"),
        "S4": (None, 0, 0, 0, [], 0, 3000, 0, 0, 3000, 0, None,
               False, False, "user_stop", None, None),
        "S5": (1200, 0, 0, 0, [], 0, 1200, 12_000, 0, 13_200, 12_000, None,
               False, False, "error", "decode", "playback"),
        "S6": (2000, 0, 0, 0, [], 0, 2000, 15_000, 0, 17_000, 15_000, 16_000,
               False, True, "user_stop", None, None),
        "S7": (500, 0, 0, 0, [], 0, 500, 10_000, 0, 10_500, 10_000, None,
               False, False, None, None, None),
    }  # fmt: skip
    for name, figures in expected.items():
        s = got[name]
        assert (
            s.startup_ms, s.stall_count, s.rebuffer_ms, s.seek_count, s.seek_latencies_ms,
            s.seek_ms, s.startup_phase_ms, s.playing_ms, s.paused_ms, s.watch_ms,
            s.content_watched_ms, s.duration_ms, s.ended, s.completed, s.end_reason,
            s.failure_category, s.failure_phase,
        ) == figures, name  # fmt: skip
    # Corrected time: the client's, moved by the few ms between sending and receiving.
    assert 0 <= got["S1"].started_at - (DAY1 + 5000) < 1000
    assert (got["S1"].app_version, got["S1"].os) == ("1.0.0", "Linux")
    assert (got["S5"].app_version, got["S5"].os) == ("1.1.0", "Windows")
    assert [n for n, s in got.items() if s.from_impression] == ["S1", "S5"]


def test_quality_of_experience_aggregates(store: tuple[str, dict[str, int]]) -> None:
    q = report(store).qoe
    assert (q.attempts, q.plays) == (7, 5)
    # Startups 500, 800, 1200, 2000: nearest rank p50 is the 2nd, p95 the 4th.
    assert (q.startup.count, q.startup.p50, q.startup.p95) == (4, 800, 2000)
    assert (q.stalls, q.rebuffer_ms, q.playing_ms) == (1, 2000, 97_400)
    assert q.rebuffer_ratio == pytest.approx(2000 / 99_400)
    assert q.rebuffer_per_minute == pytest.approx(1 / (97_400 / 60_000))
    assert (q.seek_latency.count, q.seek_latency.p50, q.seek_latency.p95) == (1, 300, 300)
    assert (q.exits_before_video_start.count, q.exits_before_video_start.total) == (1, 7)
    assert (q.video_start_failures.count, q.video_start_failures.total) == (1, 7)
    assert (q.playback_failures.count, q.playback_failures.total) == (1, 5)
    assert (q.completion.count, q.completion.total) == (2, 5)
    assert q.completion.rate == pytest.approx(0.4)
    assert q.watch_ms == 108_300
    assert q.content_watched_ms == 97_000
    assert q.end_reasons == {
        "error": 2,
        "user_stop": 2,
        "completed": 1,
        "crash_recovered": 1,
        "no_end": 1,
    }
    assert q.failure_categories == {"not_found": 1, "decode": 1}
    # Hourly: S1-S4 started in 10:00 on day 1, S5-S7 in 10:00 on day 2.
    assert [(p.start, p.sessions, p.rebuffer_ms, p.playing_ms) for p in q.rebuffer_over_time] == [
        (DAY1, 4, 2000, 60_400),
        (DAY2, 3, 0, 37_000),
    ]
    assert sum(b.count for b in q.startup_histogram) == 4
    # Renditions: S1 shows 360p from its first frame (5800) and 720p from 22 000; its 2 s stall
    # and everything after 22 000 but the seek and the pause (26 200 ms) are not 360p playing.
    # S2, S5, S6, S7 play 360p throughout. One switch in 97.4 s of playing.
    r = q.renditions
    assert r.playing_ms_by_height == {360: 14_200 + 20_000 + 12_000 + 15_000 + 10_000, 720: 26_200}
    assert sum(r.playing_ms_by_height.values()) == q.playing_ms
    assert r.switches == 1
    assert r.switches_per_hour == pytest.approx(3_600_000 / 97_400)
    # Heartbeats with both sizes: S1 scaled up, S5 at its own size, S6 scaled down, 10 s each.
    assert r.upscaled_share == pytest.approx(1 / 3)
    assert r.downscaled_share == pytest.approx(1 / 3)
    got = sessions(report(store))
    assert (got["S1"].rendition_ms, got["S1"].rendition_switches) == ({360: 14_200, 720: 26_200}, 1)
    assert got["S6"].scaling_ms == {"downscaled": 10_000}
    assert got["S3"].rendition_ms == {}


def test_browse_figures(store: tuple[str, dict[str, int]]) -> None:
    b = report(store).browse
    assert (b.feeds, b.served, b.impressions, b.attributed_plays) == (2, 7, 5, 2)
    assert b.take_rate == pytest.approx(2 / 5)
    assert (b.reach.count, b.reach.total, b.served_never_seen) == (5, 7, 2)
    # Dwell per impression: 2000, 1500, 1000 (feed r1), 1100, 2500 (feed r2).
    assert b.dwell_median_ms == 1500
    assert [(c.row, c.rank, c.impressions, c.plays, c.dwell_median_ms) for c in b.cells] == [
        (0, 0, 2, 1, 1100),
        (0, 1, 2, 1, 1500),
        (1, 0, 1, 0, 1000),
    ]
    assert [
        (r.index, r.impressions, r.plays, r.take_rate, r.dwell_median_ms) for r in b.by_row
    ] == [
        (0, 4, 2, 0.5, 1500),
        (1, 1, 0, 0.0, 1000),
    ]
    assert [(r.index, r.impressions, r.plays, r.dwell_median_ms) for r in b.by_rank] == [
        (0, 3, 1, 1100),
        (1, 2, 1, 1500),
    ]
    assert [
        (r.row, r.served, r.seen, r.deepest_rank_max, r.deepest_rank_median) for r in b.reach_by_row
    ] == [(0, 5, 4, 1, 1), (1, 2, 1, 0, 0)]
    assert (b.funnel.served, b.funnel.seen, b.funnel.played, b.funnel.completed) == (7, 5, 2, 1)


def test_titles_and_position_corrected_take_rate(store: tuple[str, dict[str, int]]) -> None:
    titles = {t.video_id: t for t in report(store).titles}
    assert [t.video_id for t in report(store).titles] == ["v1", "v2", "v6", "v3", "v4", "v5"]
    # Global take rate: 1/2 at (0, 0), 1/2 at (0, 1), 0 at (1, 0). v1 was seen at both row-0
    # positions (expected 1 play) and played twice; v2 at the same two, never played.
    v1, v2, v4 = titles["v1"], titles["v2"], titles["v4"]
    assert (v1.impressions, v1.attributed_plays, v1.expected_plays) == (2, 2, 1.0)
    assert v1.position_corrected_take_rate == pytest.approx(2.0)
    assert (v2.impressions, v2.attributed_plays, v2.position_corrected_take_rate) == (2, 0, 0.0)
    assert (v4.impressions, v4.expected_plays, v4.position_corrected_take_rate) == (1, 0.0, None)
    assert (v1.sessions, v1.plays, v1.completed, v1.watch_ms) == (2, 2, 1, 56_700)
    assert (v2.sessions, v2.watch_ms, v2.served, v2.seen) == (2, 31_200, 2, 2)
    assert (titles["v5"].served, titles["v5"].seen, titles["v5"].sessions) == (1, 0, 0)


def test_data_quality(store: tuple[str, dict[str, int]]) -> None:
    d = report(store).quality
    sent = store[1]
    assert sent["stored"] == sent["events"] + 1  # the copy under the other key
    assert (d.app_sessions, d.devices, d.events) == (3, 2, sent["events"])
    assert d.lost_events == 1  # launch 2's seq 4
    assert d.drops_reported == {"outbox_full": 3}
    assert d.duplicates_absorbed_by_collector == CHUNK
    assert d.duplicates_absorbed_by_report == 1
    assert d.clock_skew_corrections == 2  # launch 3's two events, an hour slow
    assert (d.sessions_without_request, d.foreign_events_ignored) == (0, 0)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"app_version": "1.1.0"}, ["S5", "S6", "S7"]),
        ({"os": "Linux"}, ["S1", "S2", "S3", "S4"]),
        ({"video_id": "v1"}, ["S1", "S5"]),
        ({"since": DAY1 + 12 * HOUR}, ["S5", "S6", "S7"]),
        ({"until": DAY1 + 12 * HOUR}, ["S1", "S2", "S3", "S4"]),
        ({"since": DAY1 + 1800 * 1000, "until": DAY1 + 1950 * 1000}, ["S3"]),
        ({"os": "Darwin"}, []),
    ],
)
def test_filters_select_sessions(
    store: tuple[str, dict[str, int]], filters: dict[str, Any], expected: list[str]
) -> None:
    assert sorted(sessions(report(store, **filters))) == expected


def test_filters_restrict_browse_and_quality(store: tuple[str, dict[str, int]]) -> None:
    windows = report(store, os="Windows")
    assert (windows.browse.feeds, windows.browse.served, windows.browse.impressions) == (1, 2, 2)
    assert (windows.quality.app_sessions, windows.quality.lost_events) == (1, 1)
    assert windows.quality.drops_reported == {"outbox_full": 3}
    linux = report(store, os="Linux")
    assert linux.quality.drops_reported == {}
    assert linux.quality.clock_skew_corrections == 2
    v1 = report(store, video_id="v1").browse
    assert (v1.served, v1.impressions, v1.attributed_plays) == (2, 2, 2)


def test_report_reads_while_nothing_else_is_there(tmp_path: Path) -> None:
    """An empty store (the collector just created it) gives zeros, not errors."""
    with thread_collector(tmp_path / "empty") as collector:
        empty = compute_report(store_url(collector.db), Filters())
    assert (empty.qoe.attempts, empty.browse.impressions, empty.quality.events) == (0, 0, 0)
    assert empty.qoe.startup.p50 is None
    assert empty.qoe.rebuffer_ratio is None
