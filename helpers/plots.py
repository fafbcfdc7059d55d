"""Small matplotlib helpers: a row of images, one grid, training curves.

Each returns the ``Figure`` so a notebook can ``plt.show()`` it or save it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def show_images(images: torch.Tensor, titles: Sequence[str] | None = None, ncols: int = 8,
                scale: float = 1.4, suptitle: str | None = None):
    """Images ``(N, C, H, W)`` with values in [0, 1] (C = 1 or 3), ``ncols`` per row."""
    import matplotlib.pyplot as plt

    images = images.detach().cpu().clamp(0, 1)
    n = len(images)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * ncols, scale * nrows + 0.3),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        image = images[i].permute(1, 2, 0)
        ax.imshow(image.squeeze(-1), cmap="gray" if image.shape[-1] == 1 else None,
                  vmin=0, vmax=1)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def show_grid(grid: torch.Tensor, title: str | None = None, size: float = 8.0):
    """One image ``(3, H, W)`` such as ``board.channel_grid(...)``, drawn without axes."""
    import matplotlib.pyplot as plt

    grid = grid.detach().cpu()
    h, w = grid.shape[1:]
    fig, ax = plt.subplots(figsize=(size, size * h / w + 0.4))
    ax.imshow(grid.permute(1, 2, 0).clamp(0, 1))
    ax.axis("off")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_curves(curves: dict[str, Sequence[float]], xlabel: str = "epoch", ylabel: str = "",
                title: str | None = None, start: int = 1):
    """One line per named series, x counting from ``start`` in whole steps (epochs)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs, not 1.5
    for name, values in curves.items():
        ax.plot(range(start, start + len(values)), list(values), marker="o", label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig
