"""Settings persist across loads, are validated with clear messages, keep the write key in a
user-only file, and take the collector URL and key from the environment until saved."""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path

import pytest

from player.settings import (
    DEFAULT_NETWORK_CACHING_MS,
    InvalidSettingsError,
    Settings,
    SettingsStore,
    validate,
)


def _valid(tmp_path: Path) -> Settings:
    return Settings(
        collector_url="https://collector.example:8443/",
        write_key="k3y-0123",
        library_folders=(str(tmp_path),),
        network_caching_ms=2500,
        hardware_decoding=False,
    )


def test_settings_persist_and_the_key_file_is_user_only(tmp_path: Path) -> None:
    directory = tmp_path / "config"
    store = SettingsStore(directory, environ={})
    store.save(_valid(tmp_path))
    loaded = SettingsStore(directory, environ={}).load()
    assert loaded == _valid(tmp_path)
    assert stat.S_IMODE(store.key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert "k3y-0123" not in store.settings_path.read_text()
    assert "k3y-0123" not in repr(loaded)


def test_the_environment_supplies_url_and_key_until_saved(tmp_path: Path) -> None:
    environ = {"REELSCOPE_COLLECTOR_URL": "http://127.0.0.1:8765", "REELSCOPE_WRITE_KEY": "dev"}
    store = SettingsStore(tmp_path / "config", environ=environ)
    first = store.load()
    assert (first.collector_url, first.write_key) == ("http://127.0.0.1:8765", "dev")
    assert first.network_caching_ms == DEFAULT_NETWORK_CACHING_MS
    store.save(_valid(tmp_path))
    assert store.load().collector_url == "https://collector.example:8443/"
    assert store.load().write_key == "k3y-0123"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"collector_url": ""}, "collector_url", "Enter the collector's address"),
        ({"collector_url": "ftp://host"}, "collector_url", "http:// or https://"),
        ({"collector_url": "https://"}, "collector_url", "name a host"),
        ({"write_key": ""}, "write_key", "Enter the write key"),
        ({"write_key": "two words"}, "write_key", "cannot contain spaces"),
        ({"library_folders": ("/no/such/folder",)}, "library_folders", "/no/such/folder"),
        ({"network_caching_ms": -1}, "network_caching_ms", "between 0 and 60000"),
        ({"network_caching_ms": 60_001}, "network_caching_ms", "between 0 and 60000"),
    ],
)
def test_invalid_settings_are_refused_with_a_clear_message(
    tmp_path: Path, change: dict[str, object], field: str, words: str
) -> None:
    settings = replace(_valid(tmp_path), **change)  # type: ignore[arg-type]
    problems = validate(settings)
    assert list(problems) == [field]
    assert words in problems[field]
    store = SettingsStore(tmp_path / "config", environ={})
    with pytest.raises(InvalidSettingsError):
        store.save(settings)
    assert not store.settings_path.exists()
    assert not store.key_path.exists()


def test_boundaries_are_valid(tmp_path: Path) -> None:
    for caching in (0, 60_000):
        assert validate(replace(_valid(tmp_path), network_caching_ms=caching)) == {}


def test_a_damaged_file_reads_as_defaults(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path, environ={})
    store.settings_path.write_text('{"network_caching_ms": "fast", "library_folders": 3')
    assert store.load() == Settings()
    store.settings_path.write_text('{"network_caching_ms": 999999, "hardware_decoding": "yes"}')
    assert store.load() == Settings()


def test_preferred_languages_persist(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "config", environ={})
    assert (store.load().audio_language, store.load().subtitle_language) == ("", "")
    store.save(replace(_valid(tmp_path), audio_language="French", subtitle_language="off"))
    loaded = store.load()
    assert (loaded.audio_language, loaded.subtitle_language) == ("French", "off")
