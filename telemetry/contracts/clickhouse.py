"""The ClickHouse store the loader writes and the report reads: one clickhouse-connect client.
A contract like the SQLite store's (`stored.py`): every product that touches the warehouse
reaches it through this connection; the tables are `telemetry/warehouse/clickhouse.sql`.

`Warehouse(url)` takes `clickhouse://user:password@host:8123/database` (a server over HTTP;
`clickhouses://` or `?secure=true` for TLS) or `chdb:///path`, the same engine embedded in this
process (clickhouse-connect's own chdb backend), which the tests and single-machine trials use.
Both go through the same client API with the same DDL and the same SQL text:
inserts are JSONEachRow, reads JSONCompactEachRow, parameters ClickHouse's `{name:Type}`.

One warehouse per thread. chdb allows one open data directory per process, and it returns a
query's whole result at once rather than streaming it: readers that can be large query in
shards.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
import orjson

SCHEMES = frozenset({"clickhouse", "clickhouses", "chdb"})


def is_warehouse_url(url: str) -> bool:
    return urlsplit(url).scheme in SCHEMES


class Warehouse:
    def __init__(self, url: str) -> None:
        scheme = urlsplit(url).scheme
        if scheme not in SCHEMES:
            raise ValueError(f"not a clickhouse:// or chdb:/// URL: {url!r}")
        if scheme == "clickhouses":
            url = "https" + url.removeprefix("clickhouses")
        self._client = clickhouse_connect.get_client(dsn=url)

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
        """Run a statement that returns nothing (DDL, DELETE)."""
        self._client.command(sql, parameters=dict(parameters or {}))

    def insert(self, table: str, lines: list[bytes]) -> None:
        """Insert JSONEachRow lines; fields that are not columns of the table are ignored."""
        if lines:
            self._client.raw_insert(
                table,
                insert_block=b"\n".join(lines),
                settings={"input_format_skip_unknown_fields": 1},
                fmt="JSONEachRow",
            )

    def rows(self, sql: str, parameters: Mapping[str, Any] | None = None) -> Iterator[list[Any]]:
        """A SELECT's rows, decoded from JSONCompactEachRow as they arrive."""
        stream = self._client.raw_stream(
            sql, parameters=dict(parameters or {}), fmt="JSONCompactEachRow"
        )
        return decode_lines(stream)

    def close(self) -> None:
        self._client.close()


def decode_lines(chunks: Iterable[bytes]) -> Iterator[list[Any]]:
    """Rows of a JSONCompactEachRow stream whose chunks may split a line anywhere."""
    tail = b""
    for chunk in chunks:
        lines = (tail + chunk).split(b"\n")
        tail = lines.pop()
        for line in lines:
            if line:
                yield orjson.loads(line)
    if tail.strip():
        yield orjson.loads(tail)
