"""The app's log file (`ui.log_file`): records reach a real file in the log dir, it rotates
at its size bound, a log dir that cannot be made leaves stderr logging working, and Settings
shows where the file is."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from player.settings import Settings, SettingsStore
from ui.log_file import BACKUP_COUNT, LOG_FILE_NAME, configure_logging, current_log_file
from ui.settings_dialog import SettingsDialog


@pytest.fixture
def root() -> Iterator[logging.Logger]:
    """A logger standing in for the root one, so pytest's own handlers stay untouched."""
    logger = logging.getLogger(f"test-log-file-{id(object())}")
    logger.propagate = False
    yield logger
    for handler in list(logger.handlers):
        handler.close()
        logger.removeHandler(handler)


def test_records_go_to_a_file_in_the_log_dir(tmp_path: Path, root: logging.Logger) -> None:
    path = configure_logging(tmp_path / "log", "WARNING", root=root)
    assert path == tmp_path / "log" / LOG_FILE_NAME
    root.info("first picture after %d ms", 412)
    root.debug("not kept")
    for handler in root.handlers:
        handler.flush()
    text = path.read_text()
    assert "INFO" in text
    assert "first picture after 412 ms" in text
    assert "not kept" not in text
    assert current_log_file(root) == path


def test_the_file_rotates_within_its_bound(tmp_path: Path, root: logging.Logger) -> None:
    path = configure_logging(tmp_path, root=root, max_bytes=2_000)
    assert path is not None
    for n in range(200):
        root.warning("record %04d %s", n, "x" * 50)
    files = sorted(tmp_path.glob(f"{LOG_FILE_NAME}*"))
    assert len(files) == BACKUP_COUNT + 1
    assert all(file.stat().st_size <= 2_000 for file in files)
    assert "record 0199" in path.read_text()


def test_an_unusable_log_dir_costs_the_file_not_the_start(
    tmp_path: Path, root: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "log"
    blocker.write_text("a file where the log dir should be")
    assert configure_logging(blocker, root=root) is None
    assert current_log_file(root) is None
    root.error("still heard")
    err = capsys.readouterr().err
    assert "No log file" in err
    assert "still heard" in err


@pytest.fixture
def real_root() -> Iterator[logging.Logger]:
    """The root logger, put back as it was: Settings reads the handlers of the real one."""
    logger = logging.getLogger()
    handlers, level = list(logger.handlers), logger.level
    yield logger
    for handler in logger.handlers:
        if handler not in handlers:
            handler.close()
    logger.handlers[:] = handlers
    logger.setLevel(level)


def test_settings_shows_where_the_log_is(
    qtbot: QtBot, tmp_path: Path, real_root: logging.Logger
) -> None:
    path = configure_logging(tmp_path / "log")
    dialog = SettingsDialog(SettingsStore(tmp_path / "config", environ={}), Settings(), True)
    qtbot.addWidget(dialog)
    assert path is not None
    assert dialog.log_file.text() == str(path)
