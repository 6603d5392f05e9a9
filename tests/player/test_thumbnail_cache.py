"""The preview-picture cache on real files: buckets, file identity, the memory LRU and the
disk bound (least recently used first)."""

from __future__ import annotations

import os
from pathlib import Path

from player.thumbnail_cache import (
    ThumbnailCache,
    ThumbnailKey,
    file_identity,
    preview_bucket_ms,
    preview_step_ms,
)


def test_buckets_give_about_a_hundred_pictures_a_title_from_one_to_ten_seconds_apart() -> None:
    assert preview_step_ms(15_000) == 1_000
    assert preview_step_ms(149_113) == 2_000
    assert preview_step_ms(150_000) == 2_000
    assert preview_step_ms(2 * 3600_000) == 10_000
    assert preview_bucket_ms(40_700, 150_000) == preview_bucket_ms(41_900, 150_000) == 40_000
    assert preview_bucket_ms(42_000, 150_000) == 42_000
    # Never at the very end, where the thumbnailer has nothing left to play to.
    assert preview_bucket_ms(150_000, 150_000) == 148_000
    assert preview_bucket_ms(-5, 150_000) == 0
    assert preview_bucket_ms(500, 0) == 0


def test_a_changed_file_has_a_new_identity(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"x" * 10)
    first = file_identity(clip)
    assert file_identity(clip) == first
    os.utime(clip, ns=(1, 1))
    assert file_identity(clip) != first
    assert str(tmp_path) not in first


def test_memory_keeps_the_latest_few_and_disk_hits_come_back_to_memory(tmp_path: Path) -> None:
    cache = ThumbnailCache(tmp_path / "thumbs", memory_items=2)
    keys = [ThumbnailKey("id", ms) for ms in (0, 2000, 4000)]
    for key in keys:
        cache.store(key, f"png {key.bucket_ms}".encode())
    assert cache.remembered(keys[0]) is None  # the oldest left memory
    assert cache.remembered(keys[2]) == b"png 4000"
    assert cache.load(keys[0]) == b"png 0"  # still on disk
    assert cache.remembered(keys[0]) == b"png 0"
    assert cache.load(ThumbnailKey("id", 6000)) is None
    assert (cache.memory_hits, cache.disk_hits, cache.misses) == (2, 1, 1)


def test_the_folder_stays_within_its_bytes_dropping_the_least_recently_used(
    tmp_path: Path,
) -> None:
    cache = ThumbnailCache(tmp_path / "thumbs", memory_items=1, disk_bytes=3500)
    keys = [ThumbnailKey("id", ms) for ms in range(0, 10_000, 1000)]
    for key in keys:
        cache.store(key, b"p" * 1000)
        assert cache.disk_usage() <= 3500
        assert (cache.directory / key.file_name).exists()  # never the one just stored
    assert len(list(cache.directory.glob("*.png"))) == 3
    assert not list(cache.directory.glob("*.part"))
    # Pictures with distinct ages: the one read survives, the two not read go first.
    cache = ThumbnailCache(tmp_path / "again", memory_items=1, disk_bytes=3500)
    for age, key in enumerate(keys[:3]):
        cache.store(key, b"p" * 1000)
        os.utime(cache.directory / key.file_name, ns=(age, age))
    assert cache.load(keys[0]) is not None  # read: now the most recently used
    cache.store(keys[3], b"p" * 1000)
    cache.store(keys[4], b"p" * 1000)
    assert {p.name for p in cache.directory.glob("*.png")} == {
        keys[0].file_name,
        keys[3].file_name,
        keys[4].file_name,
    }


def test_a_damaged_picture_is_forgotten_from_memory_and_disk(tmp_path: Path) -> None:
    cache = ThumbnailCache(tmp_path / "thumbs")
    key = ThumbnailKey("id", 0)
    cache.store(key, b"not a png")
    cache.forget(key)
    assert cache.load(key) is None
    assert not list(cache.directory.iterdir())


def test_an_unwritable_folder_still_serves_from_memory(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    cache = ThumbnailCache(blocked / "thumbs")
    key = ThumbnailKey("id", 0)
    cache.store(key, b"png")
    assert cache.load(key) == b"png"
