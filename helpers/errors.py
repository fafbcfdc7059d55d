"""What the helpers' own errors look like in a notebook.

Every error the helpers raise on purpose (``DataError``, ``BoardError``, ``SettingError``)
already says what went wrong and what to do. In JupyterLab (and in ``make run``'s kernels) a
traceback through the helpers' code would bury that message under a screen of frames the
learner did not write, so IPython shows these errors as one line instead. Outside IPython
(plain ``python``, pytest) Python prints its usual traceback. To see the frames in a notebook
anyway: ``import traceback, sys; traceback.print_exception(sys.last_value)``.
"""

from __future__ import annotations


class OneLineError:
    """Mixin for an exception class: IPython shows ``Name: message`` and no traceback."""

    def _render_traceback_(self) -> list[str]:  # IPython's hook for custom tracebacks
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"]
