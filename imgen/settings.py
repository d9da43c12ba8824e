"""Where data lives and whether the course runs in quick mode.

Two environment variables steer the package:

- ``IMGEN_DATA``: the folder holding the data sets (see :func:`data_root`).
- ``IMGEN_QUICK``: when set to ``1``/``true``/``yes``, notebooks and the command line shrink data
  and epochs so that the whole book runs in minutes (CI and ``make book`` set it).
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "IMGEN_DATA"
QUICK_ENV = "IMGEN_QUICK"


def data_root() -> Path:
    """The data folder: ``$IMGEN_DATA`` if set, else a per-user cache folder.

    The cache folder is ``$XDG_CACHE_HOME/imgen`` (``~/.cache/imgen`` by default). The folder is
    not created here; loaders create it only when they download into it.
    """
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "imgen"


def is_quick() -> bool:
    """True when ``$IMGEN_QUICK`` asks for quick mode (small subsets, one or two epochs)."""
    return os.environ.get(QUICK_ENV, "").strip().lower() in {"1", "true", "yes", "on"}
