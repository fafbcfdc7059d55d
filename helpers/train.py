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
    train_loss: float  # mean over the epoch's images
    test_loss: float
    test_accuracy: float  # fraction in [0, 1]
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


def train_one_epoch(model: nn.Module, loader: Iterable, loss_fn: nn.Module,
                    optimizer: torch.optim.Optimizer, device: torch.device | str,
                    show_progress: bool | None = None, desc: str = "train",
                    step_losses: list[float] | None = None) -> float:
    """One pass over ``loader`` (batches ``(X (N, C, H, W), y (N,))``); mean loss per image.

    Each batch's loss is kept as ``loss.detach()``: like ``loss.item()`` it keeps no graph
    alive, and on a GPU it does not make the CPU wait for every batch to finish before queueing
    the next. They become Python floats once, at the end; pass a list as ``step_losses`` to
    get every batch's loss appended to it.
    """
    model.train()
    losses, sizes = [], []
    bar = progress(loader, show_progress, desc=desc, leave=False)
    has_bar = bar is not loader
    for step, (X, y) in enumerate(bar):
        X = X.to(device, non_blocking=True)
        y = y.to(device, non_blocking=True)
        loss = loss_fn(model(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
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

    ``test_loader`` is whatever the model is judged on after each epoch: a validation split
    when the results choose something (a learning rate, an optimizer), the test split for a
    final figure. With a ``writer`` it logs ``loss/train``, ``loss/test`` and
    ``accuracy/test`` per epoch and ``loss/train_step``, each batch's loss, per step.
    """
    loss_fn = nn.CrossEntropyLoss() if loss_fn is None else loss_fn
    model.to(device)
    history = []
    steps_done = 0
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        step_losses: list[float] = []
        train_loss = train_one_epoch(model, train_loader, loss_fn, optimizer, device,
                                     show_progress, desc=f"epoch {epoch}/{epochs}",
                                     step_losses=step_losses)
        test_loss, accuracy = evaluate(model, test_loader, loss_fn, device)
        stats = EpochStats(epoch, train_loss, test_loss, accuracy, time.perf_counter() - start,
                           tuple(step_losses))
        history.append(stats)
        if writer is not None:
            for offset, value in enumerate(step_losses, start=steps_done + 1):
                writer.add_scalar("loss/train_step", value, offset)
            writer.add_scalar("loss/train", train_loss, epoch)
            writer.add_scalar("loss/test", test_loss, epoch)
            writer.add_scalar("accuracy/test", accuracy, epoch)
        steps_done += len(step_losses)
        if verbose:
            print(f"epoch {epoch:>2}/{epochs}  train loss {train_loss:.4f}  test loss "
                  f"{test_loss:.4f}  test accuracy {accuracy:6.2%}  ({stats.seconds:.1f} s)")
    if writer is not None:
        writer.flush()
    return history
