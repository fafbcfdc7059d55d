"""TensorBoard writers replace runs, grids show every channel, and logs read back."""

import pytest
import torch

from helpers import board
from helpers.models import SingleConv


def write_steps(root, steps, run="main"):
    with board.open_writer("conv2d", run, root=root) as writer:
        for step in steps:
            writer.add_scalar("loss", float(step), step)


def test_reopening_a_run_replaces_it(tmp_path):
    write_steps(tmp_path, range(3))
    write_steps(tmp_path, range(3))
    assert board.read_scalars(tmp_path / "conv2d" / "main", "loss") == [
        (0, 0.0), (1, 1.0), (2, 2.0)]
    assert len(list((tmp_path / "conv2d" / "main").glob("events.out.tfevents.*"))) == 1


def test_other_runs_and_foreign_files_are_left_alone(tmp_path):
    write_steps(tmp_path, [0], run="other")
    keep = tmp_path / "conv2d" / "main" / "my-notes.txt"
    keep.parent.mkdir(parents=True)
    keep.write_text("mine")
    with pytest.raises(board.BoardError, match="my-notes.txt"):
        board.open_writer("conv2d", "main", root=tmp_path)
    assert keep.read_text() == "mine"
    assert board.read_scalars(tmp_path / "conv2d" / "other", "loss") == [(0, 0.0)]


@pytest.mark.parametrize("name", ["../x", "a/b", "", ".hidden"])
def test_names_must_be_plain(tmp_path, name):
    with pytest.raises(board.BoardError, match="plain folder name"):
        board.open_writer(name, "main", root=tmp_path)


def test_unwritable_runs_folder_gives_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(board.BoardError, match="TORCHNN_RUNS_DIR"):
        board.open_writer("conv2d", root=blocker)


def test_channel_grid_shows_each_channel_min_max_scaled():
    fmap = torch.arange(2 * 5 * 4 * 4, dtype=torch.float32).reshape(2, 5, 4, 4) * 3 - 7
    fmap[1, 2] = 4.0  # a constant channel
    grid = board.channel_grid(fmap, padding=1)
    # 2 rows of 5 channels, each 4x4 plus 1 pixel of padding around.
    assert grid.shape == (3, 2 * 5 + 1, 5 * 5 + 1)
    cell = grid[0, 1:5, 1:5]  # image 0, channel 0
    assert cell.min() == 0 and cell.max() == 1
    assert torch.all(grid[:, 6:10, 11:15] == 0)  # image 1, channel 2: constant -> black
    assert torch.equal(grid[0], grid[1]) and torch.equal(grid[1], grid[2])  # grey
    assert board.channel_grid(torch.rand(20, 6, 8, 8), max_images=3).shape[1] == 3 * 9 + 1
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        board.channel_grid(torch.rand(6, 8, 8))


def test_everything_reads_back_with_event_accumulator(tmp_path):
    net = SingleConv()
    X = torch.rand(2, 3, 32, 32)
    with board.open_writer("conv2d", "all", root=tmp_path) as writer:
        writer.add_images("input", X, 0)
        writer.add_image("output/channels", board.channel_grid(net(X)), 0)
        writer.add_scalar("loss", 1.0, 0)
        writer.add_histogram("conv.weight", net.conv.weight, 0)
        board.log_graph(writer, net, X)
    tags = board.read_run(tmp_path / "conv2d" / "all")
    assert tags == {"images": ["input", "output/channels"], "scalars": ["loss"],
                    "histograms": ["conv.weight"], "graph": ["graph"]}
    nodes = board.read_graph(tmp_path / "conv2d" / "all")
    assert [n.shapes for n in nodes if n.op == "IO Node"] == [[(2, 3, 32, 32)], [(2, 6, 30, 30)]]
    conv = [n for n in nodes if n.op == "aten::_convolution"]
    assert len(conv) == 1 and conv[0].name.startswith("SingleConv/Conv2d[conv]/")
    assert conv[0].shapes == [(2, 6, 30, 30)]


def test_log_graph_is_quiet(tmp_path, recwarn):
    with board.open_writer("module", root=tmp_path) as writer:
        board.log_graph(writer, SingleConv(), torch.zeros(1, 3, 8, 8))
    assert not [w for w in recwarn if "jit" in str(w.message)]


def test_reading_a_missing_run(tmp_path):
    with pytest.raises(board.BoardError, match="no TensorBoard run"):
        board.read_run(tmp_path / "nope")


