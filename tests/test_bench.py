"""torchnn_tools/bench.py: every figure is there and makes sense (tiny sizes; no speed test)."""

import json

import pytest
import torch

from torchnn_tools import bench

KEYS = {"source_ips", "lesson_ips", "ceiling_ips", "speedup_vs_source", "fraction_of_ceiling",
        "device", "torch_threads", "train_flops_per_image", "peak_fp32_gflops",
        "fraction_of_peak", "mixed_ips", "mixed_precision_speedup", "accuracy_fp32",
        "accuracy_mixed"}


@pytest.fixture
def one_thread():
    """One torch thread while a test runs (quick and steady on a busy machine), then as before."""
    before = torch.get_num_threads()
    yield 1
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def result():
    before = torch.get_num_threads()
    try:
        return bench.run(images=20, batch_size=8, repeats=3, warmup=8, threads=1, device="cpu",
                         accuracy_images=32, accuracy_epochs=1, accuracy_test_images=40,
                         log=None)
    finally:
        torch.set_num_threads(before)


def test_figures_are_there_and_consistent(result):
    assert result.keys() >= KEYS
    for key in ("source_ips", "lesson_ips", "ceiling_ips", "dataloader64_ips", "mixed_ips"):
        assert result[key] > 0
    assert result["speedup_vs_source"] == pytest.approx(
        result["lesson_ips"] / result["source_ips"], rel=1e-2)
    assert result["fraction_of_ceiling"] == pytest.approx(
        result["lesson_ips"] / result["ceiling_ips"], rel=1e-2)
    assert result["speedup_vs_source_paired"] > 0 and result["fraction_of_ceiling_paired"] > 0
    assert result["device"] == "cpu" and result["torch_threads"] == 1
    assert result["images_per_repeat"] == 20 and result["repeats"] == 3
    assert all(len(s) == 3 and min(s) > 0 for s in result["seconds"].values())
    json.dumps(result)  # plain JSON types only


def test_the_limit_and_the_fraction_of_it(result):
    """The float32 peak is the best of its kernels over every repeat; the fraction is the lesson
    loop's FLOP rate over it; the limit is the peak over the FLOPs of one image."""
    by_kernel = result["peak_gflops_by_kernel"]
    assert {"float32 mm", "float32 onednn"} <= by_kernel.keys()
    fp32 = [v for k, v in by_kernel.items() if k.startswith("float32")]
    assert result["peak_fp32_gflops"] == max(fp32) > 0
    assert len(result["peaks_gflops"]) == result["repeats"]
    assert all(p[k] <= by_kernel[k] for p in result["peaks_gflops"] for k in p)
    flops = result["train_flops_per_image"]
    assert result["lesson_gflops"] == pytest.approx(result["lesson_ips"] * flops / 1e9, rel=1e-2)
    assert result["fraction_of_peak"] == pytest.approx(
        result["lesson_gflops"] / result["peak_fp32_gflops"], rel=1e-2)
    assert result["limit_fp32_ips"] == pytest.approx(
        result["peak_fp32_gflops"] * 1e9 / flops, rel=1e-2)
    assert result["fraction_of_peak_paired"] > 0
    if result["mixed_precision_auto"] is None:  # no native 16-bit type: no 16-bit peak
        assert result["peak_mixed_gflops"] is None
    else:
        assert result["peak_mixed_gflops"] > 0


def test_mixed_precision_figures(result):
    assert result["mixed_precision_speedup"] == pytest.approx(
        result["mixed_ips"] / result["lesson_ips"], rel=1e-2)
    assert result["mixed_precision_speedup_paired"] > 0
    assert result["mixed_precision_dtype"] == "bfloat16"  # what mixed_precision=True uses here
    assert result["mixed_precision_auto"] in ("bfloat16", None) and result["mixed_precision_reason"]
    for key in ("accuracy_fp32", "accuracy_mixed"):
        assert 0 <= result[key] <= 1
        assert result[key] * 40 == pytest.approx(round(result[key] * 40))  # k of 40 test images
    assert result["accuracy_images"] == 32 and result["accuracy_test_images"] == 40


def test_training_flops_counted_by_hand():
    """FlopCounterMode's count for one step is the lesson network's, by hand: each layer's
    forward is 2 * (multiply-adds); backward costs twice that (the gradients of the input and
    of the weights), except the first convolution, whose input needs no gradient."""
    model, _ = bench.fresh_model(0, torch.device("cpu"))
    batch = (torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,)))
    conv = [2 * 32 * 32 * 32 * 3 * 25, 2 * 16 * 16 * 32 * 32 * 25, 2 * 8 * 8 * 64 * 32 * 25]
    linear = [2 * 1024 * 64, 2 * 64 * 10]
    forward = sum(conv) + sum(linear)
    by_hand = 3 * forward - conv[0]
    assert by_hand == 69_209_856
    assert bench.training_flops_per_image(model, batch, torch.nn.CrossEntropyLoss()) == by_hand
    assert model[0].weight.grad is None  # counted on a copy: the model is untouched


def test_every_way_trains_the_same_images_from_the_same_weights():
    full = bench.load_dataset(train=True, source="synthetic")
    view = bench.FirstImages(full, 70)
    lesson = bench.InMemoryLoader(view, batch_size=64, limit=None)
    assert sum(len(y) for _, y in lesson) == len(view) == 70  # the last batch is partial
    assert view[69][1] == full[69][1] and view.classes == full.classes
    a, _ = bench.fresh_model(0, torch.device("cpu"))
    b, _ = bench.fresh_model(0, torch.device("cpu"))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    with pytest.raises(ValueError):
        bench.FirstImages(full, len(full) + 1)


def test_main_prints_and_writes_the_json(tmp_path, capsys, one_thread):
    out = tmp_path / "bench.json"
    argv = ["--images", "16", "--batch-size", "8", "--repeats", "1", "--warmup", "8",
            "--threads", str(one_thread), "--accuracy-images", "0", "--out", str(out)]
    assert bench.main(argv) == 0
    written = json.loads(out.read_text())
    assert written.keys() >= KEYS and written["batch_size"] == 8
    assert written["accuracy_fp32"] is None  # --accuracy-images 0 skips the accuracy check
    printed = capsys.readouterr().out
    for words in ("b/a =", "b/c =", "e/b =", "matmul peak", "MFLOP per image",
                  "of the float32 peak", "targets:", str(out)):
        assert words in printed
