"""The courier: the thread that carries the sender's HTTP requests one at a time, and what
the collector answered (`Answer`: status, JSON body, Retry-After; its per-event `rejected`
entries).

Threads: `Courier.post` and `close` from the sender thread; the courier's own daemon thread
performs the requests and owns the HTTP session. `answer_of` and `rejected_entries` are pure.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    import requests


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: Mapping[str, object]
    retry_after: str | None

    def reason(self) -> tuple[str, str]:
        code = self.body.get("code")
        message = self.body.get("message")
        return (
            code if isinstance(code, str) else f"http_{self.status}",
            message if isinstance(message, str) else f"HTTP {self.status}",
        )


class Courier:
    """The thread that performs the sender's HTTP requests, one at a time, so the sender
    thread can work on the outbox while a request is in flight. A daemon thread: a request
    stuck until its read timeout must not hold up the app's exit (the rows stay on disk)."""

    def __init__(self, session: requests.Session) -> None:
        self._session = session
        self._jobs: queue.SimpleQueue[
            tuple[Future[requests.Response], Callable[[], requests.Response]] | None
        ] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._run, name="reelscope-telemetry-http", daemon=True
        )
        self._thread.start()

    def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: tuple[float, float]
    ) -> Future[requests.Response]:
        future: Future[requests.Response] = Future()

        def call() -> requests.Response:
            return self._session.post(url, data=body, headers=headers, timeout=timeout)

        self._jobs.put((future, call))
        return future

    def close(self) -> None:
        """End the thread after the request in flight, if any, and close the session."""
        self._jobs.put(None)

    def _run(self) -> None:
        try:
            while (job := self._jobs.get()) is not None:
                future, call = job
                try:
                    future.set_result(call())
                except BaseException as exc:  # handed to the sender thread
                    future.set_exception(exc)
        finally:
            self._session.close()


def answer_of(response: requests.Response) -> Answer:
    return Answer(
        response.status_code,
        _json_object(response.content),
        response.headers.get("Retry-After"),
    )


def _json_object(content: bytes) -> Mapping[str, object]:
    try:
        value = orjson.loads(content) if content else {}
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def rejected_entries(value: object) -> list[tuple[int, str, str]]:
    """The (index, code, message) of each well-formed entry of an answer's `rejected` list."""
    if not isinstance(value, list):
        return []
    rejected = []
    for entry in value:
        if isinstance(entry, dict) and isinstance(entry.get("index"), int):
            rejected.append(
                (
                    entry["index"],
                    str(entry.get("code", "rejected")),
                    str(entry.get("message", "")),
                )
            )
    return rejected
