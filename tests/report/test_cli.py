"""`reelscope-report` over the known-answer store: terminal tables, JSON with the same figures,
a self-contained HTML file with its five charts, filters from the command line, and a one-line
error (no traceback) for a missing, corrupt or foreign store."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from telemetry.report.cli import main, parse_time

from .known_data import DAY1, HOUR

REPO = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_terminal_tables(
    store: tuple[str, dict[str, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--store", store[0])
    assert (code, err) == (0, "")
    for heading in ("QUALITY OF EXPERIENCE", "BROWSE", "TITLES", "DATA QUALITY", "PLAY SESSIONS"):
        assert heading in out
    assert re.search(r"startup time\s+p50 800 ms, p95 2.00 s \(n=4\)", out)
    assert re.search(r"completion rate\s+40.0 % \(2/5\)", out)
    assert re.search(r"playing time by picture height\s+360p 1 min 11 s, 720p 26.20 s", out)
    assert re.search(r"rendition switches\s+1 \(36\.96 per hour of playing\)", out)
    assert re.search(r"picture scaled up / down\s+33\.3 % / 33\.3 %", out)
    assert re.search(r"events lost \(gaps in seq\)\s+1$", out, re.MULTILINE)
    assert "crash_recovered" in out
    assert "no end" in out


def test_json_carries_the_figures(
    store: tuple[str, dict[str, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--store", store[0], "--json", "--title", "v1")
    assert code == 0
    data: dict[str, Any] = json.loads(out)
    assert data["filters"]["video_id"] == "v1"
    assert [s["play_session_id"] for s in data["sessions"]] == ["S1", "S5"]
    assert data["qoe"]["startup"] == {"count": 2, "p50": 800, "p95": 1200}
    assert data["browse"]["funnel"] == {"served": 2, "seen": 2, "played": 2, "completed": 1}


def test_json_lists_every_session_and_title_unless_bounded(
    store: tuple[str, dict[str, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--store", store[0], "--json")
    assert code == 0
    full: dict[str, Any] = json.loads(out)
    assert len(full["sessions"]) == full["qoe"]["attempts"] == 7
    assert len(full["titles"]) > 2
    for sessions, titles in ((2, 1), (0, 0), (100, 100)):
        code, out, _ = run(
            capsys, "--store", store[0], "--json", "--sessions", str(sessions),
            "--titles", str(titles),
        )  # fmt: skip
        assert code == 0
        shown: dict[str, Any] = json.loads(out)
        # The most recent sessions (still oldest first) and the most watched titles; the
        # figures are those of every session.
        assert shown["sessions"] == full["sessions"][max(0, 7 - sessions) :]
        assert shown["titles"] == full["titles"][:titles]
        assert {**shown, "sessions": [], "titles": []} == {**full, "sessions": [], "titles": []}
    code, out, _ = run(capsys, "--store", store[0], "--sessions", "1", "--titles", "1")
    assert code == 0
    assert "1 most recent of 7" in out
    with pytest.raises(SystemExit) as refused:
        main(["--store", store[0], "--json", "--sessions", "-1"])
    assert refused.value.code == 2
    assert "not a count (0, 1, 2 ...): '-1'" in capsys.readouterr().err


def test_time_filters_from_the_command_line(
    store: tuple[str, dict[str, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "--store", store[0], "--json", "--since", "2026-11-02", "--os", "Windows"
    )
    assert code == 0
    assert [s["play_session_id"] for s in json.loads(out)["sessions"]] == ["S5", "S6", "S7"]
    assert parse_time("2026-11-01T12:00:00+02:00") == DAY1
    assert parse_time("2026-11-01T10:00") == DAY1
    assert parse_time("2026-11-01") == DAY1 - 10 * HOUR


def test_html_is_one_self_contained_file_with_charts(
    store: tuple[str, dict[str, int]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "report.html"
    code, out, _ = run(capsys, "--db", store[0].removeprefix("sqlite:///"), "--html", str(target))
    assert (code, out) == (0, "")
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>")
    assert page.count("<svg") == 5
    for label in (
        "startup time histogram",
        "rebuffer ratio over time",
        "take rate heat map",
        "watch time per title",
        "browse funnel",
    ):
        assert f'aria-label="{label}"' in page
    assert "no data" not in page  # every chart has something to draw
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing fetched
    assert "@import" not in page
    assert "url(" not in page
    assert "row 0, rank 1: 50.0 %" in page  # the heat map cell's tooltip


def test_store_values_are_escaped_in_html(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A title id is data from clients: it must never become markup."""
    from telemetry.report.charts import bar_chart

    svg = bar_chart(["<script>x</script>"], [1000], label="t", value_text=str)
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        (lambda p: None, "no store at"),
        (lambda p: p.write_bytes(b"this is not a database" * 100), "not a readable SQLite"),
        (
            lambda p: sqlite3.connect(p).execute("CREATE TABLE other (x)").connection.commit(),
            "is not a collector store",
        ),
    ],
    ids=["missing", "corrupt", "foreign"],
)
def test_bad_store_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], prepare: Any, message: str
) -> None:
    path = tmp_path / "events.db"
    prepare(path)
    code, out, err = run(capsys, "--db", str(path))
    assert code == 2
    assert out == ""
    assert err.startswith("reelscope-report: ")
    assert message in err
    assert "Traceback" not in err
    assert err.count("\n") == 1


def test_console_script_runs(store: tuple[str, dict[str, int]], tmp_path: Path) -> None:
    """The installed entry point, as a user runs it; and a bad store gives no traceback."""
    script = Path(sys.executable).parent / "reelscope-report"
    done = subprocess.run([str(script), "--store", store[0]], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "QUALITY OF EXPERIENCE" in done.stdout
    bad = subprocess.run(
        [str(script), "--db", str(tmp_path / "nothing.db")], capture_output=True, text=True
    )
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    assert "no store at" in bad.stderr
