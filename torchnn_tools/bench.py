"""How fast does the lessons' training loop run, next to the source's loop and this machine's limit?

Trains the lesson network (``helpers.models.CifarNet``, SGD with lr 0.01, cross-entropy) on
the same images, from the same initial weights, in one process, in five ways:

a. source:  the source tutorial's loop: ``DataLoader(batch_size=1)`` over the dataset with
            ``ToTensor()``, one optimizer step per image;
b. lesson:  the helpers' loop exactly as the notebooks use it: ``InMemoryLoader`` (batch 64,
            shuffled) and ``train_one_epoch`` (no progress bar, float32);
c. ceiling: the same loop on batches that are already float, normalised and cut, held in a
            list: what is left without the loader's per-batch work;
e. mixed:   (b) with ``mixed_precision=True``: bfloat16 autocast on a CPU, on a GPU what
            ``helpers.train.mixed_precision_dtype`` picks;

and, to show where the difference comes from, one that is not part of the targets:

d. dataloader64: batch 64 through a plain ``DataLoader`` with ``lesson_transform()``, i.e.
            the source's data pipeline with the lessons' batch size.

The limit, measured in the same run: the matmul peak, the best rate of a large matrix product
in float32 (and in the mixed-precision type where the hardware computes it natively), through
each library torch multiplies with here (BLAS ``torch.mm``; on a CPU also oneDNN, as a 1x1
convolution), and the FLOPs of one training step (forward and backward, counted by
``torch.utils.flop_counter.FlopCounterMode``). ``fraction_of_peak`` is (b)'s FLOP rate over
the float32 peak; ``mixed_precision_speedup`` is e/b. Then an accuracy check: the lesson
network trained the same way in float32 and in mixed precision (SGD with momentum 0.9, the
same images and weights), judged on the same test images.

Every repeat trains ``--images`` images in each way, starting from the same weights, and
measures the peak; they take turns within a repeat (in a rotating order), so a busy machine
slows them alike. A short warm-up per way is not timed. A figure is images / median seconds
of the repeats (the peak: the best of all its calls); the ``_paired`` figures take each
ratio within a repeat, then the median, which is steadier on a busy machine. On a GPU, (b)
keeps its images on the device, (a) and (d) use pinned memory and ``non_blocking`` copies,
and every timing waits for the device (``torch.cuda.synchronize``). Like the notebooks'
kernels (``torchnn_tools.runner``), it runs with ``OMP_WAIT_POLICY=PASSIVE`` unless that or
``GOMP_SPINCOUNT`` is set.

It prints every figure and writes them to ``runs/bench.json``:

    make bench                                       # in the project's .venv
    python -m torchnn_tools bench                    # the same, without make
    python -m torchnn_tools bench --images 2048 --repeats 9 --threads 1
"""

from __future__ import annotations

import argparse
import copy
import functools
import itertools
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

# As torchnn_tools.runner does for the notebooks' kernels: torch's idle OpenMP threads sleep
# at once instead of spinning, so a busy machine slows every way alike instead of wrecking the
# batch-1 loop. On a quiet machine a short spin is faster (GOMP_SPINCOUNT=10000, GNU OpenMP:
# 15-25% here, see CONTRIBUTING.md); libgomp reads these once, when torch is first imported,
# so set either variable to compare.
if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from helpers import config  # noqa: E402
from helpers.data import ImageDataset, lesson_transform, load_dataset  # noqa: E402
from helpers.loaders import InMemoryLoader  # noqa: E402
from helpers.models import CifarNet  # noqa: E402
from helpers.session import pick_device  # noqa: E402
from helpers.train import (  # noqa: E402
    EpochStats,
    _autocast_dtype,  # what the loops' mixed_precision=True means on a device
    fit,
    mixed_precision_dtype,
    mixed_precision_reason,
    train_one_epoch,
)

BATCH_SIZE = 64
LR = 0.01
WAYS = ("source", "lesson", "ceiling", "dataloader64", "mixed")
TARGET_FRACTION_OF_PEAK = 0.55  # (b)'s FLOP rate over the float32 matmul peak
TARGET_MIXED_SPEEDUP = 1.5  # e/b
TARGET_SPEEDUP = 4.0  # b/a


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


def mixed_epoch(loader: Iterable, model: nn.Module, optimizer: torch.optim.Optimizer,
                loss_fn: nn.Module, device: torch.device) -> float:
    """The notebooks' loop with ``mixed_precision=True``."""
    return train_one_epoch(model, loader, loss_fn, optimizer, device, show_progress=False,
                           mixed_precision=True)


# --------------------------------------------------------------------------------------------
# The limit: the matmul peak, and the FLOPs of one training step


