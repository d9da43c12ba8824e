"""Where every data set is downloaded from, how each download is verified, and mirrors.

Every URL here is fixed to one set of bytes: the original files of MNIST and CIFAR, and GitHub
copies pinned to a commit for LFW, Fruits-360 and the paintings. A download is accepted only
when it matches the checksum or content digest given here (see the data chapter).

``$IMGEN_MIRROR`` (:data:`MIRROR_ENV`), when set to a base URL such as
``http://127.0.0.1:8765`` or ``file:///srv/imgen-mirror``, makes every download of
``https://HOST/PATH`` come from ``$IMGEN_MIRROR/HOST/PATH`` instead (:func:`url`), with the same
checks. Tests and machines without internet access use it. Nothing here touches the network.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass

MIRROR_ENV = "IMGEN_MIRROR"

# MNIST: the original gzipped IDX files, on torchvision's mirror; sha256 of each.
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",  # noqa: E501
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",  # noqa: E501
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

# CIFAR: the authors' archives. CIFAR-100 is accepted by the archive's md5 or, failing that, by
# the order-free digests of the images it unpacks (so a re-packed copy of the same images, such
# as the course's offline copy, passes too). The official archive always matches its md5, so
# the full 50,000-image training set's digest is not needed; the course copy keeps 20,000.
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/"
CIFAR100_URL = CIFAR_URL + "cifar-100-python.tar.gz"
CIFAR100_MD5 = "eb9058c3a382ffc7106e4002c42a8d85"
CIFAR100_ROWS_SHA256 = {
    "test": frozenset({"43fc83e79f59a5479e33e66306dcf48157eb182343947416395290d563fa8ad3"}),
    "train": frozenset({"3c85f31a89371f9f8537f4c0306dd433e93163682e8c8fa5950c13341869a9ed"}),
}
CIFAR10_URL = CIFAR_URL + "cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"

# LFW deep-funneled: a GitHub commit archive holding the complete folder. GitHub re-creates
# archives on demand, so their bytes may change: the unpacked images are verified instead.
LFW_COMMIT = "0a86d9a0c4e0c208f03766075a0fbaead1374e3e"
LFW_URL = f"https://github.com/braun-steven/dfi-tensorflow/archive/{LFW_COMMIT}.tar.gz"
LFW_MEMBER = f"dfi-tensorflow-{LFW_COMMIT}/data/lfw-deepfunneled/"  # kept; the rest is skipped
LFW_DIGEST = "4b4d8381307039a80473d75f1506c8c47b5213b08596aabf3781009a9ad70257"
LFW_ORIGINAL_MD5 = "68331da3eb755a505a502b5aacb3c201"  # lfw-deepfunneled.tgz, if a user has it

# Fruits-360 apples and bananas: a GitHub commit archive of an early release (test was called
# "Validation" then); verified by the unpacked images, as LFW.
FRUITS_COMMIT = "e7b0953dca61b8fa52626827dfb7fb1aa7c22f73"
FRUITS_URL = f"https://github.com/MorrisOh/AI-training-data/archive/{FRUITS_COMMIT}.tar.gz"
FRUITS_MEMBER = f"AI-training-data-{FRUITS_COMMIT}/fruits-360-small/"
FRUITS_SPLITS = {"Training": "Training", "Validation": "Test"}  # archive folder -> ours
FRUITS_CLASSES = ("Apple Golden 1", "Banana")
FRUITS_DIGEST = "5dc5aeff828c7a020b7b249ee384e1a1d9890b3f442cf5b2003d35456d352c3f"

# Paintings for style transfer: raw files of a GitHub commit; sha256 of each.
PAINTINGS_URL = (
    "https://raw.githubusercontent.com/jcjohnson/neural-style/"
    "07c4b8299f8fbdafec0c514fc820ff1d7ff62e46/examples/inputs/"
)


@dataclass(frozen=True)
class Painting:
    """One public-domain painting: its file, what it is, and its sha256."""

    file: str
    title: str
    painter: str
    year: int
    sha256: str

    @property
    def credit(self) -> str:
        """The line to print under it: title, painter, year."""
        return f"{self.title}, {self.painter}, {self.year} (public domain)"


PAINTINGS = {
    p.file.removesuffix(".jpg"): p
    for p in (
        Painting(
            "starry_night.jpg", "The Starry Night", "Vincent van Gogh", 1889,
            "0592ab0f7b51b3ce72608a95e53880bd93971e5b48f93a0ce8dfd3cbccf3d098",
        ),
        Painting(
            "the_scream.jpg", "The Scream", "Edvard Munch", 1893,
            "f3075cddeb974a9ee1d6418f7f33fd05185a7ac7dcb4288bd2805d499a9dcaee",
        ),
        Painting(
            "shipwreck.jpg", "The Shipwreck", "J. M. W. Turner", 1805,
            "4f7cf34e3cd4a5daaf3f421f059ca9a01aaa2a3afd7243d6670c9c8bc001a213",
        ),
        Painting(
            "woman-with-hat-matisse.jpg", "Woman with a Hat", "Henri Matisse", 1905,
            "6a8b2383d9c110354a97a42c74bdcc5341be879cbb842ddb7ab5843dbdf56d53",
        ),
    )
}
"""Painting name (the file name without ``.jpg``) -> :class:`Painting`."""

URLS = {
    "mnist": tuple(MNIST_URL + name for name in MNIST_SHA256),
    "cifar": (CIFAR100_URL,),
    "cifar10": (CIFAR10_URL,),
    "lfw": (LFW_URL,),
    "fruits": (FRUITS_URL,),
    "paintings": tuple(PAINTINGS_URL + p.file for p in PAINTINGS.values()),
}
"""Data set name -> the original URLs its loader may fetch (before :func:`url` rewrites them)."""


def url(original: str) -> str:
    """The URL to fetch ``original`` from: itself, or its copy under ``$IMGEN_MIRROR``.

    With ``IMGEN_MIRROR=http://127.0.0.1:8765``, ``https://HOST/PATH`` becomes
    ``http://127.0.0.1:8765/HOST/PATH`` (a query string is kept). Checks stay the same.
    """
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    if not mirror:
        return original
    parts = urllib.parse.urlsplit(original)
    if not parts.netloc:
        raise ValueError(f"expected an absolute URL such as https://HOST/PATH, got {original!r}")
    query = f"?{parts.query}" if parts.query else ""
    return f"{mirror.rstrip('/')}/{parts.netloc}{parts.path}{query}"
