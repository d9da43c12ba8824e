"""Shared test helpers."""

from __future__ import annotations

import io
import os
import tarfile

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny test models run fastest on one thread, and the test machine's cores are shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def missing_data(reason: str):
    """Skip a test that needs a real data set which is absent, or fail under CI.

    ``.ci/run`` sets ``IMGEN_REQUIRE_DATA=1``: there the data must be present, so a missing set
    is a failure rather than a silent skip.
    """
    if os.environ.get("IMGEN_REQUIRE_DATA"):
        pytest.fail(reason + " (IMGEN_REQUIRE_DATA is set, so the data must be there)")
    pytest.skip(reason)


def tar_gz(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    """A gzipped tar archive holding ``members`` (name -> bytes) and symbolic ``links``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return buffer.getvalue()
