"""How fast does the lessons' training loop run, next to the source's loop and the ceiling?

Trains the lesson network (``helpers.models.CifarNet``, SGD with lr 0.01, cross-entropy) on
the same images, from the same initial weights, in one process, in three ways:

a. source:  the source tutorial's loop: ``DataLoader(batch_size=1)`` over the dataset with
            ``ToTensor()``, one optimizer step per image;
b. lesson:  the helpers' loop exactly as the notebooks use it: ``InMemoryLoader`` (batch 64,
            shuffled) and ``train_one_epoch`` (no progress bar);
c. ceiling: the same model and batch size on batches that are already float, normalised and
            cut, held in a list: nothing left to do but the training steps.

and, to show where the difference comes from, a fourth that is not part of the target:

d. dataloader64: batch 64 through a plain ``DataLoader`` with ``lesson_transform()``, i.e.
            the source's data pipeline with the lessons' batch size.

Every repeat trains ``--images`` images in each way, starting from the same weights; the ways
take turns within a repeat (in a rotating order), so a busy machine slows them alike. A short
warm-up per way is not timed. A figure is images / median seconds of the repeats. On a GPU,
(b) keeps its images on the device, (a) and (d) use pinned memory and ``non_blocking``
copies, and every timing waits for the device (``torch.cuda.synchronize``). Like the
notebooks' kernels (``helpers.runner``), it runs with ``OMP_WAIT_POLICY=PASSIVE`` unless the
variable is set.

It prints b/a and b/c and writes every figure to ``runs/bench.json``:

    make bench                                       # in the project's .venv
    python -m torchnn_tools bench                    # the same, without make
    python -m torchnn_tools bench --images 2048 --repeats 9 --threads 1
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

# As helpers.runner does for the notebooks' kernels: torch's idle OpenMP threads sleep instead
# of spinning, so a busy machine slows every way alike instead of wrecking the batch-1 loop.
# libgomp reads the variable once, when torch is first imported; set it to ACTIVE to compare.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from helpers import config  # noqa: E402
from helpers.data import ImageDataset, lesson_transform, load_dataset  # noqa: E402
from helpers.loaders import InMemoryLoader  # noqa: E402
from helpers.models import CifarNet  # noqa: E402
from helpers.session import pick_device  # noqa: E402
from helpers.train import train_one_epoch  # noqa: E402

BATCH_SIZE = 64
LR = 0.01
WAYS = ("source", "lesson", "ceiling", "dataloader64")
TARGET_FRACTION = 0.85  # of the ceiling, on the 2-core CPU the collection is developed on
TARGET_SPEEDUP = 4.0  # times the source's loop


class FirstImages(ImageDataset):
    """The first ``count`` images of ``dataset``: one view that DataLoader and InMemoryLoader
    both read, so every way trains on the very same images."""

    def __init__(self, dataset: ImageDataset, count: int, transform=None):
        super().__init__(transform)
        if not 0 < count <= len(dataset):
            raise ValueError(f"count must lie in [1, {len(dataset)}], not {count}")
        self.dataset, self.count = dataset, count
        self.classes, self.source, self.train = dataset.classes, dataset.source, dataset.train

    def __len__(self) -> int:
        return self.count

    def images(self, indices):
        return self.dataset.images(indices)

    def labels(self, indices):
        return self.dataset.labels(indices)


# --------------------------------------------------------------------------------------------
# One epoch in each way. Each returns the summed or mean loss, so the work cannot be skipped.


def source_epoch(loader: Iterable, model: nn.Module, optimizer: torch.optim.Optimizer,
                 loss_fn: nn.Module, device: torch.device) -> float:
    """The source's loop: one image per optimizer step.

    The source adds the loss tensors themselves (``running_loss + loss``), which keeps every
    step's graph alive; this adds ``loss.detach()`` instead, which is as fast and waits for the
    device only once, at the end: the kindest version of the source's loop.
    """
    model.train()
    running_loss = torch.zeros((), device=device)
    for imgs, tags in loader:
        imgs = imgs.to(device, non_blocking=True)
        tags = tags.to(device, non_blocking=True)
        loss = loss_fn(model(imgs), tags)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        running_loss += loss.detach()
    return running_loss.item()


def lesson_epoch(loader: Iterable, model: nn.Module, optimizer: torch.optim.Optimizer,
                 loss_fn: nn.Module, device: torch.device) -> float:
    """The notebooks' loop: ``train_one_epoch`` over the loader, progress bar off."""
    return train_one_epoch(model, loader, loss_fn, optimizer, device, show_progress=False)


