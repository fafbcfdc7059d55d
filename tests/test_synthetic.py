"""The synthetic stand-in: CIFAR-shaped, balanced, deterministic, varied, its own class names."""

import numpy as np
import pytest
import torch
from torchvision import transforms

from helpers import synthetic
from helpers.data import SyntheticShapes, load_dataset
from helpers.loaders import make_loader


def test_cifar_shaped_like_torchvision():
    ds = SyntheticShapes(train=True, size=1000)
    image, label = ds[3]
    assert image.size == (32, 32) and image.mode == "RGB"
    assert isinstance(label, int) and 0 <= label < 10
    assert ds.data.shape == (1000, 32, 32, 3) and ds.data.dtype == np.uint8
    assert len(ds.targets) == 1000
    assert len(ds.classes) == 10


def test_class_names_are_its_own():
    cifar_names = {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck"}
    assert not cifar_names & set(SyntheticShapes(train=False).classes)


def test_classes_are_balanced_in_every_chunk():
    ds = SyntheticShapes(train=True, size=3 * synthetic.CHUNK)
    counts = np.bincount(ds.labels(np.arange(len(ds))), minlength=10)
    assert counts.tolist() == [3 * synthetic.CHUNK // 10] * 10
    first = np.bincount(ds.labels(np.arange(synthetic.CHUNK)), minlength=10)
    assert first.tolist() == [synthetic.CHUNK // 10] * 10


def test_deterministic_for_seed_and_index_whatever_the_access_order():
    a = SyntheticShapes(train=True, size=2000, seed=0)
    b = SyntheticShapes(train=True, size=2000, seed=0)
    order = [1999, 7, 1200, 7, 501]
    np.testing.assert_array_equal(a.images(order), b.images(sorted(order))[np.argsort(
        np.argsort(order))])
    np.testing.assert_array_equal(np.asarray(a[1234][0]), b.data[1234])
    c = SyntheticShapes(train=True, size=2000, seed=1)
    assert not np.array_equal(a.images(range(10)), c.images(range(10)))
    test = SyntheticShapes(train=False, size=2000, seed=0)
    assert not np.array_equal(a.images(range(10)), test.images(range(10)))


def test_varied_in_position_colour_and_noise():
    images = SyntheticShapes(train=True, size=500).data.astype(np.float32)
    corner = images[:, 0, 0, :]  # background colour
    assert corner.std(axis=0).min() > 40  # backgrounds vary a lot per channel
    # the shape is where the image differs most from its corner colour; its centre moves
    diff = np.abs(images - corner[:, None, None, :]).sum(-1)
    diff = (diff > diff.max(axis=(1, 2), keepdims=True) / 2).astype(np.float32)
    ys, xs = np.indices((32, 32))
    mass = diff.sum(axis=(1, 2))
    cy = (diff * ys).sum(axis=(1, 2)) / mass
    cx = (diff * xs).sum(axis=(1, 2)) / mass
    assert cx.std() > 3 and cy.std() > 3
    noise = np.abs(np.diff(images[:, :, :4, :], axis=2)).mean(axis=(1, 2, 3))
    assert noise.min() < 2 < noise.max()  # some clean images, some noisy ones


def test_out_of_range_index():
    ds = SyntheticShapes(train=False, size=10)
    with pytest.raises(IndexError):
        ds[10]
    assert np.array_equal(np.asarray(ds[-1][0]), ds.data[9])


def test_works_with_transforms_and_dataloader():
    ds = load_dataset(train=False, transform=transforms.ToTensor())
    X, y = next(iter(make_loader(ds, batch_size=16)))
    assert X.shape == (16, 3, 32, 32) and X.dtype == torch.float32
    assert X.min() >= 0 and X.max() <= 1 and y.dtype == torch.int64
