"""torchnn_tools/bench.py: every figure is there and makes sense (tiny sizes; no speed test)."""

import json

import pytest
import torch

from torchnn_tools import bench

KEYS = {"source_ips", "lesson_ips", "ceiling_ips", "speedup_vs_source", "fraction_of_ceiling",
        "device", "torch_threads"}


@pytest.fixture
def one_thread():
    """One torch thread while a test runs (quick and steady on a busy machine), then as before."""
    before = torch.get_num_threads()
    yield 1
    torch.set_num_threads(before)


def test_figures_are_there_and_consistent(one_thread):
    result = bench.run(images=20, batch_size=8, repeats=3, warmup=8, threads=one_thread,
                       device="cpu", log=None)
    assert result.keys() >= KEYS
    for key in ("source_ips", "lesson_ips", "ceiling_ips", "dataloader64_ips"):
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
            "--threads", str(one_thread), "--out", str(out)]
    assert bench.main(argv) == 0
    written = json.loads(out.read_text())
    assert written.keys() >= KEYS and written["batch_size"] == 8
    printed = capsys.readouterr().out
    assert "b/a =" in printed and "b/c =" in printed and str(out) in printed
