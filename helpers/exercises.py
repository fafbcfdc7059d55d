"""Checking a learner's exercise answers against what PyTorch computes.

An exercise in a notebook is three cells: the learner's (``answer = None``), a check
(``check_answer(answer, expected)``) and a hidden solution that the same check verifies, so
CI proves every exercise can be solved and its solution is right.
"""

from __future__ import annotations

from typing import Any

import torch


def check_answer(answer: Any, expected: Any, hint: str = "", name: str = "answer") -> bool:
    """``True`` and a "correct" line if ``answer`` matches ``expected``.

    ``None`` means not answered yet: prints the hint and returns ``False``. A wrong answer
    raises ``AssertionError`` with the hint, without giving the expected value away.
    Tensors are compared with ``torch.testing.assert_close``; shapes, tuples and lists
    compare element by element; floats to 1e-4.
    """
    if answer is None:
        print(f"{name}: not answered yet." + (f" Hint: {hint}" if hint else ""))
        return False
    if not _matches(answer, expected):
        raise AssertionError(f"{name} = {answer!r} is not right yet." +
                             (f" Hint: {hint}" if hint else ""))
    print(f"{name}: correct.")
    return True


def _matches(answer: Any, expected: Any) -> bool:
    if isinstance(expected, torch.Tensor):
        if not isinstance(answer, torch.Tensor):
            answer = torch.as_tensor(answer, dtype=expected.dtype)
        try:
            torch.testing.assert_close(answer.to(expected.dtype), expected, atol=1e-4, rtol=1e-4)
        except (AssertionError, RuntimeError, ValueError):
            return False
        return True
    if isinstance(expected, torch.Size | tuple | list):
        return (isinstance(answer, torch.Size | tuple | list) and len(answer) == len(expected)
                and all(_matches(a, e) for a, e in zip(answer, expected)))
    if isinstance(expected, float):
        return isinstance(answer, int | float) and abs(answer - expected) <= 1e-4 * max(
            1.0, abs(expected))
    return answer == expected
