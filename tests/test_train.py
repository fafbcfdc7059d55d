"""A short training run on the synthetic set: the loss falls and TensorBoard gets scalars."""

import os
import subprocess
import sys

import pytest
import torch
from torch import nn

from helpers import _memory, board
from helpers import train as training
from helpers.data import SyntheticShapes
from helpers.loaders import InMemoryLoader
from helpers.models import CifarNet
from helpers.train import (
    EpochStats,
    evaluate,
    fit,
    mixed_precision_dtype,
    mixed_precision_reason,
    train_one_epoch,
)


def loaders():
    train = InMemoryLoader(SyntheticShapes(train=True, size=512), batch_size=64, shuffle=True,
                           limit=None)
    test = InMemoryLoader(SyntheticShapes(train=False, size=256), batch_size=128,
                          limit=None)
    return train, test


def test_fit_lowers_the_loss_and_logs_per_epoch(tmp_path):
    torch.manual_seed(0)
    model = CifarNet()
    train, test = loaders()
    before, _ = evaluate(model, test, nn.CrossEntropyLoss(), "cpu")
    with board.open_writer("optimizer", "test", root=tmp_path) as writer:
        history = fit(model, train, test, torch.optim.SGD(model.parameters(), lr=0.01,
                      momentum=0.9), epochs=3, device="cpu", writer=writer, verbose=False)
    assert [h.epoch for h in history] == [1, 2, 3] and isinstance(history[0], EpochStats)
    assert all(isinstance(h.train_loss, float) for h in history)
    assert history[-1].train_loss < history[0].train_loss
    assert history[-1].test_loss < before
    run = tmp_path / "optimizer" / "test"
    assert board.read_run(run)["scalars"] == ["accuracy/test", "loss/test", "loss/train",
                                              "loss/train_step"]
    logged = board.read_scalars(run, "loss/train")
    assert [step for step, _ in logged] == [1, 2, 3]
    assert [v for _, v in logged] == [torch.tensor(h.train_loss).float().item() for h in history]
    # every batch's loss, numbered on across epochs; each epoch's mean is their weighted mean
    per_step = board.read_scalars(run, "loss/train_step")
    assert [step for step, _ in per_step] == list(range(1, 3 * len(train) + 1))
    assert all(len(h.step_losses) == len(train) for h in history)
    sizes = torch.tensor([len(y) for _, y in train], dtype=torch.float32)
    for h in history:
        mean = (torch.tensor(h.step_losses) * sizes).sum() / sizes.sum()
        assert abs(mean.item() - h.train_loss) < 1e-5


def test_eval_name_names_the_evaluation_tags_and_lines(tmp_path, capsys):
    """fit(eval_name="val") logs accuracy/val and loss/val (not */test) and prints them so;
    EpochStats keeps its test_* fields for that evaluation."""
    torch.manual_seed(0)
    model = CifarNet()
    train, test = loaders()
    with board.open_writer("optimizer", "val", root=tmp_path) as writer:
        history = fit(model, train, test, torch.optim.SGD(model.parameters(), lr=0.01),
                      epochs=2, device="cpu", writer=writer, show_progress=False,
                      eval_name="val")
    run = tmp_path / "optimizer" / "val"
    assert board.read_run(run)["scalars"] == ["accuracy/val", "loss/train", "loss/train_step",
                                              "loss/val"]
    assert [v for _, v in board.read_scalars(run, "accuracy/val")] == [
        torch.tensor(h.test_accuracy).float().item() for h in history]
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(" val loss " in line and " val accuracy " in line
                                   and "test" not in line for line in lines)
    with pytest.raises(ValueError, match="eval_name"):
        fit(model, train, test, torch.optim.SGD(model.parameters(), lr=0.01), epochs=1,
            device="cpu", eval_name="val/a")


def test_same_seed_same_first_epoch():
    def first_loss():
        torch.manual_seed(0)
        model = CifarNet()
        train, _ = loaders()
        return train_one_epoch(model, train, nn.CrossEntropyLoss(),
                               torch.optim.SGD(model.parameters(), lr=0.01), "cpu")

    assert first_loss() == first_loss()