def test_unknown_topics_are_refused_and_nothing_is_created(tmp_path):
    with pytest.raises(board.BoardError) as err:
        board.open_writer("convd2", root=tmp_path)
    assert "convd2" in str(err.value) and "conv2d" in str(err.value)
    assert not any(tmp_path.iterdir())


def test_replacing_never_leaves_the_runs_own_folder(tmp_path):
    """Re-running replaces <topic>/<run> and nothing else: not other topics, not files
    beside the runs, not what a learner logged under runs/ with a plain SummaryWriter."""
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path / "my-experiment" / "main")) as mine:
        mine.add_scalar("loss", 1.0, 0)
    (tmp_path / "bench.json").write_text("{}")
    (tmp_path / "conv2d").mkdir()
    (tmp_path / "conv2d" / "notes.txt").write_text("mine")
    before = {p for p in tmp_path.rglob("*") if p.is_file()}
    write_steps(tmp_path, range(3))
    write_steps(tmp_path, range(3))
    after = {p for p in tmp_path.rglob("*") if p.is_file()}
    run = tmp_path / "conv2d" / "main"
    assert before <= after
    assert {p for p in after - before if run not in p.parents} == {
        tmp_path / "conv2d" / ".main.lock"}


def test_reopening_in_the_same_process_closes_the_earlier_writer(tmp_path):
    """Re-running a notebook cell that opens a writer without closing it: no deadlock, the
    earlier writer is closed, the run holds the new steps once."""
    first = board.open_writer("conv2d", root=tmp_path)
    first.add_scalar("loss", 9.0, 0)
    second = board.open_writer("conv2d", root=tmp_path, wait=2)
    assert first.all_writers is None  # closed
    second.add_scalar("loss", 1.0, 0)
    second.close()
    run = tmp_path / "conv2d" / "main"
    assert board.read_scalars(run, "loss") == [(0, 1.0)]
    assert len(list(run.glob("events.out.tfevents.*"))) == 1


def test_a_run_with_add_scalars_and_add_hparams_subfolders_is_replaced(tmp_path):
    """add_scalars and add_hparams write event files in subfolders of the run: they are
    TensorBoard's, so re-running replaces them too; a file of anyone else's there still blocks."""
    for value in (9.0, 1.0):
        with board.open_writer("loss", root=tmp_path) as writer:
            writer.add_scalar("loss", value, 0)
            writer.add_scalars("curves", {"train": value, "test": value}, 0)
            writer.add_hparams({"lr": value}, {"hparam/loss": value})
    run = tmp_path / "loss" / "main"
    assert board.read_scalars(run, "loss") == [(0, 1.0)]
    assert board.read_scalars(run / "curves_train", "curves") == [(0, 1.0)]  # not 9.0, then 1.0
    assert len([p for p in run.iterdir() if p.is_dir()]) == 3  # train, test, one hparams run
    keep = run / "curves_train" / "notes.txt"
    keep.write_text("mine")
    with pytest.raises(board.BoardError, match="notes.txt"):
        board.open_writer("loss", root=tmp_path)
    assert keep.read_text() == "mine"


def test_a_run_opened_through_another_spelling_of_its_path_is_still_ours(tmp_path,
                                                                          monkeypatch):
    """A relative root names the same run as the absolute one: re-opening closes our own
    writer instead of waiting for it as if it were another process's, and reading does not
    wait either."""
    from helpers import _runs

    first = board.open_writer("conv2d", root=tmp_path)
    monkeypatch.chdir(tmp_path)
    second = board.open_writer("conv2d", root=".", wait=0.5)
    assert first.all_writers is None  # closed
    with _runs._reading(tmp_path / "conv2d" / "main", wait=0.5) as reading:
        assert reading.held is None  # ours: read without taking the lock
    second.close()


HOLDER = """
import sys, time
from pathlib import Path
from helpers import board
root, ready = sys.argv[1], Path(sys.argv[2])
with board.open_writer("conv2d", root=root) as writer:
    ready.write_text("open")
    for step in range(5):
        writer.add_scalar("loss", 100.0 + step, step)
        writer.flush()
        time.sleep(0.4)
"""


