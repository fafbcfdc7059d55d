"""The training loop, written once: ``train_one_epoch``, ``evaluate`` and ``fit``.

Every function takes what it needs (model, loader, optimizer, device, writer) as arguments.
A running loss is summed from ``loss.detach()`` (or kept as ``loss.item()``), never from
``loss`` itself, so no computation graph outlives its batch. Batches are moved to ``device``
here; a loader whose tensors already live there (``InMemoryLoader(device=...)``) costs
nothing to move.

Two things make the same loop faster (introduced in 08; ``make bench`` measures both):

- ``channels_last``: the batch is handed to the model in the ``channels_last`` memory format,
  ``(N, C, H, W)`` with the ``C`` values of each pixel side by side in memory. Same shape, same
  values, only another order in memory, which the CPU's convolution kernels run about 1.5x
  faster, as do a GPU's tensor cores in 16 bits. By default (``None``) the loop does it on the
  CPU, and on a CUDA GPU under mixed precision, for a model built only of ``torch.nn`` layers
  with a ``Conv2d`` among them; a model with its own ``forward`` might call ``.view`` on its
  input, which needs the usual order, so it gets the batch unchanged unless you pass
  ``channels_last=True``. The model's weights are never touched.
- ``mixed_precision``: runs the forward pass under ``torch.autocast``, so convolutions and
  matrix products compute in a 16-bit float (``bfloat16`` or ``float16``) while the weights,
  their gradients and the loss stay ``float32``. Off by default; ``"auto"`` uses it where
  :func:`mixed_precision_dtype` finds the hardware for it, ``True`` uses it everywhere, a
  ``torch.dtype`` names the type. ``float16`` needs loss scaling (``torch.amp.GradScaler``),
  which the loop does for you, one scaler per optimizer.

On Linux the loops also ask the C library to keep the memory a step frees for the next step
instead of handing it back to the kernel (machinery, in ``helpers/_memory.py``).
"""

from __future__ import annotations

import contextlib
import functools
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from helpers import _memory
from helpers.config import fast_mode

MixedPrecision = bool | str | torch.dtype  # False, True, "auto", torch.bfloat16, torch.float16


@dataclass(frozen=True)
class EpochStats:
    """One epoch of :func:`fit`. ``test_loss`` and ``test_accuracy`` hold the evaluation on
    ``fit``'s ``test_loader``, whatever it is: the test split, or a validation split (logged
    under ``fit``'s ``eval_name``; the fields keep their names)."""

    epoch: int
    train_loss: float  # mean over the epoch's images
    test_loss: float  # mean over test_loader's images
    test_accuracy: float  # on test_loader, fraction in [0, 1]
    seconds: float
    step_losses: tuple[float, ...] = ()  # the training loss of each batch, in order


def progress(iterable: Iterable, enabled: bool | None = None, **kwargs):
    """A tqdm progress bar (a widget in Jupyter, text in a terminal), or the plain iterable.

    ``enabled=None`` shows bars for full-size runs and hides them under ``TORCHNN_FAST=1``,
    where loops take seconds and stored notebook outputs should stay clean.
    """
    if enabled is None:
        enabled = not fast_mode()
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, **kwargs)


# --------------------------------------------------------------------------------------------
# Mixed precision: which 16-bit type, on which device, and why


def mixed_precision_dtype(device: torch.device | str) -> torch.dtype | None:
    """The 16-bit type that ``mixed_precision="auto"`` uses on ``device``, or ``None`` when it
    would not be faster there (then the loop stays ``float32``).
    :func:`mixed_precision_reason` says why, in one sentence.

    - CPU: ``bfloat16`` where the CPU computes it natively (AVX512-BF16 or AMX), else ``None``:
      elsewhere ``bfloat16`` is emulated and slower than ``float32``;
    - CUDA: ``bfloat16`` on GPUs that compute it natively (compute capability 8.0 and newer),
      ``float16`` with loss scaling on older GPUs with tensor cores (7.x), else ``None``;
    - anything else (Apple MPS, ...): ``None``, not measured; ``mixed_precision=True`` tries it.
    """
    return _choice(torch.device(device))[0]


def mixed_precision_reason(device: torch.device | str) -> str:
    """Why :func:`mixed_precision_dtype` chooses what it does on ``device``, in one sentence."""
    return _choice(torch.device(device))[1]


