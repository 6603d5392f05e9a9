"""Catalog documents: the bundled samples, bad entries reported and skipped, URLs, merging,
and local folders scanned incrementally with a fake probe."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import requests

from player.catalog import (
    CatalogError,
    load_catalog_file,
    load_catalog_url,
    load_sample_catalog,
    merge_catalogs,
    parse_catalog,
)
from player.library_scan import FolderScanner, ProbeError

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def test_sample_catalog_is_valid_and_points_at_real_files() -> None:
    catalog = load_sample_catalog()
    assert catalog.problems == ()
    assert len(catalog.items) == 10
    for item in catalog.items:
        assert Path(item.media).is_file()
        assert item.poster is not None
        assert Path(item.poster).is_file()
        assert item.duration_ms > 0
        assert item.genres
        assert isinstance(item.added, dt.date)


def test_bad_entries_are_reported_and_skipped(tmp_path: Path) -> None:
    good = {"id": "a", "title": "A", "media": "a.mp4", "genres": ["X"], "duration_ms": 1000}
    document = {
        "schema": 1,
        "items": [
            good,
            {"id": "b", "media": "b.mp4"},
            "not an object",
            {"id": "c", "title": "C", "media": "c.mp4", "duration_ms": -5},
            {"id": "d", "title": "D", "media": "d.mp4", "genres": "Drama"},
            {"id": "e", "title": "E", "media": "e.mp4", "added": "yesterday"},
            {**good, "title": "A again"},
            {"id": "f", "title": "F", "media": "https://cdn.example/f.mp4", "poster": "f.jpg"},
        ],
    }
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(document))
    catalog = load_catalog_file(path)
    assert [item.id for item in catalog.items] == ["a", "f"]
    assert catalog.items[0].media == str(tmp_path / "a.mp4")
    assert catalog.items[1].media == "https://cdn.example/f.mp4"
    assert catalog.items[1].poster == str(tmp_path / "f.jpg")
    assert [(p.index, p.message) for p in catalog.problems] == [
        (1, "'title' must be a non-empty string"),
        (2, "entry is not an object"),
        (3, "'duration_ms' must be a non-negative number"),
        (4, "'genres' must be a list of strings"),
        (5, "'added' is not an ISO date: 'yesterday'"),
        (6, "duplicate id 'a'"),
    ]
    assert str(catalog.problems[0]).startswith(f"{path} entry 1: ")


@pytest.mark.parametrize(
    "text", ["[1, 2]", "{not json", '{"items": 3}', '{"schema": 9, "items": []}']
)
def test_unreadable_documents_raise(tmp_path: Path, text: str) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(text)
    with pytest.raises(CatalogError):
        load_catalog_file(path)


class _Response:
    def __init__(self, document: object, status: int = 200) -> None:
        self._document = document
        self._status = status

    def raise_for_status(self) -> None:
        if self._status >= 400:
            raise requests.HTTPError(f"{self._status}")

    def json(self) -> object:
        return self._document


def test_url_catalog_resolves_relative_media_against_the_url() -> None:
    document = {"items": [{"id": "a", "title": "A", "media": "media/a.mp4", "poster": "a.jpg"}]}

    def get(url: str, **_: Any) -> _Response:
        assert url == "https://example.org/feeds/catalog.json"
        return _Response(document)

    catalog = load_catalog_url("https://example.org/feeds/catalog.json", get=get)
    assert catalog.items[0].media == "https://example.org/feeds/media/a.mp4"
    assert catalog.items[0].poster == "https://example.org/feeds/a.jpg"
    with pytest.raises(CatalogError):
        load_catalog_url("https://example.org/x", get=lambda *_a, **_k: _Response({}, 404))


def test_merge_keeps_the_first_of_each_id() -> None:
    first = parse_catalog(
        {"items": [{"id": "a", "title": "A", "media": "/a"}]}, base="/", source="1"
    )
    second = parse_catalog(
        {
            "items": [
                {"id": "a", "title": "A2", "media": "/a2"},
                {"id": "b", "title": "B", "media": "/b"},
            ]
        },
        base="/",
        source="2",
    )
    merged = merge_catalogs([first, second])
    assert [(i.id, i.title) for i in merged.items] == [("a", "A"), ("b", "B")]
    assert len(merged.problems) == 1


def test_folder_scan_probes_only_new_and_changed_files(tmp_path: Path) -> None:
    library = tmp_path / "videos"
    (library / "Nature").mkdir(parents=True)
    (library / "my_holiday-2024.mp4").write_bytes(b"1")
    (library / "Nature" / "birds.mkv").write_bytes(b"22")
    (library / "notes.txt").write_text("not a video")
    (library / "broken.mp4").write_bytes(b"")
    probed: list[str] = []

    def probe(path: Path, poster: Path) -> tuple[int, Path | None]:
        probed.append(path.name)
        if path.stat().st_size == 0:
            raise ProbeError("no video track")
        poster.write_bytes(b"png")
        return path.stat().st_size * 1000, poster

    scanner = FolderScanner(library, probe=probe, cache_dir=tmp_path / "cache")
    catalog = scanner.scan()
    assert sorted(probed) == ["birds.mkv", "broken.mp4", "my_holiday-2024.mp4"]
    assert [(i.title, i.genres, i.duration_ms) for i in catalog.items] == [
        ("Birds", ("Nature",), 2000),
        ("My holiday 2024", (), 1000),
    ]
    assert all(i.poster and Path(i.poster).is_file() for i in catalog.items)
    assert len(catalog.problems) == 1
    assert "broken.mp4: no video track" in catalog.problems[0].message

    probed.clear()
    (library / "Nature" / "birds.mkv").write_bytes(b"333")
    os.utime(library / "Nature" / "birds.mkv", ns=(1, 10**18))
    (library / "new.webm").write_bytes(b"4444")
    old_poster = catalog.items[1].poster
    (library / "my_holiday-2024.mp4").unlink()
    rescanned = FolderScanner(library, probe=probe, cache_dir=tmp_path / "cache").scan()
    assert sorted(probed) == ["birds.mkv", "new.webm"]
    assert [(i.title, i.duration_ms) for i in rescanned.items] == [("Birds", 3000), ("New", 4000)]
    assert old_poster is not None
    assert not Path(old_poster).exists()
    assert len(rescanned.problems) == 1


def test_libvlc_probe_reads_duration_and_takes_a_poster(tmp_path: Path) -> None:
    from player.vlc_engine import probe_media

    library = tmp_path / "videos"
    library.mkdir()
    shutil.copy(SAMPLES / "colour-bars.mp4", library / "colour-bars.mp4")
    (library / "not-a-video.mp4").write_bytes(b"garbage" * 200)
    catalog = FolderScanner(library, probe=probe_media, cache_dir=tmp_path / "cache").scan()
    [item] = catalog.items
    assert 7_500 <= item.duration_ms <= 8_500
    assert item.poster is not None
    assert Path(item.poster).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    [problem] = catalog.problems
    assert "not-a-video.mp4" in problem.message
