"""The model file `reelscope-train` writes and `GET /v1/feed` serves from: ALS factors for the
devices and titles it has seen, a position-corrected popularity per title (the cold-start path,
with catalog genres for titles the model has not seen), and the examination curve the training
was corrected with.

One `.npz` file (numpy arrays plus a JSON header), written atomically: a temporary file in the
same directory, fsynced, then `os.replace`, so a reader sees the old model or the new one, never
half of one. Anything wrong with the file on load is a `ModelError` with the reason, and the
feed service serves the rule-based feed instead.

Pure code and file I/O; any thread (a loaded `Model` is read-only).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

FORMAT: Final = 1
ALGORITHM: Final = "als"

Cell = tuple[int, int]  # (row_index, rank)


class ModelError(Exception):
    """The model file is missing, unreadable or not a Reelscope model."""


@dataclass(frozen=True)
class Model:
    """What serving needs. `version` names the training run (it goes into `track_id`s)."""

    version: str
    item_ids: tuple[str, ...]
    item_factors: npt.NDArray[np.float32]
    user_ids: tuple[str, ...]
    user_factors: npt.NDArray[np.float32]
    popularity: npt.NDArray[np.float64]  # per item_ids entry
    examination: Mapping[Cell, float] = field(default_factory=dict)
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_items", {v: i for i, v in enumerate(self.item_ids)})
        object.__setattr__(self, "_users", {d: i for i, d in enumerate(self.user_ids)})

    def knows_device(self, device_id: str) -> bool:
        return device_id in self._users  # type: ignore[attr-defined]

    def scores(
        self, device_id: str, video_ids: Sequence[str], genres: Mapping[str, Sequence[str]]
    ) -> list[float]:
        """A score per title, higher first: the ALS dot product for a known device, else the
        position-corrected popularity. A title the model has not seen (new in the catalog)
        gets the mean score of the known titles sharing a genre with it (0 without any)."""
        items: dict[str, int] = self._items  # type: ignore[attr-defined]
        users: dict[str, int] = self._users  # type: ignore[attr-defined]
        user = users.get(device_id)
        if user is not None:
            known_scores = self.item_factors @ self.user_factors[user]
        else:
            known_scores = self.popularity
        by_genre: dict[str, list[float]] = {}
        for video_id in video_ids:
            index = items.get(video_id)
            if index is not None:
                for genre in genres.get(video_id, ()):
                    by_genre.setdefault(genre, []).append(float(known_scores[index]))
        result = []
        for video_id in video_ids:
            index = items.get(video_id)
            if index is not None:
                result.append(float(known_scores[index]))
                continue
            shared = [s for g in genres.get(video_id, ()) for s in by_genre.get(g, ())]
            result.append(sum(shared) / len(shared) if shared else 0.0)
        return result


def save_model(model: Model, path: Path) -> None:
    """Writes `model` to `path` atomically (temp file, fsync, rename)."""
    header = {
        "format": FORMAT,
        "algorithm": ALGORITHM,
        "version": model.version,
        "examination": [[r, k, p] for (r, k), p in sorted(model.examination.items())],
        "info": dict(model.info),
    }
    buffer = io.BytesIO()
    np.savez(
        buffer,
        header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
        item_ids=np.array(model.item_ids, dtype=np.str_),
        item_factors=model.item_factors,
        user_ids=np.array(model.user_ids, dtype=np.str_),
        user_factors=model.user_factors,
        popularity=model.popularity,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(buffer.getvalue())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_model(path: Path) -> Model:
    """Reads a model file; `ModelError` says why one cannot be used."""
    try:
        # Read whole first: np.load leaks its file handle when the zip is broken.
        with np.load(io.BytesIO(path.read_bytes()), allow_pickle=False) as data:
            header = json.loads(data["header"].tobytes().decode())
            arrays = {
                name: data[name]
                for name in ("item_ids", "item_factors", "user_ids", "user_factors", "popularity")
            }
    except FileNotFoundError as exc:
        raise ModelError(f"no model file at {path}") from exc
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelError(f"model file {path} is unreadable: {exc}") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelError(f"model file {path} is not a format-{FORMAT} Reelscope model")
    items, factors = arrays["item_ids"], arrays["item_factors"]
    users, user_factors = arrays["user_ids"], arrays["user_factors"]
    if (
        factors.ndim != 2
        or user_factors.ndim != 2
        or len(items) != factors.shape[0]
        or len(users) != user_factors.shape[0]
        or len(arrays["popularity"]) != len(items)
        or (len(users) and user_factors.shape[1] != factors.shape[1])
    ):
        raise ModelError(f"model file {path} has inconsistent shapes")
    try:
        return Model(
            version=str(header["version"]),
            item_ids=tuple(str(v) for v in items),
            item_factors=factors.astype(np.float32),
            user_ids=tuple(str(d) for d in users),
            user_factors=user_factors.astype(np.float32),
            popularity=arrays["popularity"].astype(np.float64),
            examination={(int(r), int(k)): float(p) for r, k, p in header["examination"]},
            info=dict(header.get("info", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"model file {path} has a bad header: {exc}") from exc