def ceiling_epoch(batches: Iterable, model: nn.Module, optimizer: torch.optim.Optimizer,
                  loss_fn: nn.Module, device: torch.device) -> float:
    """The training steps alone, on ready-made batches: what the hardware allows."""
    model.train()
    for X, y in batches:
        loss = loss_fn(model(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


# --------------------------------------------------------------------------------------------
# Measuring


def synchronize(device: torch.device) -> None:
    """Wait until ``device`` has finished the work queued so far (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def timed(fn: Callable[[], object], device: torch.device) -> float:
    """Seconds that ``fn()`` takes, including the device work it queues."""
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def fresh_model(seed: int, device: torch.device) -> tuple[nn.Module, torch.optim.Optimizer]:
    """The lesson network with the weights that ``seed`` gives, and its optimizer."""
    torch.manual_seed(seed)
    model = CifarNet().to(device)
    return model, torch.optim.SGD(model.parameters(), lr=LR)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def run(images: int = 1024, repeats: int = 5, warmup: int = 256, batch_size: int = BATCH_SIZE,
        seed: int = 0, data: str = "synthetic", threads: int | None = None,
        device: torch.device | str | None = None,
        log: Callable[[str], None] | None = print) -> dict:
    """Measure the ways; returns every figure (the dictionary that ``runs/bench.json`` holds)."""
    log = log or (lambda message: None)
    if threads:
        torch.set_num_threads(threads)
    if device is None:
        device, device_name = pick_device()
    else:
        device = torch.device(device)
        device_name = str(device)
    if device.type == "cuda":
        device_name = torch.cuda.get_device_name(device)
    elif device.type == "cpu":
        device_name = cpu_name()
    loss_fn = nn.CrossEntropyLoss()
    pin = device.type == "cuda"
    load_before = load_average()

    # The images, decoded (or generated) once before anything is timed: every way reads them.
    start = time.perf_counter()
    full = load_dataset(train=True, source=data)
    train_set = FirstImages(full, min(images, len(full)))
    images = len(train_set)
    train_set.images(range(images))
    data_seconds = time.perf_counter() - start

    # (b) The lessons' loader: one uint8 tensor, on the device, cut into shuffled batches.
    start = time.perf_counter()
    lesson_loader = InMemoryLoader(train_set, batch_size=batch_size, shuffle=True, seed=seed,
                                   limit=images, device=device)
    synchronize(device)
    lesson_setup_seconds = time.perf_counter() - start

    # (a) The source's loader, and (d) the same pipeline with the lessons' batch size.
    source_loader = DataLoader(FirstImages(full, images, transform=transform_to_tensor()),
                               batch_size=1, pin_memory=pin)
    dataloader64 = DataLoader(FirstImages(full, images, transform=lesson_transform()),
                              batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed), pin_memory=pin)

    # (c) Ready-made batches: one epoch of the lessons' loader, kept in a list.
    ceiling_batches = [(X.clone(), y.clone()) for X, y in lesson_loader]

    epochs = {
        "source": (source_epoch, source_loader),
        "lesson": (lesson_epoch, lesson_loader),
        "ceiling": (ceiling_epoch, ceiling_batches),
        "dataloader64": (lesson_epoch, dataloader64),
    }

    def one_pass(way: str, limit: int | None = None) -> float:
        epoch, batches = epochs[way]
        if limit is not None:
            per_batch = 1 if way == "source" else batch_size
            batches = itertools.islice(batches, max(1, limit // per_batch))
        model, optimizer = fresh_model(seed, device)
        return timed(lambda: epoch(batches, model, optimizer, loss_fn, device), device)

    log(f"device {device} ({device_name}) | torch {torch.__version__} | "
        f"{torch.get_num_threads()} threads | {data} data | {images} images per repeat, "
        f"batch {batch_size}, median of {repeats} repeats after a {warmup}-image warm-up")
    for way in WAYS:
        one_pass(way, limit=warmup)
    seconds: dict[str, list[float]] = {way: [] for way in WAYS}
    for repeat in range(repeats):
        for way in WAYS[repeat % len(WAYS):] + WAYS[:repeat % len(WAYS)]:  # each leads in turn
            seconds[way].append(one_pass(way))
        log(f"  repeat {repeat + 1}/{repeats}: " + ", ".join(
            f"{way} {images / seconds[way][-1]:,.0f}" for way in WAYS) + " images/s")

    ips = {way: images / statistics.median(seconds[way]) for way in WAYS}
    import torchvision

    return {
        "source_ips": round(ips["source"], 1),
        "lesson_ips": round(ips["lesson"], 1),
        "ceiling_ips": round(ips["ceiling"], 1),
        "speedup_vs_source": round(ips["lesson"] / ips["source"], 3),
        "fraction_of_ceiling": round(ips["lesson"] / ips["ceiling"], 3),
        "dataloader64_ips": round(ips["dataloader64"], 1),
        # The same ratios taken within each repeat, then the median: steadier on a busy machine.
        "speedup_vs_source_paired": round(statistics.median(
            a / b for a, b in zip(seconds["source"], seconds["lesson"])), 3),
        "fraction_of_ceiling_paired": round(statistics.median(
            c / b for b, c in zip(seconds["lesson"], seconds["ceiling"])), 3),
        "device": str(device),
        "device_name": device_name,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
        "cpu_count": os.cpu_count(),
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
        "python_version": platform.python_version(),
        "data_source": data,
        "images_per_repeat": images,
        "batch_size": batch_size,
        "repeats": repeats,
        "warmup_images": warmup,
        "seed": seed,
        "seconds": {way: [round(s, 4) for s in values] for way, values in seconds.items()},
        "data_seconds": round(data_seconds, 3),
        "lesson_setup_seconds": round(lesson_setup_seconds, 4),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def transform_to_tensor():
    from torchvision import transforms

    return transforms.ToTensor()


def report(result: dict, log: Callable[[str], None] = print) -> None:
    """The figures, one line per way, and whether the target is met."""
    size = result["batch_size"]
    rows = (
        ("(a) source : DataLoader(batch_size=1) + ToTensor", "source_ips"),
        (f"(b) lesson : InMemoryLoader({size}) + train_one_epoch", "lesson_ips"),
        (f"(c) ceiling: ready-made batches of {size}, no loader", "ceiling_ips"),
        (f"(d) for comparison: DataLoader({size}) + lesson_transform", "dataloader64_ips"),
    )
    log("")
    for label, key in rows:
        log(f"{label:<54}{result[key]:>10,.0f} images/s")
    log(f"b/a = {result['speedup_vs_source']:.2f}x the source's loop; "
        f"b/c = {result['fraction_of_ceiling']:.3f} of the ceiling")
    met = (result["fraction_of_ceiling"] >= TARGET_FRACTION
           and result["speedup_vs_source"] >= TARGET_SPEEDUP)
    log(f"target (b/c >= {TARGET_FRACTION}, b/a >= {TARGET_SPEEDUP:g}): "
        f"{'met' if met else 'NOT met'} on {result['device']} ({result['device_name']}, "
        f"{result['torch_threads']} threads)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1024, help="images per repeat and way")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (median is kept)")
    parser.add_argument("--warmup", type=int, default=256, help="images per way, not timed")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE,
                        help="batch size of ways b, c and d (the notebooks use 64)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads (default: torch's own choice)")
    parser.add_argument("--data", default="synthetic", choices=("synthetic", "cifar10", "auto"),
                        help="image source (default synthetic: same images on every machine)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON file to write (default: runs/bench.json)")
    args = parser.parse_args(argv)

    result = run(images=args.images, repeats=args.repeats, warmup=args.warmup,
                 batch_size=args.batch_size, seed=args.seed, data=args.data, threads=args.threads)
    report(result)
    out = args.out or config.runs_dir() / "bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
