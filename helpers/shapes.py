"""Output-size formulas of ``nn.Conv2d`` and ``nn.MaxPool2d``, one spatial dimension at a time.

Both layers slide a window of ``kernel_size`` (spread out by ``dilation``) over an input that
was padded by ``padding`` on each side, moving ``stride`` steps at a time::

    out = (size + 2*padding - dilation*(kernel_size - 1) - 1) / stride + 1

Convolution always rounds down. Pooling rounds down unless ``ceil_mode=True``; then it rounds
up, but PyTorch drops a last window that would start entirely inside the right-hand padding.
Each function accepts an int or a pair ``(H, W)`` for every argument, like the layers do.
"""

from __future__ import annotations

import math

Size = int | tuple[int, int]


def conv2d_output_size(
    size: Size,
    kernel_size: Size,
    stride: Size = 1,
    padding: Size = 0,
    dilation: Size = 1,
) -> int | tuple[int, int]:
    """Height/width after ``nn.Conv2d``; a pair in gives a pair out."""
    return _per_dim(_conv_1d, size, kernel_size, stride, padding, dilation)


def pool2d_output_size(
    size: Size,
    kernel_size: Size,
    stride: Size | None = None,
    padding: Size = 0,
    dilation: Size = 1,
    ceil_mode: bool = False,
) -> int | tuple[int, int]:
    """Height/width after ``nn.MaxPool2d``; ``stride`` defaults to ``kernel_size`` as in PyTorch."""
    stride = kernel_size if stride is None else stride

    def one(s: int, k: int, st: int, p: int, d: int) -> int:
        return _pool_1d(s, k, st, p, d, ceil_mode)

    return _per_dim(one, size, kernel_size, stride, padding, dilation)


def _conv_1d(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if span < 0:
        raise ValueError(
            f"kernel of size {kernel} (dilation {dilation}) is larger than the padded input "
            f"({size} + 2*{padding})"
        )
    return span // stride + 1


def _pool_1d(size: int, kernel: int, stride: int, padding: int, dilation: int, ceil: bool) -> int:
    if padding > kernel // 2:
        raise ValueError(f"padding {padding} should be at most half the kernel size {kernel}")
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if span < 0:
        raise ValueError(f"pooling window {kernel} is larger than the padded input {size}")
    out = (math.ceil(span / stride) if ceil else span // stride) + 1
    # ceil mode may add a window that starts in the right-hand padding; PyTorch drops it.
    if ceil and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _pair(value: Size) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _per_dim(fn, size, kernel, stride, padding, dilation):
    args = [size, kernel, stride, padding, dilation]
    if all(isinstance(a, int) for a in args):
        return fn(*args)
    h, w = zip(*(_pair(a) for a in args))
    return fn(*h), fn(*w)
