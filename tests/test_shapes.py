"""The size formulas agree with what PyTorch's layers actually produce."""

import random

import pytest
import torch
from torch import nn

from helpers.shapes import conv2d_output_size, pool2d_output_size


def test_conv_formula_matches_pytorch_on_random_settings():
    rng = random.Random(0)
    checked = 0
    while checked < 200:
        h, w = rng.randint(1, 40), rng.randint(1, 40)
        k = (rng.randint(1, 7), rng.randint(1, 7))
        s = (rng.randint(1, 4), rng.randint(1, 4))
        p = (rng.randint(0, 3), rng.randint(0, 3))
        d = (rng.randint(1, 3), rng.randint(1, 3))
        if any(hw + 2 * pp < dd * (kk - 1) + 1 for hw, kk, pp, dd in zip((h, w), k, p, d)):
            continue
        conv = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d)
        expected = tuple(conv(torch.zeros(1, 1, h, w)).shape[2:])
        assert conv2d_output_size((h, w), k, s, p, d) == expected, (h, w, k, s, p, d)
        checked += 1


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_pool_formula_matches_pytorch_on_random_settings(ceil_mode):
    rng = random.Random(1)
    checked = 0
    while checked < 200:
        size = rng.randint(1, 40)
        k, s, d = rng.randint(1, 6), rng.randint(1, 5), rng.randint(1, 3)
        p = rng.randint(0, k // 2)
        if size + 2 * p < d * (k - 1) + 1:
            continue
        pool = nn.MaxPool2d(k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode)
        expected = pool(torch.zeros(1, 1, size, size)).shape[-1]
        assert pool2d_output_size(size, k, s, p, d, ceil_mode) == expected, (size, k, s, p, d)
        checked += 1


def test_source_examples():
    assert conv2d_output_size(32, 3) == 30  # Conv2d(3, 6, 3) on CIFAR-10
    assert conv2d_output_size(32, 5, padding=2) == 32  # the CifarNet convolutions keep size
    assert pool2d_output_size(5, 3, ceil_mode=True) == 2  # the 5x5 MaxPool2d example
    assert pool2d_output_size(5, 3, ceil_mode=False) == 1
    assert pool2d_output_size((32, 16), 2) == (16, 8)


def test_ceil_mode_drops_a_window_that_starts_in_the_padding():
    # 6 wide, kernel 2, stride 2, padding 1: ceil would give 5 windows, the last starting at
    # position 8 > 6 + 1 (inside the right padding), so PyTorch keeps 4.
    pool = nn.MaxPool2d(2, stride=2, padding=1, ceil_mode=True)
    assert pool(torch.zeros(1, 1, 6, 6)).shape[-1] == 4
    assert pool2d_output_size(6, 2, 2, 1, ceil_mode=True) == 4


def test_impossible_settings_raise_clear_errors():
    with pytest.raises(ValueError, match="larger than the padded input"):
        conv2d_output_size(2, 5)
    with pytest.raises(ValueError, match="at most half"):
        pool2d_output_size(8, 2, padding=2)
