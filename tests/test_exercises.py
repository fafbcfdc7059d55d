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