@functools.cache
def _choice(device: torch.device) -> tuple[torch.dtype | None, str]:
    if device.type == "cpu":
        cpu = getattr(torch, "cpu", None)
        if _cpu_feature(cpu, "_is_amx_tile_supported"):
            return torch.bfloat16, "this CPU has AMX, matrix units for bfloat16"
        if _cpu_feature(cpu, "_is_avx512_bf16_supported"):
            return torch.bfloat16, "this CPU computes bfloat16 natively (AVX512-BF16)"
        return None, ("this CPU has no native bfloat16 (no AVX512-BF16, no AMX): emulated, "
                      "it would be slower than float32")
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        major, minor = torch.cuda.get_device_capability(device)
        if major >= 8:  # asks about `device`, unlike torch.cuda.is_bf16_supported()
            return torch.bfloat16, (f"{name} (compute capability {major}.{minor}) computes "
                                    "bfloat16 natively; no loss scaling needed")
        if major >= 7:
            return torch.float16, (f"{name} (compute capability {major}.{minor}) has float16 "
                                   "tensor cores; the loop scales the loss (GradScaler)")
        return None, f"{name} (compute capability {major}.{minor}) has no tensor cores"
    return None, f"not measured on {device.type}; mixed_precision=True tries float16"


def _cpu_feature(cpu, probe: str) -> bool:
    """A CPU feature as torch sees it (``torch.cpu._is_...``, absent in some versions)."""
    try:
        return bool(getattr(cpu, probe)())
    except (AttributeError, RuntimeError):
        return False


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _autocast_dtype(mixed_precision: MixedPrecision, device: torch.device) -> torch.dtype | None:
    """What the loops' ``mixed_precision`` argument means on ``device``: a dtype or ``None``."""
    if mixed_precision is False or mixed_precision is None:
        return None
    if mixed_precision == "auto":
        return mixed_precision_dtype(device)
    if mixed_precision is True:
        return mixed_precision_dtype(device) or (
            torch.bfloat16 if device.type == "cpu" else torch.float16)
    if mixed_precision in (torch.bfloat16, torch.float16):
        return mixed_precision
    raise ValueError(f"mixed_precision={mixed_precision!r}: use False, True, 'auto', "
                     "torch.bfloat16 or torch.float16")


def _autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


_scalers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # optimizer -> GradScaler


def _scaler(optimizer: torch.optim.Optimizer, device: torch.device) -> torch.amp.GradScaler:
    """``float16`` gradients underflow without loss scaling: one ``GradScaler`` per optimizer,
    kept here so its scale carries over from one epoch to the next."""
    if optimizer not in _scalers:
        _scalers[optimizer] = torch.amp.GradScaler(device.type)
    return _scalers[optimizer]


# --------------------------------------------------------------------------------------------
# Memory format


def _use_channels_last(model: nn.Module, device: torch.device, channels_last: bool | None,
                       dtype: torch.dtype | None) -> bool:
    """The ``channels_last=None`` rule of the module's docstring."""
    if channels_last is not None:
        return channels_last
    if device.type != "cpu" and not (device.type == "cuda" and dtype is not None):
        return False  # on a GPU it pays with 16-bit tensor cores; float32 stays as it was
    modules = list(model.modules())
    return (any(isinstance(m, nn.Conv2d) for m in modules)
            and all(type(m).forward.__module__.startswith("torch.nn.") for m in modules))


def _to(X: torch.Tensor, device: torch.device, channels_last: bool) -> torch.Tensor:
    if channels_last and X.dim() == 4:
        return X.to(device, non_blocking=True, memory_format=torch.channels_last)
    return X.to(device, non_blocking=True)


# --------------------------------------------------------------------------------------------
# The loop


def train_one_epoch(model: nn.Module, loader: Iterable, loss_fn: nn.Module,
                    optimizer: torch.optim.Optimizer, device: torch.device | str,
                    show_progress: bool | None = None, desc: str = "train",
                    step_losses: list[float] | None = None,
                    mixed_precision: MixedPrecision = False,
                    channels_last: bool | None = None) -> float:
    """One pass over ``loader`` (batches ``(X (N, C, H, W), y (N,))``); mean loss per image.

    Each batch's loss is kept as ``loss.detach()``: like ``loss.item()`` it keeps no graph
    alive, and on a GPU it does not make the CPU wait for every batch to finish before queueing
    the next. They become Python floats once, at the end; pass a list as ``step_losses`` to
    get every batch's loss appended to it. ``mixed_precision`` and ``channels_last``: see the
    module's docstring.
    """
    device = torch.device(device)
    dtype = _autocast_dtype(mixed_precision, device)
    scaler = _scaler(optimizer, device) if dtype == torch.float16 else None
    to_channels_last = _use_channels_last(model, device, channels_last, dtype)
    _memory.keep_freed_memory()
    model.train()
    losses, sizes = [], []
    bar = progress(loader, show_progress, desc=desc, leave=False)
    has_bar = bar is not loader
    for step, (X, y) in enumerate(bar):
        X = _to(X, device, to_channels_last)
        y = y.to(device, non_blocking=True)
        with _autocast(device, dtype):
            loss = loss_fn(model(X), y)
        optimizer.zero_grad()
        if scaler is None:
            loss.backward()
            optimizer.step()
        else:  # float16: scale the loss up so small gradients survive, unscale before the step
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        losses.append(loss.detach())
        sizes.append(len(y))
        if has_bar and step % 10 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    if not losses:
        return 0.0
    per_batch = torch.stack(losses).float().cpu()
    if step_losses is not None:
        step_losses.extend(per_batch.tolist())
    weights = torch.tensor(sizes, dtype=torch.float32)
    return (per_batch * weights).sum().item() / weights.sum().item()


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, loss_fn: nn.Module,
             device: torch.device | str, mixed_precision: MixedPrecision = False,
             channels_last: bool | None = None) -> tuple[float, float]:
    """Mean loss per image and accuracy (fraction correct) of ``model`` on ``loader``.

    Pass the ``mixed_precision`` that ``fit`` used to get the very figures it reported.
    """
    device = torch.device(device)
    dtype = _autocast_dtype(mixed_precision, device)
    to_channels_last = _use_channels_last(model, device, channels_last, dtype)
    _memory.keep_freed_memory()
    model.eval()
    total, correct, count = 0.0, 0, 0
    for X, y in loader:
        X = _to(X, device, to_channels_last)
        y = y.to(device, non_blocking=True)
        with _autocast(device, dtype):
            logits = model(X)
            total += loss_fn(logits, y).item() * len(y)
        correct += (logits.argmax(dim=1) == y).sum().item()
        count += len(y)
    return total / max(count, 1), correct / max(count, 1)


