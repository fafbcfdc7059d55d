"""InMemoryLoader gives exactly what DataLoader + lesson_transform gives, only faster; both
loaders take one sizing knob, ``limit``; InMemoryLoader also a ``start``."""

import pytest
import torch
from torch.utils.data import DataLoader, Subset

from helpers import config, data
from helpers.data import SyntheticShapes, lesson_transform
from helpers.loaders import InMemoryLoader, image_count, make_loader


@pytest.fixture(scope="module")
def small():
    return SyntheticShapes(train=False, size=300)


def test_same_batches_as_the_dataloader(small):
    with_transform = SyntheticShapes(train=False, size=300, transform=lesson_transform())
    reference = list(make_loader(with_transform, batch_size=64))
    fast = list(InMemoryLoader(small, batch_size=64))
    assert len(fast) == len(reference) == 5
    for (X, y), (X_ref, y_ref) in zip(fast, reference):
        torch.testing.assert_close(X, X_ref, rtol=0, atol=0)
        assert torch.equal(y, y_ref)
    assert fast[-1][0].shape == (300 - 4 * 64, 3, 32, 32)


def test_a_transform_it_would_ignore_is_refused(small):
    with pytest.raises(ValueError, match="would ignore the dataset's transform"):
        InMemoryLoader(SyntheticShapes(train=False, size=10, transform=lesson_transform()))
    with pytest.raises(ValueError, match="make_loader"):
        InMemoryLoader(SyntheticShapes(train=False, size=10, target_transform=int))


def test_drop_last_and_len(small):
    loader = InMemoryLoader(small, batch_size=64, drop_last=True)
    assert len(loader) == 4 and all(len(y) == 64 for _, y in loader)


def test_shuffle_is_a_reproducible_permutation(small):
    a = InMemoryLoader(small, batch_size=100, shuffle=True, seed=3)
    b = InMemoryLoader(small, batch_size=100, shuffle=True, seed=3)
    epoch_a1 = torch.cat([y for _, y in a])
    epoch_a2 = torch.cat([y for _, y in a])
    assert torch.equal(epoch_a1, torch.cat([y for _, y in b]))
    assert not torch.equal(epoch_a1, epoch_a2)  # a new order every epoch
    assert sorted(epoch_a1.tolist()) == sorted(small.labels(range(300)).tolist())


def test_limit_is_the_one_sizing_knob(monkeypatch):
    """``limit`` caps both loaders in every mode; left at None it means the whole dataset,
    or ``config.FAST_LIMIT`` images under TORCHNN_FAST=1."""
    big = SyntheticShapes(train=False, size=config.FAST_LIMIT + 500)
    for fast, default in (("1", config.FAST_LIMIT), ("0", len(big))):
        monkeypatch.setenv("TORCHNN_FAST", fast)
        assert image_count(big) == default
        assert len(make_loader(big, batch_size=100)) == -(-default // 100)
        assert len(InMemoryLoader(big, batch_size=100)) == -(-default // 100)
        assert len(make_loader(big, batch_size=10, limit=40)) == 4
        assert len(InMemoryLoader(big, batch_size=10, limit=40)) == 4
        assert image_count(big, limit=10**6) == len(big)


def test_start_takes_the_images_right_after_the_trained_ones(small):
    """start 0 limit N and start N limit M: disjoint, together the first N + M images, each
    exactly DataLoader + lesson_transform over the same indices."""
    n, m = 200, 70
    train = InMemoryLoader(small, batch_size=64, limit=n)
    val = InMemoryLoader(small, batch_size=64, start=n, limit=m)
    with_transform = SyntheticShapes(train=False, size=300, transform=lesson_transform())
    images = {}
    for name, loader, indices in (("train", train, range(n)), ("val", val, range(n, n + m))):
        X = torch.cat([batch for batch, _ in loader])
        y = torch.cat([labels for _, labels in loader])
        assert len(y) == len(indices)
        X_ref, y_ref = next(iter(DataLoader(Subset(with_transform, indices), batch_size=300)))
        torch.testing.assert_close(X, X_ref, rtol=0, atol=0)
        assert torch.equal(y, y_ref)
        images[name] = X
    both = torch.cat([images["train"], images["val"]])
    first = torch.cat([batch for batch, _ in InMemoryLoader(small, batch_size=64, limit=n + m)])
    assert torch.equal(both, first)  # the union is the first n + m, in order
    # disjoint: no image of one is an image of the other (the synthetic images all differ)
    flat_train, flat_val = images["train"].flatten(1), images["val"].flatten(1)
    assert not (flat_train[:, None] == flat_val[None]).all(dim=2).any()


def test_start_counts_the_default_from_there(monkeypatch):
    big = SyntheticShapes(train=False, size=config.FAST_LIMIT + 500)
    monkeypatch.setenv("TORCHNN_FAST", "1")
    assert image_count(big, start=100) == config.FAST_LIMIT
    assert image_count(big, start=1_000) == len(big) - 1_000  # fewer left than FAST_LIMIT
    monkeypatch.setenv("TORCHNN_FAST", "0")
    assert image_count(big, start=100) == len(big) - 100
    assert len(InMemoryLoader(big, batch_size=100, start=100)) == -(-(len(big) - 100) // 100)
    assert image_count(big, limit=10**6, start=len(big) - 1) == 1


def test_a_start_beyond_the_dataset_is_refused(small):
    for start in (300, 10_000, -1):
        with pytest.raises(ValueError, match=rf"start={start} is outside the dataset, which "
                                             r"holds 300 images \(0 to 299\)"):
            InMemoryLoader(small, start=start, limit=10)


def test_denormalize_inverts_the_lesson_transform(small):
    image, _ = small[0]
    X = lesson_transform()(image)
    assert X.min() >= -1 and X.max() <= 1
    from torchvision.transforms.functional import to_tensor

    torch.testing.assert_close(data.denormalize(X), to_tensor(image))
