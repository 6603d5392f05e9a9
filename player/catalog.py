"""The catalog: which titles exist, where their media and posters are, and how to read a catalog
document (the bundled samples, a JSON file, or a URL). The format is documented in
`docs/catalog.md`.

A bad entry is reported as a `CatalogProblem` and skipped; only an unreadable *document* (not
JSON, wrong top-level shape, unreachable URL) raises `CatalogError`.

Threads: pure parsing, any thread. `load_catalog_url` blocks on the network: call it off the
GUI thread.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from player.paths import resources_dir
from player.sources import is_url

SCHEMA = 1


class CatalogError(Exception):
    """The catalog document as a whole cannot be read."""


@dataclass(frozen=True, slots=True)
class CatalogItem:
    """One playable title. `media` and `poster` are absolute paths or URLs."""

    id: str
    title: str
    media: str
    description: str = ""
    genres: tuple[str, ...] = ()
    duration_ms: int = 0
    poster: str | None = None
    added: dt.date | None = None


@dataclass(frozen=True, slots=True)
class CatalogProblem:
    """An entry that was skipped: where it was (`source`, `index`), and why."""

    source: str
    index: int
    message: str

    def __str__(self) -> str:
        # Index -1: the whole document could not be read (the message names it already).
        return (
            self.message if self.index < 0 else f"{self.source} entry {self.index}: {self.message}"
        )


@dataclass(frozen=True, slots=True)
class Catalog:
    """Titles in catalog order, plus the entries that were skipped."""

    items: tuple[CatalogItem, ...]
    problems: tuple[CatalogProblem, ...] = ()
    title: str = ""

    def by_id(self) -> dict[str, CatalogItem]:
        return {item.id: item for item in self.items}


def parse_catalog(document: object, *, base: str, source: str) -> Catalog:
    """Reads a decoded catalog document; relative `media`/`poster` resolve against `base`
    (a directory path or a URL). `source` names the document in problem reports."""
    if not isinstance(document, Mapping):
        raise CatalogError(f"{source}: expected a JSON object with an 'items' list")
    entries = document.get("items")
    if not isinstance(entries, list):
        raise CatalogError(f"{source}: expected an 'items' list")
    schema = document.get("schema", SCHEMA)
    if schema != SCHEMA:
        raise CatalogError(f"{source}: unsupported schema {schema!r} (this build reads {SCHEMA})")
    items: list[CatalogItem] = []
    problems: list[CatalogProblem] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        try:
            item = _parse_item(entry, base)
        except ValueError as exc:
            problems.append(CatalogProblem(source, index, str(exc)))
            continue
        if item.id in seen:
            problems.append(CatalogProblem(source, index, f"duplicate id {item.id!r}"))
            continue
        seen.add(item.id)
        items.append(item)
    title = document.get("title")
    return Catalog(tuple(items), tuple(problems), title if isinstance(title, str) else "")


def load_catalog_file(path: Path) -> Catalog:
    """Reads a catalog JSON file; relative paths inside resolve against its folder."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CatalogError(f"{path}: {exc}") from exc
    return parse_catalog(document, base=str(path.resolve().parent), source=str(path))


def load_sample_catalog() -> Catalog:
    """The catalog bundled with Reelscope (`resources/catalog.json`)."""
    return load_catalog_file(resources_dir() / "catalog.json")


def load_catalog_url(
    url: str, *, timeout_s: float = 10.0, get: Callable[..., Any] | None = None
) -> Catalog:
    """Fetches a catalog over HTTP(S); relative paths inside resolve against the URL."""
    import requests  # ~100 ms to import: only when a catalog URL is actually used

    try:
        response = (get or requests.get)(url, timeout=timeout_s)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise CatalogError(f"{url}: {exc}") from exc
    return parse_catalog(document, base=url, source=url)


def merge_catalogs(catalogs: Iterable[Catalog]) -> Catalog:
    """One catalog from several: the first occurrence of an id wins, later ones are reported."""
    items: list[CatalogItem] = []
    problems: list[CatalogProblem] = []
    seen: set[str] = set()
    for catalog in catalogs:
        problems.extend(catalog.problems)
        for index, item in enumerate(catalog.items):
            if item.id in seen:
                problems.append(
                    CatalogProblem(catalog.title or "catalog", index, f"duplicate id {item.id!r}")
                )
                continue
            seen.add(item.id)
            items.append(item)
    return Catalog(tuple(items), tuple(problems), "")


def _resolve(reference: str, base: str) -> str:
    if is_url(reference) or Path(reference).is_absolute():
        return reference
    if is_url(base):
        return urljoin(base if base.endswith("/") else base.rsplit("/", 1)[0] + "/", reference)
    return str(Path(base) / reference)


def _text(entry: Mapping[str, Any], key: str, *, required: bool) -> str:
    value = entry.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValueError(f"'{key}' must be a non-empty string" if required else f"bad '{key}'")
    return value.strip()


def _genres(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ValueError("'genres' must be a list of strings")
    if not all(isinstance(g, str) and g.strip() for g in value):
        raise ValueError("'genres' must be a list of non-empty strings")
    return tuple(dict.fromkeys(g.strip() for g in value))


def _duration(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError("'duration_ms' must be a non-negative number")
    return int(value)


def _added(value: object) -> dt.date | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("'added' must be an ISO date string")
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError as exc:
        raise ValueError(f"'added' is not an ISO date: {value!r}") from exc


def _parse_item(entry: object, base: str) -> CatalogItem:
    if not isinstance(entry, Mapping):
        raise ValueError("entry is not an object")
    poster = _text(entry, "poster", required=False)
    return CatalogItem(
        id=_text(entry, "id", required=True),
        title=_text(entry, "title", required=True),
        media=_resolve(_text(entry, "media", required=True), base),
        description=_text(entry, "description", required=False),
        genres=_genres(entry.get("genres")),
        duration_ms=_duration(entry.get("duration_ms")),
        poster=_resolve(poster, base) if poster else None,
        added=_added(entry.get("added")),
    )