def test_two_processes_writing_one_run_take_turns(tmp_path):
    """Another process writing the run: we wait for it to close, then replace its run whole.
    A reader in the meantime waits too and sees a complete run. Too long: a clear error."""
    import subprocess
    import sys
    import time

    ready = tmp_path / "ready"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path), str(ready)])
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert holder.poll() is None and time.monotonic() < deadline, "holder did not start"
            time.sleep(0.05)
        with pytest.raises(board.BoardError) as err:
            board.open_writer("conv2d", root=tmp_path, wait=0.3)
        assert f"being written by another process (pid {holder.pid})" in str(err.value)
        run = tmp_path / "conv2d" / "main"
        # the read waited for the writer to finish: it sees every step, not the first one
        assert board.read_scalars(run, "loss") == [(s, 100.0 + s) for s in range(5)]
        write_steps(tmp_path, range(3))
    finally:
        holder.kill()
        holder.wait()
    assert board.read_scalars(run, "loss") == [(0, 0.0), (1, 1.0), (2, 2.0)]
    assert len(list(run.glob("events.out.tfevents.*"))) == 1


def test_images_read_back_as_they_were_logged(tmp_path):
    """An image logged with add_image (RGB) or add_images (a batch) comes back as the same
    pixels, up to PNG's 8 bits."""
    torch.manual_seed(0)
    rgb = torch.rand(3, 8, 10)
    batch = torch.rand(2, 3, 4, 4)
    with board.open_writer("activations", "img", root=tmp_path) as writer:
        writer.add_image("rgb", rgb, 0)
        writer.add_image("rgb", 1 - rgb, 1)
        writer.add_images("batch", batch, 0)
    run = tmp_path / "activations" / "img"
    [(s0, first), (s1, second)] = board.read_images(run, "rgb")
    assert (s0, s1) == (0, 1) and first.shape == (3, 8, 10)
    torch.testing.assert_close(first, rgb, atol=1 / 255, rtol=0)
    torch.testing.assert_close(second, 1 - rgb, atol=1 / 255, rtol=0)
    [(_, grid)] = board.read_images(run, "batch")  # a batch is stored as one grid image
    assert grid.shape[0] == 3 and not torch.allclose(grid, torch.zeros_like(grid))


def test_reading_a_run_twice_loads_it_once_until_it_changes(tmp_path, monkeypatch):
    from tensorboard.backend.event_processing import event_accumulator

    loads = []
    original = event_accumulator.EventAccumulator.Reload

    def counting(self):
        loads.append(self)
        return original(self)

    monkeypatch.setattr(event_accumulator.EventAccumulator, "Reload", counting)
    write_steps(tmp_path, range(3))
    run = tmp_path / "conv2d" / "main"
    assert board.read_scalars(run, "loss")[-1] == (2, 2.0)
    assert board.read_run(run)["scalars"] == ["loss"]
    assert len(loads) == 1
    write_steps(tmp_path, range(5))  # replaced: new event file
    assert board.read_scalars(run, "loss")[-1] == (4, 4.0) and len(loads) == 2


def test_histograms_read_back_as_their_tensors_summary(tmp_path):
    values = torch.tensor([[-2.0, 0.5], [1.5, 3.0]])
    with board.open_writer("loss", "hist", root=tmp_path) as writer:
        writer.add_histogram("grad/w", values, 0)
        writer.add_histogram("grad/w", values * 2, 1)
    first, second = board.read_histograms(tmp_path / "loss" / "hist", "grad/w")
    assert (first.step, first.count, first.min, first.max) == (0, 4, -2.0, 3.0)
    assert first.sum == pytest.approx(3.0) and first.sum_squares == pytest.approx(15.5)
    assert (second.step, second.min, second.max) == (1, -4.0, 6.0)


@pytest.mark.parametrize("count", [1, 5, 8, 13])
def test_a_logged_batch_reads_back_as_the_batch(tmp_path, count):
    """add_images draws a batch 8 per row; read_images(count=...) cuts it back, grey too."""
    torch.manual_seed(count)
    batch = torch.rand(count, 3, 6, 5)
    grey = torch.rand(count, 1, 4, 4)
    with board.open_writer("activations", "batch", root=tmp_path) as writer:
        writer.add_images("rgb", batch, 0)
        writer.add_images("grey", grey, 0)
    run = tmp_path / "activations" / "batch"
    [(_, rgb)] = board.read_images(run, "rgb", count=count)
    torch.testing.assert_close(rgb, batch, atol=1 / 255, rtol=0)
    [(_, made_rgb)] = board.read_images(run, "grey", count=count)
    torch.testing.assert_close(made_rgb, grey.expand(-1, 3, -1, -1), atol=1 / 255, rtol=0)
    if count == 5:  # a count that cannot have made this picture (5 wide, 1 high)
        with pytest.raises(ValueError, match="equal tiles"):
            board.read_images(run, "rgb", count=13)
