import torch

from helpers.models import AddTwo, CifarNet, SingleConv, count_parameters


def test_add_two_is_the_sources_example():
    assert torch.equal(AddTwo()(torch.tensor([1, 2, 3])), torch.tensor([3, 4, 5]))
    assert count_parameters(AddTwo()) == 0


def test_single_conv_shapes_and_parameters():
    net = SingleConv()
    assert net(torch.zeros(64, 3, 32, 32)).shape == (64, 6, 30, 30)
    assert count_parameters(net) == 6 * 3 * 3 * 3 + 6


def test_cifar_net_has_the_tutorials_shape_and_size():
    net = CifarNet()
    assert count_parameters(net) == 145_578
    assert net(torch.ones(64, 3, 32, 32)).shape == (64, 10)
    assert [type(m).__name__ for m in net] == [
        "Conv2d", "MaxPool2d", "Conv2d", "MaxPool2d", "Conv2d", "MaxPool2d", "Flatten",
        "Linear", "Linear",
    ]
    assert net[:6](torch.zeros(1, 3, 32, 32)).shape == (1, 64, 4, 4)  # 64 * 4 * 4 = 1024


def test_count_parameters_trainable_only():
    net = CifarNet()
    for p in net[0].parameters():
        p.requires_grad_(False)
    assert count_parameters(net, trainable_only=True) == 145_578 - (3 * 32 * 25 + 32)
