"""A short training run on the synthetic set: the loss falls and TensorBoard gets scalars."""

import torch
from torch import nn

from helpers import board
from helpers.data import SyntheticShapes
from helpers.loaders import InMemoryLoader
from helpers.models import CifarNet
from helpers.train import EpochStats, evaluate, fit, train_one_epoch


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