def matmul_kernels(dtype: torch.dtype, device: torch.device) -> dict[str, tuple[Callable, int]]:
    """Large matrix products in ``dtype``: name -> (a call, the FLOPs it does).

    ``mm`` is ``torch.mm`` (BLAS: MKL or OpenBLAS on a CPU, cuBLAS on a GPU). On a CPU torch's
    convolutions run in oneDNN, which has its own matrix kernels (on some CPUs, e.g. AMD's,
    faster than MKL's): ``onednn`` is the product ``(N*H*W, C) @ (C, K)`` done as a 1x1
    convolution on a ``channels_last`` tensor, which is exactly that matrix product.
    """
    n = 1024 if device.type == "cpu" else 8192
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    c = torch.empty(n, n, device=device, dtype=dtype)
    kernels = {"mm": (functools.partial(torch.mm, a, b, out=c), 2 * n**3)}
    if device.type == "cpu":
        channels = 512
        x = torch.randn(16, channels, 16, 16, dtype=dtype).contiguous(
            memory_format=torch.channels_last)  # 16 * 16 * 16 = 4096 rows of 512
        w = torch.randn(channels, channels, 1, 1, dtype=dtype).contiguous(
            memory_format=torch.channels_last)
        kernels["onednn"] = (functools.partial(nn.functional.conv2d, x, w),
                             2 * 16 * 16 * 16 * channels * channels)
    return kernels


def best_gflops(call: Callable, flops: int, device: torch.device, calls: int = 5) -> float:
    """GFLOP/s of the fastest of ``calls`` calls (the peak: a busy moment only slows some)."""
    best = float("inf")
    for _ in range(calls):
        best = min(best, timed(call, device))
    return flops / best / 1e9


def training_flops_per_image(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor],
                             loss_fn: nn.Module) -> float:
    """FLOPs of one training step (forward and backward), per image, as ``FlopCounterMode``
    counts them: convolutions and matrix products, i.e. the work a matmul peak is about."""
    model = copy.deepcopy(model)
    X, y = batch
    with FlopCounterMode(display=False) as counter:
        loss_fn(model(X), y).backward()
    return counter.get_total_flops() / len(y)


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


def fresh_model(seed: int, device: torch.device,
                momentum: float = 0.0) -> tuple[nn.Module, torch.optim.Optimizer]:
    """The lesson network with the weights that ``seed`` gives, and its optimizer."""
    torch.manual_seed(seed)
    model = CifarNet().to(device)
    return model, torch.optim.SGD(model.parameters(), lr=LR, momentum=momentum)


def train_lesson_network(train_set: ImageDataset, test_set: ImageDataset, images: int,
                         test_images: int, epochs: int, batch_size: int, seed: int,
                         device: torch.device | str, mixed_precision: bool = False,
                         test_batch_size: int = 256) -> list[EpochStats]:
    """The lesson network trained as 08 trains it (SGD, lr 0.01, momentum 0.9) for ``epochs``
    over ``images`` training images, tested on ``test_images`` after each: ``fit``'s history.
    The accuracy check here and ``python -m torchnn_tools.accuracy`` both use it."""
    model, optimizer = fresh_model(seed, torch.device(device), momentum=0.9)
    train = InMemoryLoader(train_set, batch_size=batch_size, shuffle=True, seed=seed,
                           limit=images, device=device)
    test = InMemoryLoader(test_set, batch_size=test_batch_size, limit=test_images,
                          device=device)
    return fit(model, train, test, optimizer, epochs, device, show_progress=False,
               verbose=False, mixed_precision=mixed_precision)


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


def dtype_name(dtype: torch.dtype | None) -> str | None:
    return None if dtype is None else str(dtype).removeprefix("torch.")


