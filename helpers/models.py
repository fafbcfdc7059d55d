"""The source tutorial's networks, written once so every notebook uses the same code."""

from __future__ import annotations

import torch
from torch import nn


class AddTwo(nn.Module):
    """The smallest possible module: no parameters, ``forward`` returns ``x + 2``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 2


class SingleConv(nn.Module):
    """One ``Conv2d(3, 6, kernel_size=3)``: ``(N, 3, H, W) -> (N, 6, H-2, W-2)``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels=3, out_channels=6, kernel_size=3, stride=1, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class CifarNet(nn.Sequential):
    """The tutorial's CIFAR-10 classifier: ``(N, 3, 32, 32) -> (N, 10)`` logits, 145,578 parameters.

    Three 5x5 convolutions with ``padding=2`` keep the size, each followed by ``MaxPool2d(2)``
    that halves it: 32 -> 16 -> 8 -> 4, so ``Flatten`` sees 64 * 4 * 4 = 1024 numbers per image.
    Like the source, it has no activation function: max pooling is its only non-linearity.

    ``CifarNet()`` builds the tutorial's layers. Slicing (``net[:6]``) passes a subset of them
    back to the constructor, as ``nn.Sequential`` does, and gets a shorter network.
    """

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__(*(layers or cifar_layers()))


def cifar_layers() -> list[nn.Module]:
    """The nine layers of :class:`CifarNet`, with the shape each one outputs."""
    return [
        nn.Conv2d(3, 32, kernel_size=5, padding=2),  # (N, 32, 32, 32)
        nn.MaxPool2d(2),  # (N, 32, 16, 16)
        nn.Conv2d(32, 32, kernel_size=5, padding=2),  # (N, 32, 16, 16)
        nn.MaxPool2d(2),  # (N, 32, 8, 8)
        nn.Conv2d(32, 64, kernel_size=5, padding=2),  # (N, 64, 8, 8)
        nn.MaxPool2d(2),  # (N, 64, 4, 4)
        nn.Flatten(),  # (N, 1024)
        nn.Linear(1024, 64),  # (N, 64)
        nn.Linear(64, 10),  # (N, 10)
    ]


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters (weights and biases) in ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
