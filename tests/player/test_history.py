"""Watch history: resume rules, counts, ordering, persistence and recovery from a bad file."""

from __future__ import annotations

from pathlib import Path

from player.history import WatchHistory, default_history_path


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
