"""Shared helpers for the Torch.nn notebooks: what the lessons import, and nothing else.

Importing this package does nothing but import: no seeding, no downloads, no device probing.
A notebook's first cell calls :func:`helpers.setup`, which does all of that once and prints
what it chose. The modules, each small enough to read in one sitting:

- ``session``: ``setup()`` for a notebook's first cell (seed, device, data source, fast mode)
- ``config``: every ``TORCHNN_*`` setting and the project's folders, read in one place
- ``data``: CIFAR-10 or the synthetic stand-in behind one call, ``load_dataset``
- ``loaders``: batches: ``make_loader`` (a ``DataLoader``) and the faster ``InMemoryLoader``
- ``synthetic``: how the synthetic stand-in draws its ten classes of shapes
- ``models``: the source tutorial's networks (``CifarNet``, ...)
- ``train``: ``train_one_epoch``, ``evaluate`` and ``fit``
- ``board``: TensorBoard writers, image grids, and reading runs back
- ``shapes``: Conv2d / MaxPool2d output-size formulas
- ``plots``: small matplotlib helpers for showing images and curves
- ``exercises``: ``check_answer`` and ``check_code`` for the exercises
- ``errors``: ``SettingError``, ``DataError`` and ``BoardError``, shown as one line in a notebook

Modules whose names start with ``_`` are machinery a learner need not read: ``_cifar10``
(downloading and checking CIFAR-10), ``_runs`` (a TensorBoard run's lock, replacing and reading
it), ``_locks`` (file locks between processes), ``_folders`` (can this folder be written?),
``_memory`` (freed memory kept for the next training step). The commands (``make run``,
``make doctor``, ...) live apart, in the ``torchnn_tools`` package.
"""

from helpers.session import Settings, setup

__all__ = ["Settings", "setup"]
__version__ = "0.2.0"
