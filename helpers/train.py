"""The training loop, written once: ``train_one_epoch``, ``evaluate`` and ``fit``.

Every function takes what it needs (model, loader, optimizer, device, writer) as arguments.
A running loss is summed from ``loss.detach()`` (or kept as ``loss.item()``), never from
``loss`` itself, so no computation graph outlives its batch. Batches are moved to ``device``
here; a loader whose tensors already live there (``InMemoryLoader(device=...)``) costs
nothing to move.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from helpers.config import fast_mode


@dataclass(frozen=True)
class EpochStats:
    epoch: int
    train_loss: float
    test_loss: float
    test_accuracy: float  # fraction in [0, 1]
    seconds: float


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


def train_one_epoch(model: nn.Module, loader: Iterable, loss_fn: nn.Module,
                    optimizer: torch.optim.Optimizer, device: torch.device | str,
                    show_progress: bool | None = None, desc: str = "train") -> float:
    """One pass over ``loader`` (batches ``(X (N, C, H, W), y (N,))``); mean loss per image.

    The running total is ``loss.detach()`` summed on the device: like ``loss.item()`` it keeps
    no graph alive, and on a GPU it does not make the CPU wait for every batch to finish
    before queueing the next. One ``.item()`` at the end turns it into a Python float.
    """
    model.train()
    total = torch.zeros((), device=device)
    count = 0
    bar = progress(loader, show_progress, desc=desc, leave=False)
    has_bar = bar is not loader
    for step, (X, y) in enumerate(bar):
        X = X.to(device, non_blocking=True)
        y = y.to(device, non_blocking=True)
        loss = loss_fn(model(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.detach() * len(y)
        count += len(y)
        if has_bar and step % 10 == 0:
            bar.set_postfix(loss=f"{total.item() / count:.3f}", refresh=False)
    return total.item() / max(count, 1)


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, loss_fn: nn.Module,
             device: torch.device | str) -> tuple[float, float]:
    """Mean loss per image and accuracy (fraction correct) of ``model`` on ``loader``."""
    model.eval()
    total, correct, count = 0.0, 0, 0
    for X, y in loader:
        X = X.to(device, non_blocking=True)
        y = y.to(device, non_blocking=True)
        logits = model(X)
        total += loss_fn(logits, y).item() * len(y)
        correct += (logits.argmax(dim=1) == y).sum().item()
        count += len(y)
    return total / max(count, 1), correct / max(count, 1)


def fit(model: nn.Module, train_loader: Iterable, test_loader: Iterable,
        optimizer: torch.optim.Optimizer, epochs: int, device: torch.device | str,
        loss_fn: nn.Module | None = None, writer=None, show_progress: bool | None = None,
        verbose: bool = True) -> list[EpochStats]:
    """Train for ``epochs``, evaluating after each; returns one :class:`EpochStats` per epoch.

    With a ``writer`` it logs ``loss/train``, ``loss/test`` and ``accuracy/test`` per epoch.
    """
    loss_fn = nn.CrossEntropyLoss() if loss_fn is None else loss_fn
    model.to(device)
    history = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        train_loss = train_one_epoch(model, train_loader, loss_fn, optimizer, device,
                                     show_progress, desc=f"epoch {epoch}/{epochs}")
        test_loss, accuracy = evaluate(model, test_loader, loss_fn, device)
        stats = EpochStats(epoch, train_loss, test_loss, accuracy, time.perf_counter() - start)
        history.append(stats)
        if writer is not None:
            writer.add_scalar("loss/train", train_loss, epoch)
            writer.add_scalar("loss/test", test_loss, epoch)
            writer.add_scalar("accuracy/test", accuracy, epoch)
        if verbose:
            print(f"epoch {epoch:>2}/{epochs}  train loss {train_loss:.4f}  test loss "
                  f"{test_loss:.4f}  test accuracy {accuracy:6.2%}  ({stats.seconds:.1f} s)")
    if writer is not None:
        writer.flush()
    return history
