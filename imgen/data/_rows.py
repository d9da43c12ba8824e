"""Images as rows of bytes: their order as bytes, and a digest of a split that ignores order."""

from __future__ import annotations

import hashlib

import numpy as np


def byte_order(rows: np.ndarray) -> np.ndarray:
    """The indices that sort the ``(N, D)`` uint8 ``rows`` lexicographically, as bytes."""
    rows = np.ascontiguousarray(rows)
    return np.argsort(rows.view(np.dtype((np.void, rows.shape[1]))).ravel(), kind="stable")


def rows_digest(rows: np.ndarray) -> str:
    """The sha256 of the ``(N, D)`` uint8 ``rows`` sorted as bytes and concatenated: the same
    for every copy of the same images in any order (CIFAR's ``SOURCE.md`` digests are these)."""
    rows = np.ascontiguousarray(rows)
    return hashlib.sha256(np.ascontiguousarray(rows[byte_order(rows)]).tobytes()).hexdigest()
