"""InMemoryLoader gives exactly what DataLoader + lesson_transform gives, only faster."""

import pytest
import torch

from helpers import data
from helpers.data import InMemoryLoader, SyntheticShapes, lesson_transform, make_loader


@pytest.fixture(scope="module")
def small():
    return SyntheticShapes(train=False, size=300)


def test_same_batches_as_the_dataloader(small):
    small.transform = lesson_transform()
    try:
        reference = list(make_loader(small, batch_size=64, fast_limit=None))
    finally:
        small.transform = None
    fast = list(InMemoryLoader(small, batch_size=64, fast_limit=None))
    assert len(fast) == len(reference) == 5
    for (X, y), (X_ref, y_ref) in zip(fast, reference):
        torch.testing.assert_close(X, X_ref, rtol=0, atol=0)
        assert torch.equal(y, y_ref)
    assert fast[-1][0].shape == (300 - 4 * 64, 3, 32, 32)


def test_drop_last_and_len(small):
    loader = InMemoryLoader(small, batch_size=64, drop_last=True, fast_limit=None)
    assert len(loader) == 4 and all(len(y) == 64 for _, y in loader)


def test_shuffle_is_a_reproducible_permutation(small):
    a = InMemoryLoader(small, batch_size=100, shuffle=True, seed=3, fast_limit=None)
    b = InMemoryLoader(small, batch_size=100, shuffle=True, seed=3, fast_limit=None)
    epoch_a1 = torch.cat([y for _, y in a])
    epoch_a2 = torch.cat([y for _, y in a])
    assert torch.equal(epoch_a1, torch.cat([y for _, y in b]))
    assert not torch.equal(epoch_a1, epoch_a2)  # a new order every epoch
    assert sorted(epoch_a1.tolist()) == sorted(small.labels(range(300)).tolist())


def test_fast_mode_limits_both_loaders(small, monkeypatch):
    monkeypatch.setenv("TORCHNN_FAST", "1")
    assert len(make_loader(small, batch_size=10, fast_limit=50)) == 5
    assert len(InMemoryLoader(small, batch_size=10, fast_limit=50)) == 5
    monkeypatch.setenv("TORCHNN_FAST", "0")
    assert len(make_loader(small, batch_size=10, fast_limit=50)) == 30
    assert len(InMemoryLoader(small, batch_size=10, fast_limit=50)) == 30


def test_limit_caps_the_loaders_in_every_mode(small, monkeypatch):
    for fast, expected in (("0", 4), ("1", 3)):  # fast mode keeps the smaller cap
        monkeypatch.setenv("TORCHNN_FAST", fast)
        assert len(make_loader(small, batch_size=10, limit=40, fast_limit=30)) == expected
        assert len(InMemoryLoader(small, batch_size=10, limit=40, fast_limit=30)) == expected
    monkeypatch.setenv("TORCHNN_FAST", "0")
    assert len(InMemoryLoader(small, batch_size=100, limit=None, fast_limit=30)) == 3


def test_denormalize_inverts_the_lesson_transform(small):
    image, _ = small[0]
    X = lesson_transform()(image)
    assert X.min() >= -1 and X.max() <= 1
    from torchvision.transforms.functional import to_tensor

    torch.testing.assert_close(data.denormalize(X), to_tensor(image))
