"""The helpers' own errors, and how they look in a notebook.

Every error the helpers raise on purpose says what went wrong and what to do:

- ``SettingError``: an environment variable (``TORCHNN_*``) holds a value the helpers do not
  understand, or asks for a device this machine lacks;
- ``DataError``: a data problem (a missing, broken or unreachable CIFAR-10, a data folder that
  cannot be written, an unknown ``TORCHNN_DATA``);
- ``BoardError``: a TensorBoard folder problem (cannot write, another process is writing).

In JupyterLab (and in ``make run``'s kernels) a traceback through the helpers' code would bury
that message under a screen of frames the learner did not write, so IPython shows these errors
as one line instead. Outside IPython (plain ``python``, pytest) Python prints its usual
traceback. To see the frames in a notebook anyway:
``import traceback, sys; traceback.print_exception(sys.last_value)``.
"""

from __future__ import annotations


class OneLineError(Exception):
    """Base of the helpers' errors: IPython shows ``Name: message`` and no traceback."""

    def _render_traceback_(self) -> list[str]:  # IPython's hook for custom tracebacks
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"]


class SettingError(OneLineError, ValueError):
    """An environment variable holds a value the helpers do not understand."""


class DataError(OneLineError, RuntimeError):
    """A data problem the user can fix; the message says how."""


class BoardError(OneLineError, RuntimeError):
    """A TensorBoard folder problem the user can fix; the message says how."""
