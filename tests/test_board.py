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


def test_log_graph_is_quiet(tmp_path, recwarn):
    with board.open_writer("module", root=tmp_path) as writer:
        board.log_graph(writer, SingleConv(), torch.zeros(1, 3, 8, 8))
    assert not [w for w in recwarn if "jit" in str(w.message)]


def test_reading_a_missing_run(tmp_path):
    with pytest.raises(board.BoardError, match="no TensorBoard run"):
        board.read_run(tmp_path / "nope")
