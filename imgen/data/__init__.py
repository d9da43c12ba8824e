"""The course's data sets, read from their original files into memory as uint8 tensors.

MNIST, CIFAR-100 (and CIFAR-10), LFW deep-funneled, Fruits-360 and four paintings are read
from the folder ``imgen.settings.data_root()`` (``$IMGEN_DATA``, else ``~/.cache/imgen``) in the
layouts their publishers use, and fetched there on first use from the sources in
:mod:`imgen.data.sources` (``$IMGEN_MIRROR`` redirects them), verified by checksum or content
digest; see the data chapter. Importing this package reads and downloads nothing.
"""

from ._core import CorruptDataError, DataNotFoundError, ImageData
from ._registry import DATASETS, load
from .cifar import load_cifar, load_cifar10, load_cifar100
from .fruits import load_fruits
from .lfw import load_lfw, load_lfw_all
from .mnist import load_mnist
from .paintings import load_painting, painting_path

__all__ = [
    "DATASETS",
    "CorruptDataError",
    "DataNotFoundError",
    "ImageData",
    "load",
    "load_cifar",
    "load_cifar10",
    "load_cifar100",
    "load_fruits",
    "load_lfw",
    "load_lfw_all",
    "load_mnist",
    "load_painting",
    "painting_path",
]
