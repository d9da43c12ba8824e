"""imgen.data on the real data sets in ``$IMGEN_DATA`` (CI: ``../shared/data``).

Each test is skipped, naming the missing folder, when the data folder lacks that set; with
``IMGEN_REQUIRE_DATA=1`` (set by ``.ci/run``) a missing set fails instead. The
counts are those of the course's offline copy (shared/data); each set is loaded once.
"""

from __future__ import annotations

import pytest
import torch
from conftest import missing_data

from imgen import settings
from imgen.data import load_cifar, load_cifar10, load_fruits, load_lfw, load_mnist


def load_or_skip(folder: str, loader, split: str, **kwargs):
    root = settings.data_root()
    if not (root / folder).is_dir():
        missing_data(f"{root / folder} not found; set IMGEN_DATA to a folder that has it")
    return loader(split, root=root, download=False, **kwargs)


def histogram(data) -> list[int]:
    return torch.bincount(data.labels, minlength=len(data.classes)).tolist()


def assert_real_images(data, shape) -> None:
    assert data.images.dtype == torch.uint8 and data.images.is_contiguous()
    assert data.shape == shape and data.labels.dtype == torch.int64
    assert data.images.max() > 200 and data.images.float().mean() > 10


@pytest.fixture(scope="module")
def mnist():
    return {s: load_or_skip("MNIST/raw", load_mnist, s) for s in ("train", "test")}


@pytest.fixture(scope="module")
def cifar10():
    return {s: load_or_skip("cifar-10-batches-py", load_cifar10, s) for s in ("train", "test")}


@pytest.fixture(scope="module")
def lfw():
    return {s: load_or_skip("lfw/lfw-deepfunneled", load_lfw, s) for s in ("train", "test")}


@pytest.fixture(scope="module")
def fruits():
    return {s: load_or_skip("fruits-360", load_fruits, s) for s in ("train", "test")}


def test_mnist_has_60000_train_and_10000_test_digits(mnist):
    assert len(mnist["train"]) == 60000 and len(mnist["test"]) == 10000
    assert_real_images(mnist["test"], (1, 28, 28))


def test_mnist_label_histograms(mnist):
    assert histogram(mnist["test"]) == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert histogram(mnist["train"]) == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_mnist_pixel_mean_is_the_usual_constant(mnist):
    assert mnist["train"].images.float().mean().item() / 255 == pytest.approx(0.1307, abs=1e-4)


def test_cifar10_copy_has_20000_train_and_10000_test_images(cifar10):
    assert len(cifar10["train"]) == 20000 and len(cifar10["test"]) == 10000
    assert_real_images(cifar10["train"], (3, 32, 32))
    assert cifar10["test"].classes[:3] == ("airplane", "automobile", "bird")


def test_cifar10_classes_are_balanced(cifar10):
    assert histogram(cifar10["test"]) == [1000] * 10
    assert histogram(cifar10["train"]) == [2000] * 10


def test_cifar10_channels_are_in_rgb_order(cifar10):
    means = cifar10["test"].images.float().mean(dim=(0, 2, 3)) / 255
    assert means.tolist() == pytest.approx([0.4941, 0.4851, 0.4504], abs=2e-4)


def test_load_cifar_falls_back_to_cifar10(cifar10):
    root = settings.data_root()
    if (root / "cifar-100-python").is_dir():
        pytest.skip(f"{root / 'cifar-100-python'} exists, so load_cifar gives CIFAR-100")
    assert load_cifar("test", root=root, download=False).name == "CIFAR-10"


def test_lfw_subset_splits_2828_faces_by_person(lfw):
    train, test = lfw["train"], lfw["test"]
    assert len(train) + len(test) == 2828
    assert (len(train), len(test)) == (2126, 702)
    assert set(train.classes).isdisjoint(test.classes)
    assert len(train.classes) + len(test.classes) == 968
    assert_real_images(test, (3, 32, 32))


def test_lfw_labels_cover_every_person_of_the_split(lfw):
    counts = histogram(lfw["train"])
    assert min(counts) >= 1 and sum(counts) == len(lfw["train"])
    assert counts[lfw["train"].classes.index("George_W_Bush")] == 530


def test_fruits_has_982_train_and_330_test_images(fruits):
    assert len(fruits["train"]) == 982 and len(fruits["test"]) == 330
    assert_real_images(fruits["train"], (3, 16, 16))


def test_fruits_label_histograms(fruits):
    assert fruits["train"].classes == ("apple", "banana")
    assert histogram(fruits["train"]) == [492, 490]
    assert histogram(fruits["test"]) == [164, 166]
