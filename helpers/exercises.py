"""Checking a learner's exercise answers: numbers they work out, and code they write.

Two kinds of exercise, each checked by a cell right below it:

- a value (a shape, a count): the learner sets ``answer = ...`` and the check cell calls
  :func:`check_answer`;
- code (a module, a kernel, a loop): the learner fills in a function or class whose body is
  ``raise NotImplementedError``, and the check cell calls :func:`check_code` with a test that
  runs what they wrote and compares it with PyTorch.

Unanswered, a check prints "not answered yet" (and a hint) and the notebook runs on. Each
notebook ends with a "Solutions" section that writes the answers and runs the same checks
again, so CI proves every exercise can be solved and its check really tests something, while
no answer is printed next to its exercise.
"""

from __future__ import annotations

from collections.abc import Callable
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


def check_code(test: Callable[[], Any], hint: str = "", name: str = "your code") -> bool:
    """Run ``test()``, which calls the learner's code and asserts what it must do.

    ``NotImplementedError`` (the exercise's placeholder body) means not answered yet: prints
    the hint and returns ``False``. A failed assertion, or any other error the code raises,
    propagates with the hint added, so the learner sees what went wrong. A test that passes
    prints "correct" and returns ``True``.
    """
    try:
        test()
    except NotImplementedError:
        print(f"{name}: not answered yet." + (f" Hint: {hint}" if hint else ""))
        return False
    except Exception as err:
        if hint:
            err.add_note(f"Hint: {hint}")
        raise
    print(f"{name}: correct.")
    return True


def _matches(answer: Any, expected: Any) -> bool:
    if isinstance(expected, torch.Tensor):
        try:  # in a type holding both, never cast to expected's: 2.9 must not pass as 2
            torch.testing.assert_close(torch.as_tensor(answer), expected, check_dtype=False,
                                       atol=1e-4, rtol=1e-4)
        except (AssertionError, RuntimeError, TypeError, ValueError):
            return False
        return True
    if isinstance(expected, torch.Size | tuple | list):
        return (isinstance(answer, torch.Size | tuple | list) and len(answer) == len(expected)
                and all(_matches(a, e) for a, e in zip(answer, expected)))
    if isinstance(expected, float):
        return isinstance(answer, int | float) and abs(answer - expected) <= 1e-4 * max(
            1.0, abs(expected))
    return answer == expected
