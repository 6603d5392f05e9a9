"""`telemetry.client.feed_client` against the real collector on 127.0.0.1 and on hand-made answers:
the server's feed mapped to the app's model (titles the app lacks left out), the size cap, and
a clear reason for every answer it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from telemetry.client.feed_client import (
    FeedRequest,
    FeedUnavailableError,
    fetch_server_feed,
    parse_server_feed,
)
from tests.collector.harness import KEY, thread_collector


def _answer(items: list[dict[str, object]]) -> dict[str, object]:
    row = {"row_id": "r", "row_index": 0, "track_id": "rules/1/r", "title": "R", "items": items}
    return {"request_id": "q", "location": "home", "variant": "v", "explored": True, "rows": [row]}


def test_the_collectors_feed_becomes_a_server_feed(tmp_path: Path) -> None:
    with thread_collector(tmp_path) as collector:
        request = FeedRequest(collector.url, KEY, "device-1", timeout_s=20.0)
        known = {"ocean-drift", "game-of-life"}
        feed = fetch_server_feed(request, known)
        with pytest.raises(FeedUnavailableError, match="over 100 bytes"):
            fetch_server_feed(FeedRequest(collector.url, KEY, "d", max_bytes=100), known)
        with pytest.raises(FeedUnavailableError, match="the server answered 403"):
            fetch_server_feed(
                FeedRequest(collector.url, "revoked-write-key-0123456789", "d"), known
            )
    assert feed.source == "server"
    assert feed.variant == "control"
    assert {item.video_id for row in feed.rows for item in row.items} <= known
    assert all(row.items for row in feed.rows)
    served = feed.served_properties()
    assert served["source"] == "server"
    assert served["variant"] == "control"


def test_unknown_titles_are_left_out_keeping_the_servers_ranks() -> None:
    items = [
        {"video_id": "gone", "rank": 0, "propensity": 0.5},
        {"video_id": "kept", "rank": 1, "propensity": 0.25},
    ]
    feed = parse_server_feed(_answer(items), {"kept"})
    [row] = feed.rows
    assert [(i.video_id, i.rank, i.propensity) for i in row.items] == [("kept", 1, 0.25)]
    assert feed.explored is True
    with pytest.raises(FeedUnavailableError, match="no title this app knows"):
        parse_server_feed(_answer(items), set())


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ([], "the answer is not an object"),
        ({"rows": []}, "no title this app knows"),
        ({**_answer([]), "explored": "yes"}, "explored flag is not a boolean"),
        ({**_answer([]), "variant": 3}, "variant is not a short string"),
        (_answer([{"video_id": "a", "rank": -1, "propensity": 1}]), "item 0 has no rank"),
        (_answer([{"video_id": "a", "rank": 0, "propensity": 0}]), "no propensity in"),
        (_answer([{"video_id": "a", "rank": 0, "propensity": True}]), "no propensity in"),
        (_answer([{"video_id": 5, "rank": 0, "propensity": 1}]), "item 0 has no video_id"),
        (
            {**_answer([{"video_id": "a", "rank": 0, "propensity": 1}]), "request_id": ""},
            "no request_id",
        ),
    ],
)
def test_invalid_answers_say_what_is_wrong(answer: object, why: str) -> None:
    with pytest.raises(FeedUnavailableError, match=why):
        parse_server_feed(answer, {"a"})
