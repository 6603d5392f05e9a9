"""The home feed: which rows the home screen shows and what is in them, built from the catalog
and the watch history. Every feed has a `request_id`, every row a `row_id` (stable across feeds,
so the UI can restore a row's scroll position) and a `track_id` (how the row was made), every
item its 0-based `rank` within its row. `Feed.served_properties()` is the `feed_served` event.
A feed is built here (`source` "local") or received from the collector's GET /v1/feed
(`source` "server", with the server's request id, variant, exploration flag and every item's
propensity; `telemetry.client.feed_client` makes those).

Tracks: `continue_watching`, `because_you_watched` (one row per recent title, row id
`because_you_watched:<video_id>`), `recently_added`, `most_watched`, `genre:<name>`.

Deterministic: the same catalog, history and seed give the same feed, request id included.

Threads: pure, any thread.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from player.catalog import Catalog, CatalogItem
from player.history import HistoryEntry

HOME = "home"
CONTINUE_WATCHING = "continue_watching"
BECAUSE_YOU_WATCHED = "because_you_watched"
RECENTLY_ADDED = "recently_added"
MOST_WATCHED = "most_watched"
GENRE_PREFIX = "genre:"


@dataclass(frozen=True, slots=True)
class FeedItem:
    video_id: str
    rank: int
    # The probability with which the server's policy put this item in this slot (server feeds).
    propensity: float | None = None


@dataclass(frozen=True, slots=True)
class FeedRow:
    row_id: str
    row_index: int
    track_id: str
    title: str
    items: tuple[FeedItem, ...]


@dataclass(frozen=True, slots=True)
class Feed:
    request_id: str
    location: str
    rows: tuple[FeedRow, ...]
    source: str = "local"
    variant: str | None = None
    explored: bool = False

    def served_properties(self) -> dict[str, object]:
        """The `feed_served` event's properties: exactly what was laid out."""
        served: dict[str, object] = {
            "request_id": self.request_id,
            "location": self.location,
            "source": self.source,
            "rows": [
                {
                    "row_id": row.row_id,
                    "row_index": row.row_index,
                    "track_id": row.track_id,
                    "title": row.title,
                    "items": [_served_item(i) for i in row.items],
                }
                for row in self.rows
            ],
        }
        if self.source != "local":
            served["variant"] = self.variant
            served["explored"] = self.explored
        return served


def _served_item(item: FeedItem) -> dict[str, object]:
    served: dict[str, object] = {"video_id": item.video_id, "rank": item.rank}
    if item.propensity is not None:
        served["propensity"] = item.propensity
    return served


@dataclass(frozen=True, slots=True)
class FeedOptions:
    max_items_per_row: int = 40
    because_you_watched_rows: int = 2
    max_genre_rows: int = 40
    min_genre_size: int = 1


def build_feed(
    catalog: Catalog,
    history: Sequence[HistoryEntry],
    *,
    seed: int | None = None,
    location: str = HOME,
    options: FeedOptions = FeedOptions(),
) -> Feed:
    """Lays out the home feed. `history` is most recently watched first (`WatchHistory.entries`).
    Empty rows are left out."""
    rng = random.Random(seed)
    request_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    by_id = catalog.by_id()
    watched = [entry for entry in history if entry.video_id in by_id]
    limit = options.max_items_per_row
    candidates: list[tuple[str, str, str, list[str]]] = []

    resumable = [e.video_id for e in watched if e.resumable]
    candidates.append((CONTINUE_WATCHING, CONTINUE_WATCHING, "Continue Watching", resumable))

    for entry in watched[: options.because_you_watched_rows]:
        seed_item = by_id[entry.video_id]
        similar = _similar(seed_item, catalog.items, rng)
        candidates.append(
            (
                f"{BECAUSE_YOU_WATCHED}:{seed_item.id}",
                BECAUSE_YOU_WATCHED,
                f"Because You Watched {seed_item.title}",
                similar,
            )
        )

    recent = sorted(
        (item for item in catalog.items if item.added is not None),
        key=lambda item: (item.added, item.id),
        reverse=True,
    )
    candidates.append((RECENTLY_ADDED, RECENTLY_ADDED, "Recently Added", [i.id for i in recent]))

    played = sorted(
        (e for e in watched if e.play_count > 0), key=lambda e: (-e.play_count, e.video_id)
    )
    candidates.append((MOST_WATCHED, MOST_WATCHED, "Most Watched", [e.video_id for e in played]))

    counts = Counter(genre for item in catalog.items for genre in item.genres)
    genres = sorted(
        (g for g, n in counts.items() if n >= options.min_genre_size), key=lambda g: (-counts[g], g)
    )
    for genre in genres[: options.max_genre_rows]:
        members = [item.id for item in catalog.items if genre in item.genres]
        rng.shuffle(members)
        candidates.append((f"{GENRE_PREFIX}{genre}", f"{GENRE_PREFIX}{genre}", genre, members))

    rows: list[FeedRow] = []
    for row_id, track_id, title, video_ids in candidates:
        if not video_ids:
            continue
        items = tuple(FeedItem(video_id, rank) for rank, video_id in enumerate(video_ids[:limit]))
        rows.append(FeedRow(row_id, len(rows), track_id, title, items))
    return Feed(request_id, location, tuple(rows))


def _similar(seed_item: CatalogItem, items: Sequence[CatalogItem], rng: random.Random) -> list[str]:
    """Titles sharing genres with `seed_item`, most overlap (Jaccard) first; ties shuffled."""
    genres = set(seed_item.genres)
    scored: list[tuple[float, float, str]] = []
    for item in items:
        if item.id == seed_item.id:
            continue
        shared = genres & set(item.genres)
        if shared:
            score = len(shared) / len(genres | set(item.genres))
            scored.append((-score, rng.random(), item.id))
    return [video_id for _, _, video_id in sorted(scored)]
