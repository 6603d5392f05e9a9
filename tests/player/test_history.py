"""Watch history: resume rules, counts, ordering, persistence and recovery from a bad file; it and
the recent-files list survive a second instance saving at the same moment and a disk that
refuses the write."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from player.history import WatchHistory, default_history_path
from player.recents import RecentSources


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_resume_position_only_for_a_useful_midpoint(tmp_path: Path) -> None:
    history = WatchHistory(tmp_path / "h.json", clock=_Clock())
    assert history.resume_position("a") is None
    history.record_progress("a", 3_000, 60_000)
    assert history.resume_position("a") is None  # still in the title card
    history.record_progress("a", 30_000, 60_000)
    assert history.resume_position("a") == 30_000
    history.record_progress("a", 58_000, 60_000)
    assert history.resume_position("a") is None  # in the credits
    history.record_progress("a", 30_000, 60_000)
    history.mark_completed("a")
    assert history.resume_position("a") is None
    entry = history.entry("a")
    assert entry is not None
    assert entry.completed_count == 1
    assert entry.duration_ms == 60_000


def test_unknown_duration_keeps_the_last_known_one(tmp_path: Path) -> None:
    history = WatchHistory(tmp_path / "h.json")
    history.record_progress("a", 10_000, 40_000)
    history.record_progress("a", 20_000, 0)
    entry = history.entry("a")
    assert entry is not None
    assert (entry.position_ms, entry.duration_ms, entry.progress) == (20_000, 40_000, 0.5)


def test_entries_most_recent_first_and_play_counts(tmp_path: Path) -> None:
    history = WatchHistory(tmp_path / "h.json", clock=_Clock())
    history.record_play("a")
    history.record_play("b")
    history.record_play("a")
    assert [e.video_id for e in history.entries()] == ["a", "b"]
    assert [e.play_count for e in history.entries()] == [2, 1]
    history.forget("a")
    assert [e.video_id for e in history.entries()] == ["b"]


def test_persists_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "h.json"
    first = WatchHistory(path)
    first.record_play("a")
    first.record_progress("a", 12_000, 50_000)
    second = WatchHistory(path)
    assert second.resume_position("a") == 12_000
    assert second.entries() == first.entries()
    assert not path.with_name("h.json.tmp").exists()


def test_corrupt_file_is_set_aside_and_history_starts_empty(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    path.write_text("{not json")
    history = WatchHistory(path)
    assert history.entries() == []
    assert path.with_name("h.json.corrupt").read_text() == "{not json"
    history.record_play("a")
    assert WatchHistory(path).entry("a") is not None


def test_default_path_is_in_the_state_dir() -> None:
    path = default_history_path()
    assert path.name == "history.json"
    assert "state" in str(path)


WRITER = """
import sys
from pathlib import Path
from player.history import WatchHistory
from player.recents import RecentSources

folder, name = Path(sys.argv[1]), sys.argv[2]
history = WatchHistory(folder / "history.json")
recents = RecentSources(folder / "recent.json")
for n in range(300):
    history.record_progress(f"{name}-{n % 7}", 10_000 + n, 60_000)
    recents.add(f"{name}-{n}.mp4")
"""


def test_two_instances_saving_at_once_never_tear_the_files(tmp_path: Path) -> None:
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("first", "second")
    ]
    reads = 0
    # What a third instance starting meanwhile would read: always one writer's whole file.
    while any(writer.poll() is None for writer in writers):
        for name in ("history.json", "recent.json"):
            try:
                text = (tmp_path / name).read_text()
            except FileNotFoundError:
                continue  # not written yet
            json.loads(text)
            reads += 1
    for writer in writers:
        _, errors = writer.communicate(timeout=30)
        assert writer.returncode == 0, errors
        assert "could not save" not in errors
    assert reads > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.json", "recent.json"]
    # The last writer's whole history (with what it found at its start): no entry half-written.
    ids = {entry.video_id for entry in WatchHistory(tmp_path / "history.json").entries()}
    assert any(ids >= {f"{name}-{n}" for n in range(7)} for name in ("first", "second"))
    assert ids <= {f"{name}-{n}" for name in ("first", "second") for n in range(7)}


def test_a_history_that_cannot_be_saved_carries_on_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state dir should be")
    history = WatchHistory(blocker / "history.json", clock=_Clock())

    history.record_play("a")
    history.record_progress("a", 30_000, 60_000)

    assert history.resume_position("a") == 30_000
    assert "could not save the watch history" in caplog.text


def test_recent_files_that_cannot_be_saved_carry_on_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "config"
    blocker.write_text("a file where the config dir should be")
    recents = RecentSources(blocker / "recent.json")

    recents.add("/videos/a.mp4")

    assert recents.items == ["/videos/a.mp4"]
    assert "could not save recent files" in caplog.text
