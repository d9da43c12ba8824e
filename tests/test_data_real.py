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
from imgen.data import load_cifar, load_fruits, load_lfw, load_mnist


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
def cifar():
    return {s: load_or_skip("cifar-100-python", load_cifar, s) for s in ("train", "test")}


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


def test_cifar_is_cifar100_with_the_whole_test_set_and_20000_train_images(cifar):
    assert cifar["test"].name == cifar["train"].name == "CIFAR-100"
    assert len(cifar["train"]) == 20000 and len(cifar["test"]) == 10000
    assert_real_images(cifar["train"], (3, 32, 32))
    assert cifar["test"].classes[:3] == ("apple", "aquarium_fish", "baby")


def test_cifar_classes_are_balanced(cifar):
    assert histogram(cifar["test"]) == [100] * 100
    assert histogram(cifar["train"]) == [200] * 100


def test_cifar_test_set_is_the_official_one_by_its_order_free_digest(cifar):
    # The digest that cifar-100-python/SOURCE.md gives for the official test set.
    digest = "43fc83e79f59a5479e33e66306dcf48157eb182343947416395290d563fa8ad3"
    assert cifar["test"].fingerprint() == digest


def test_cifar_comes_in_canonical_order_whatever_the_files_order(cifar):
    rows = [bytes(image.numpy().tobytes()) for image in cifar["test"].images[:50]]
    assert rows == sorted(rows)


def test_cifar_channels_are_in_rgb_order(cifar):
    means = cifar["test"].images.float().mean(dim=(0, 2, 3)) / 255
    assert means.tolist() == pytest.approx([0.5088, 0.4874, 0.4419], abs=2e-4)


def test_cifar_coarse_labels_are_the_20_superclasses():
    test = load_or_skip("cifar-100-python", load_cifar, "test", labels="coarse")
    assert len(test.classes) == 20 and histogram(test) == [500] * 20
    assert test.classes[:2] == ("aquatic_mammals", "fish")


def test_lfw_is_complete_and_split_by_person(lfw):
    train, test = lfw["train"], lfw["test"]
    assert len(train) + len(test) == 13233
    assert (len(train), len(test)) == (10358, 2875)
    assert set(train.classes).isdisjoint(test.classes)
    assert len(train.classes) + len(test.classes) == 5749
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