def test_evaluate_counts_correct_predictions():
    class Always(nn.Module):
        def forward(self, X):
            out = torch.zeros(len(X), 10)
            out[:, 3] = 1.0
            return out

    X = torch.zeros(8, 3, 32, 32)
    y = torch.tensor([3, 3, 1, 3, 0, 3, 3, 2])
    loss, accuracy = evaluate(Always(), [(X[:5], y[:5]), (X[5:], y[5:])], nn.CrossEntropyLoss(),
                              "cpu")
    assert accuracy == 5 / 8
    expected = nn.functional.cross_entropy(Always()(X), y).item()
    assert abs(loss - expected) < 1e-6


# --------------------------------------------------------------------------------------------
# Speed: channels_last batches and mixed precision (introduced in 08)


def formats_seen(model):
    """Record, for every forward call, whether the batch came in channels_last."""
    seen = []
    model.register_forward_pre_hook(
        lambda _, args: seen.append(args[0].is_contiguous(memory_format=torch.channels_last)))
    return seen


class FlattenByView(nn.Module):
    """A model with its own forward that calls .view on its input, as many tutorials do."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, kernel_size=3, padding=1)
        self.linear = nn.Linear(3 * 32 * 32, 10)

    def forward(self, X):
        return self.linear(X.view(len(X), -1))


def test_channels_last_only_where_it_is_safe():
    """Built from torch.nn layers with a Conv2d: batches arrive channels_last (same values);
    a model with its own forward gets them unchanged, so its .view still works."""
    train, test = loaders()
    net = CifarNet()
    seen = formats_seen(net)
    train_one_epoch(net, train, nn.CrossEntropyLoss(), torch.optim.SGD(net.parameters(), lr=0.01),
                    "cpu", show_progress=False)
    evaluate(net, test, nn.CrossEntropyLoss(), "cpu")
    assert seen and all(seen)
    assert all(p.is_contiguous() for p in net.parameters())  # the weights are never touched

    own = FlattenByView()
    seen = formats_seen(own)
    train_one_epoch(own, train, nn.CrossEntropyLoss(), torch.optim.SGD(own.parameters(), lr=0.01),
                    "cpu", show_progress=False)
    assert seen and not any(seen)
    with pytest.raises(RuntimeError, match="view"):  # what channels_last=True would do to it
        evaluate(own, test, nn.CrossEntropyLoss(), "cpu", channels_last=True)


def test_channels_last_gives_the_same_numbers():
    X = torch.randn(16, 3, 32, 32)
    y = torch.randint(0, 10, (16,))
    losses = {}
    for channels_last in (False, True):
        torch.manual_seed(0)
        net = CifarNet()
        optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        losses[channels_last] = [train_one_epoch(net, [(X, y)], nn.CrossEntropyLoss(), optimizer,
                                                 "cpu", show_progress=False,
                                                 channels_last=channels_last)
                                 for _ in range(3)]
    torch.testing.assert_close(losses[True], losses[False], rtol=1e-4, atol=1e-5)


def test_mixed_precision_choice_says_what_and_why(monkeypatch):
    dtype = mixed_precision_dtype("cpu")
    assert dtype in (torch.bfloat16, None)
    assert dtype == (torch.bfloat16 if torch.cpu._is_avx512_bf16_supported()
                     or torch.cpu._is_amx_tile_supported() else None)
    assert "bfloat16" in mixed_precision_reason("cpu")
    # A CPU without native bfloat16: "auto" stays float32, True still asks for bfloat16.
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    training._choice.cache_clear()
    try:
        assert mixed_precision_dtype("cpu") is None
        assert "slower" in mixed_precision_reason("cpu")
        assert training._autocast_dtype("auto", torch.device("cpu")) is None
        assert training._autocast_dtype(True, torch.device("cpu")) == torch.bfloat16
    finally:
        training._choice.cache_clear()
    assert mixed_precision_dtype("meta") is None and "not measured" in mixed_precision_reason(
        "meta")
    with pytest.raises(ValueError, match="mixed_precision"):
        training._autocast_dtype("bf16", torch.device("cpu"))


def test_mixed_precision_on_cuda_asks_about_the_device_given(monkeypatch):
    """Two GPUs of different ages: each gets the type its own compute capability allows, not
    the current GPU's (what torch.cuda.is_bf16_supported() would answer)."""
    capability = {0: (8, 0), 1: (7, 5), 2: (6, 1)}
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device: f"GPU {device.index}")
    monkeypatch.setattr(torch.cuda, "get_device_capability",
                        lambda device: capability[device.index])
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    training._choice.cache_clear()
    try:
        assert [mixed_precision_dtype(f"cuda:{i}") for i in capability] == [
            torch.bfloat16, torch.float16, None]
        assert "tensor cores" in mixed_precision_reason("cuda:1")
    finally:
        training._choice.cache_clear()


