"""Load any of the course's data sets by name."""

from __future__ import annotations

from types import MappingProxyType

from ._core import ImageData
from .cifar import load_cifar, load_cifar10, load_cifar100
from .fruits import load_fruits
from .lfw import load_lfw
from .mnist import load_mnist

DATASETS = MappingProxyType(
    {
        "mnist": load_mnist,
        "cifar": load_cifar,
        "cifar10": load_cifar10,
        "cifar100": load_cifar100,
        "lfw": load_lfw,
        "fruits": load_fruits,
    }
)
"""Data set name -> loader. ``"cifar"`` is CIFAR-100 (as ``"cifar100"``) everywhere."""


def load(name: str, split: str = "train", **kwargs) -> ImageData:
    """The data set ``name`` (a key of :data:`DATASETS`, any case, "-" and "_" ignored).

    ``kwargs`` go to its loader (``root``, ``download``, ``size`` for LFW and fruits, ``labels``
    for CIFAR-100). Returns an :class:`ImageData`. Used by the chapters and the command line.
    """
    key = name.lower().replace("-", "").replace("_", "") if isinstance(name, str) else name
    if key not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; expected one of {', '.join(DATASETS)}")
    return DATASETS[key](split, **kwargs)