def run(images: int = 1024, repeats: int = 5, warmup: int = 256, batch_size: int = BATCH_SIZE,
        seed: int = 0, data: str = "synthetic", threads: int | None = None,
        device: torch.device | str | None = None, accuracy_images: int = 8192,
        accuracy_epochs: int = 2, accuracy_test_images: int = 2048,
        log: Callable[[str], None] | None = print) -> dict:
    """Measure the ways and the limit; returns every figure (what ``runs/bench.json`` holds)."""
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
    # What mixed_precision=True uses here, and what "auto" would (None: float32, too slow).
    auto_dtype = mixed_precision_dtype(device)
    mixed_dtype = _autocast_dtype(True, device)

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
        "ceiling": (lesson_epoch, ceiling_batches),
        "dataloader64": (lesson_epoch, dataloader64),
        "mixed": (mixed_epoch, lesson_loader),
    }

    def one_pass(way: str, limit: int | None = None) -> float:
        epoch, batches = epochs[way]
        if limit is not None:
            per_batch = 1 if way == "source" else batch_size
            batches = itertools.islice(batches, max(1, limit // per_batch))
        model, optimizer = fresh_model(seed, device)
        return timed(lambda: epoch(batches, model, optimizer, loss_fn, device), device)

    # The limit: the work of one training step, and the peaks of the matrix products.
    model, _ = fresh_model(seed, device)
    flops_per_image = training_flops_per_image(model, ceiling_batches[0], loss_fn)
    peak_dtypes = [torch.float32] + ([auto_dtype] if auto_dtype is not None else [])
    kernels = {f"{dtype_name(dtype)} {name}": kernel for dtype in peak_dtypes
               for name, kernel in matmul_kernels(dtype, device).items()}

    def measure_peaks() -> dict[str, float]:
        return {name: best_gflops(call, flops, device) for name, (call, flops) in kernels.items()}

    log(f"device {device} ({device_name}) | torch {torch.__version__} | "
        f"{torch.get_num_threads()} threads | {data} data | {images} images per repeat, "
        f"batch {batch_size}, median of {repeats} repeats after a {warmup}-image warm-up")
    log(f"mixed precision here: {dtype_name(mixed_dtype)} "
        f"(auto: {dtype_name(auto_dtype) or 'float32 only'}, {mixed_precision_reason(device)})")
    for way in WAYS:
        one_pass(way, limit=warmup)
    measure_peaks()
    turns = WAYS + ("peak",)
    seconds: dict[str, list[float]] = {way: [] for way in WAYS}
    peaks: list[dict[str, float]] = []
    for repeat in range(repeats):
        for way in turns[repeat % len(turns):] + turns[:repeat % len(turns)]:  # each leads
            if way == "peak":
                peaks.append(measure_peaks())
            else:
                seconds[way].append(one_pass(way))
        fp32_peak = max(v for k, v in peaks[-1].items() if k.startswith("float32"))
        log(f"  repeat {repeat + 1}/{repeats}: " + ", ".join(
            f"{way} {images / seconds[way][-1]:,.0f}" for way in WAYS)
            + f" images/s; float32 peak {fp32_peak:,.0f} GFLOP/s")

    ips = {way: images / statistics.median(seconds[way]) for way in WAYS}
    peak_by_kernel = {name: max(p[name] for p in peaks) for name in kernels}

    def peak_of(dtype: torch.dtype, measured: dict[str, float]) -> float:
        return max(v for k, v in measured.items() if k.split()[0] == dtype_name(dtype))

    peak_fp32 = peak_of(torch.float32, peak_by_kernel)
    peak_mixed = peak_of(auto_dtype, peak_by_kernel) if auto_dtype is not None else None
    gflops = {way: ips[way] * flops_per_image / 1e9 for way in WAYS}

    # The accuracy that each precision reaches, trained the same way from the same weights.
    accuracy: dict[str, float | None] = {"fp32": None, "mixed": None}
    accuracy_seconds: dict[str, float | None] = {"fp32": None, "mixed": None}
    if accuracy_images and accuracy_epochs:
        test_full = load_dataset(train=False, source=data)
        test_set = FirstImages(test_full, min(accuracy_test_images, len(test_full)))
        acc_train = FirstImages(full, min(accuracy_images, len(full)))
        for key, mixed in (("fp32", False), ("mixed", True)):
            history = train_lesson_network(acc_train, test_set, len(acc_train), len(test_set),
                                           accuracy_epochs, batch_size, seed, device, mixed)
            accuracy[key] = history[-1].test_accuracy
            accuracy_seconds[key] = sum(epoch.seconds for epoch in history)
        accuracy_images, accuracy_test_images = len(acc_train), len(test_set)
    import torchvision

    def rounded(value: float | None, digits: int) -> float | None:
        return None if value is None else round(value, digits)

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
        # The limit: FLOPs of a training step, the float32 matmul peak, and what is reached.
        "train_flops_per_image": round(flops_per_image),
        "peak_fp32_gflops": round(peak_fp32, 1),
        "peak_mixed_gflops": rounded(peak_mixed, 1),
        "peak_gflops_by_kernel": {k: round(v, 1) for k, v in peak_by_kernel.items()},
        "limit_fp32_ips": round(peak_fp32 * 1e9 / flops_per_image, 1),
        "lesson_gflops": round(gflops["lesson"], 1),
        "fraction_of_peak": round(gflops["lesson"] / peak_fp32, 3),
        "fraction_of_peak_paired": round(statistics.median(
            images * flops_per_image / s / 1e9 / peak_of(torch.float32, p)
            for s, p in zip(seconds["lesson"], peaks)), 3),
        # Mixed precision: (e) over (b), and the accuracy each reaches.
        "mixed_ips": round(ips["mixed"], 1),
        "mixed_precision_speedup": round(ips["mixed"] / ips["lesson"], 3),
        "mixed_precision_speedup_paired": round(statistics.median(
            b / e for b, e in zip(seconds["lesson"], seconds["mixed"])), 3),
        "mixed_precision_dtype": dtype_name(mixed_dtype),
        "mixed_precision_auto": dtype_name(auto_dtype),
        "mixed_precision_reason": mixed_precision_reason(device),
        "accuracy_fp32": rounded(accuracy["fp32"], 4),
        "accuracy_mixed": rounded(accuracy["mixed"], 4),
        "accuracy_seconds": {k: rounded(v, 2) for k, v in accuracy_seconds.items()},
        "accuracy_images": accuracy_images,
        "accuracy_epochs": accuracy_epochs,
        "accuracy_test_images": accuracy_test_images,
        "device": str(device),
        "device_name": device_name,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
        "gomp_spincount": os.environ.get("GOMP_SPINCOUNT", "default"),
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
        "peaks_gflops": [{k: round(v, 1) for k, v in p.items()} for p in peaks],
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
    """The figures, one line per way, the limit, and whether the targets are met."""
    size = result["batch_size"]
    mixed = result["mixed_precision_dtype"]
    rows = (
        ("(a) source : DataLoader(batch_size=1) + ToTensor", "source_ips"),
        (f"(b) lesson : InMemoryLoader({size}) + train_one_epoch", "lesson_ips"),
        (f"(c) ceiling: ready-made batches of {size}, no loader", "ceiling_ips"),
        (f"(d) for comparison: DataLoader({size}) + lesson_transform", "dataloader64_ips"),
        (f"(e) mixed  : (b) with mixed_precision=True ({mixed})", "mixed_ips"),
    )
    log("")
    for label, key in rows:
        log(f"{label:<58}{result[key]:>10,.0f} images/s")
    log(f"b/a = {result['speedup_vs_source']:.2f}x the source's loop; "
        f"b/c = {result['fraction_of_ceiling']:.3f} of the ceiling; "
        f"e/b = {result['mixed_precision_speedup']:.2f}x (mixed precision)")
    kernels = ", ".join(f"{k} {v:,.0f}" for k, v in result["peak_gflops_by_kernel"].items())
    log(f"matmul peak, GFLOP/s: {kernels}")
    log(f"one training step: {result['train_flops_per_image'] / 1e6:.1f} MFLOP per image "
        f"(FlopCounterMode) -> float32 limit {result['limit_fp32_ips']:,.0f} images/s; "
        f"(b) runs at {result['lesson_gflops']:,.0f} GFLOP/s = "
        f"{result['fraction_of_peak']:.3f} of the float32 peak "
        f"({result['fraction_of_peak_paired']:.3f} paired)")
    if result["accuracy_fp32"] is not None:
        log(f"test accuracy after {result['accuracy_epochs']} epochs of "
            f"{result['accuracy_images']} images ({result['accuracy_test_images']} test "
            f"images): float32 {result['accuracy_fp32']:.2%}, {mixed} "
            f"{result['accuracy_mixed']:.2%}")
    checks = (
        (f"fraction_of_peak >= {TARGET_FRACTION_OF_PEAK}",
         result["fraction_of_peak"] >= TARGET_FRACTION_OF_PEAK),
        (f"mixed_precision_speedup >= {TARGET_MIXED_SPEEDUP}",
         result["mixed_precision_speedup"] >= TARGET_MIXED_SPEEDUP),
        (f"speedup_vs_source >= {TARGET_SPEEDUP:g}",
         result["speedup_vs_source"] >= TARGET_SPEEDUP),
    )
    log("targets: " + "; ".join(f"{text} {'met' if ok else 'NOT met'}" for text, ok in checks)
        + f" on {result['device']} ({result['device_name']}, {result['torch_threads']} threads, "
        f"load average {result['load_average_before']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1024, help="images per repeat and way")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (median is kept)")
    parser.add_argument("--warmup", type=int, default=256, help="images per way, not timed")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE,
                        help="batch size of ways b to e (the notebooks use 64)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads (default: torch's own choice)")
    parser.add_argument("--data", default="synthetic", choices=config.SOURCES,
                        help="image source (default synthetic: same images on every machine)")
    parser.add_argument("--accuracy-images", type=int, default=8192,
                        help="training images of the accuracy check (0: skip it)")
    parser.add_argument("--accuracy-epochs", type=int, default=2,
                        help="epochs of the accuracy check")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON file to write (default: runs/bench.json)")
    args = parser.parse_args(argv)

    result = run(images=args.images, repeats=args.repeats, warmup=args.warmup,
                 batch_size=args.batch_size, seed=args.seed, data=args.data, threads=args.threads,
                 accuracy_images=args.accuracy_images, accuracy_epochs=args.accuracy_epochs)
    report(result)
    out = args.out or config.runs_dir() / "bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
