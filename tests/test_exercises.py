import pytest
import torch

from helpers.exercises import check_answer


def test_unanswered_prints_hint(capsys):
    assert check_answer(None, 3, hint="count the windows") is False
    assert "not answered yet" in capsys.readouterr().out


def test_right_answers_in_several_forms():
    assert check_answer((64, 6, 30, 30), torch.Size([64, 6, 30, 30]))
    assert check_answer(1.10194, 1.1019428)
    assert check_answer([[2.0, 3.0], [5.0, 1.0]], torch.tensor([[2.0, 3.0], [5.0, 1.0]]))
    assert check_answer("ceil", "ceil")


def test_wrong_answers_raise_without_giving_the_answer_away():
    with pytest.raises(AssertionError) as err:
        check_answer(3, 4, hint="think")
    assert "4" not in str(err.value) and "think" in str(err.value)
    with pytest.raises(AssertionError):
        check_answer((64, 6, 30), torch.Size([64, 6, 30, 30]))
    with pytest.raises(AssertionError):
        check_answer(torch.zeros(2), torch.ones(2))


def test_a_tensor_answer_is_compared_without_casting_it_to_the_expected_type():
    """[2.9, 3.5] is not tensor([2, 3]): the answer is never truncated to fit expected's type.
    Integers that are exactly right stay right, and floats keep their 1e-4 tolerance."""
    for wrong in ([2.9, 3.5], torch.tensor([2.9, 3.5]), [2.5, 3.0]):
        with pytest.raises(AssertionError):
            check_answer(wrong, torch.tensor([2, 3]))
    assert check_answer([2, 3], torch.tensor([2, 3]))
    assert check_answer(torch.tensor([2.0, 3.0]), torch.tensor([2, 3]))
    assert check_answer([2, 3], torch.tensor([2.0, 3.0]))
    assert check_answer([0.33333, 2.0], torch.tensor([1 / 3, 2.0], dtype=torch.float64))
    with pytest.raises(AssertionError):
        check_answer([0.333, 2.0], torch.tensor([1 / 3, 2.0]))
    with pytest.raises(AssertionError):  # not a tensor at all: wrong, not a crash
        check_answer("three", torch.tensor([2, 3]))


def test_check_code_reports_unanswered_right_and_wrong(capsys):
    from helpers.exercises import check_code

    def todo():
        raise NotImplementedError

    assert check_code(lambda: todo(), hint="slide a window") is False
    assert "not answered yet. Hint: slide a window" in capsys.readouterr().out

    def relu(x):
        return x.clamp_min(0)

    def test_relu(fn=relu):
        x = torch.tensor([-1.0, 2.0])
        torch.testing.assert_close(fn(x), torch.relu(x))

    assert check_code(test_relu) is True and "correct" in capsys.readouterr().out
    with pytest.raises(AssertionError) as err:
        check_code(lambda: test_relu(lambda x: x), hint="negative values")
    assert "Hint: negative values" in err.value.__notes__
    with pytest.raises(TypeError):  # the learner's own bug shows as it is
        check_code(lambda: test_relu(lambda x: x + "a"))