def fit(model: nn.Module, train_loader: Iterable, test_loader: Iterable,
        optimizer: torch.optim.Optimizer, epochs: int, device: torch.device | str,
        loss_fn: nn.Module | None = None, writer=None, show_progress: bool | None = None,
        verbose: bool = True, mixed_precision: MixedPrecision = False,
        channels_last: bool | None = None, eval_name: str = "test") -> list[EpochStats]:
    """Train for ``epochs``, evaluating after each; returns one :class:`EpochStats` per epoch.

    ``test_loader`` is whatever the model is judged on after each epoch: a validation split
    when the results choose something (a learning rate, an optimizer), the test split for a
    final figure. ``eval_name`` names it: with a ``writer`` it logs ``loss/train``,
    ``loss/<eval_name>`` and ``accuracy/<eval_name>`` per epoch and ``loss/train_step``, each
    batch's loss, per step, and the printed lines say ``<eval_name> loss`` and
    ``<eval_name> accuracy`` (``eval_name="val"`` for a validation split). The returned
    :class:`EpochStats` keep the field names ``test_loss`` and ``test_accuracy`` for that
    evaluation, whatever ``eval_name`` is.
    ``mixed_precision`` (off by default) is used for training and evaluating alike; with
    ``verbose`` a first line says what it chose and why.
    """
    if not eval_name or "/" in eval_name or eval_name != eval_name.strip():
        raise ValueError(f"eval_name={eval_name!r}: a short name without '/' or surrounding "
                         "spaces, such as 'test' or 'val' (it ends the TensorBoard tags)")
    loss_fn = nn.CrossEntropyLoss() if loss_fn is None else loss_fn
    device = torch.device(device)
    model.to(device)
    if verbose and mixed_precision is not False:
        dtype = _autocast_dtype(mixed_precision, device)
        what = "float32 only" if dtype is None else f"{_name(dtype)} autocast"
        print(f"mixed_precision={mixed_precision!r}: {what} ({mixed_precision_reason(device)})")
    history = []
    steps_done = 0
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        step_losses: list[float] = []
        train_loss = train_one_epoch(model, train_loader, loss_fn, optimizer, device,
                                     show_progress, desc=f"epoch {epoch}/{epochs}",
                                     step_losses=step_losses, mixed_precision=mixed_precision,
                                     channels_last=channels_last)
        test_loss, accuracy = evaluate(model, test_loader, loss_fn, device, mixed_precision,
                                       channels_last)
        stats = EpochStats(epoch, train_loss, test_loss, accuracy, time.perf_counter() - start,
                           tuple(step_losses))
        history.append(stats)
        if writer is not None:
            for offset, value in enumerate(step_losses, start=steps_done + 1):
                writer.add_scalar("loss/train_step", value, offset)
            writer.add_scalar("loss/train", train_loss, epoch)
            writer.add_scalar(f"loss/{eval_name}", test_loss, epoch)
            writer.add_scalar(f"accuracy/{eval_name}", accuracy, epoch)
        steps_done += len(step_losses)
        if verbose:
            print(f"epoch {epoch:>2}/{epochs}  train loss {train_loss:.4f}  {eval_name} loss "
                  f"{test_loss:.4f}  {eval_name} accuracy {accuracy:6.2%}  "
                  f"({stats.seconds:.1f} s)")
    if writer is not None:
        writer.flush()
    return history
