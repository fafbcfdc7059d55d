"""Shared helpers for the Torch.nn notebooks.

Importing this package does nothing but import: no seeding, no downloads, no device probing.
A notebook's first cell calls :func:`helpers.setup`, which does all of that once and prints
what it chose. The modules, each small enough to read in one sitting:

- ``paths``: where ``data/`` and ``runs/`` are, whatever the current directory
- ``session``: ``setup()`` for a notebook's first cell (seed, device, data source, fast mode)
- ``data``: CIFAR-10 or the synthetic stand-in behind one call, and loaders
- ``models``: the source tutorial's networks
- ``board``: TensorBoard writers and image grids
- ``train``: ``train_one_epoch``, ``evaluate`` and ``fit``
- ``shapes``: Conv2d / MaxPool2d output-size formulas
- ``plots``: small matplotlib helpers for showing images and curves
"""

from helpers.session import Settings, setup

__all__ = ["Settings", "setup"]
__version__ = "0.1.0"