def test_mixed_precision_trains_and_keeps_float32_weights(capsys):
    """bfloat16 autocast: the loss falls as in float32, the weights and their gradients stay
    float32, and evaluate with the same setting gives the figures fit reported."""
    torch.manual_seed(0)
    model = CifarNet()
    train, test = loaders()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    history = fit(model, train, test, optimizer, epochs=3, device="cpu",
                  show_progress=False, mixed_precision=True)
    assert capsys.readouterr().out.startswith("mixed_precision=True: bfloat16 autocast (")
    assert history[-1].train_loss < history[0].train_loss
    assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32
               for p in model.parameters())
    assert optimizer not in training._scalers  # bfloat16 needs no loss scaling
    loss, accuracy = evaluate(model, test, nn.CrossEntropyLoss(), "cpu", mixed_precision=True)
    assert (loss, accuracy) == (history[-1].test_loss, history[-1].test_accuracy)


def test_float16_scales_the_loss_with_one_scaler_per_optimizer():
    """float16 gradients need loss scaling: the loop keeps one GradScaler per optimizer, whose
    scale carries over between epochs. (Tiny sizes: a CPU has no fast float16 kernels.)"""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, kernel_size=3), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    batches = [(torch.randn(8, 3, 8, 8), torch.arange(8))]
    losses = [train_one_epoch(model, batches, nn.CrossEntropyLoss(), optimizer, "cpu",
                              show_progress=False, mixed_precision=torch.float16)
              for _ in range(20)]
    scaler = training._scalers[optimizer]
    assert isinstance(scaler, torch.amp.GradScaler) and scaler.get_scale() > 1
    assert losses[-1] < losses[0]
    assert all(p.dtype == torch.float32 for p in model.parameters())


PAGE_FAULTS = """
import resource, sys
import torch
from torch import nn
from helpers import _memory
from helpers.models import CifarNet
from helpers.train import train_one_epoch
if sys.argv[1] == "off":  # glibc's thresholds held where they start (128 KB): see the test
    import ctypes
    _memory.keep_freed_memory = lambda: False
    mallopt = ctypes.CDLL(None).mallopt
    mallopt(_memory.M_MMAP_THRESHOLD, 128 << 10)
    mallopt(_memory.M_TRIM_THRESHOLD, 128 << 10)
torch.manual_seed(0)
model = CifarNet()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
batches = [(torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,)))] * 4
train_one_epoch(model, batches, nn.CrossEntropyLoss(), optimizer, "cpu", show_progress=False)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
train_one_epoch(model, batches * 2, nn.CrossEntropyLoss(), optimizer, "cpu", show_progress=False)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 8)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc is Linux's")
def test_freed_memory_is_kept_for_the_next_step():
    """With glibc's thresholds raised (helpers/_memory.py), a training step reuses the pages the
    previous one freed instead of faulting in fresh ones (thousands per step without).

    The comparison holds glibc's thresholds at their starting values: left alone, glibc moves
    its threshold up after some frees, so the default's count wanders from run to run (144 to
    6,272 faults per step measured here), which made this test flaky. Held: about 9,600 per
    step; raised: 0-250."""
    if not _memory.keep_freed_memory():
        pytest.skip("this C library has no mallopt")
    procs = {mode: subprocess.Popen([sys.executable, "-c", PAGE_FAULTS, mode],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    env=dict(os.environ, OMP_NUM_THREADS="1"))
             for mode in ("on", "off")}
    outs = {mode: p.communicate(timeout=300) for mode, p in procs.items()}
    assert all(p.returncode == 0 for p in procs.values()), {m: e[-2000:] for m, (_, e) in
                                                            outs.items()}
    faults = {mode: float(out.strip().splitlines()[-1]) for mode, (out, _) in outs.items()}
    assert faults["off"] > 1000  # 64 images: ~16 MB of buffers freed and faulted in again
    assert faults["on"] < faults["off"] / 5, faults
