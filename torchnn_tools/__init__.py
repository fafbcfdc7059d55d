"""The collection's commands: what ``make run``, ``make test``, ... do, as Python commands.

``python -m torchnn_tools <command>`` works wherever ``make`` does not (Windows, a conda
environment); the Makefile calls the same commands. None of this is imported by a notebook:
the learners' code is the ``helpers`` package.

- ``__main__``: the command line (``python -m torchnn_tools help`` lists the commands)
- ``install``: ``setup``: check the Python, create ``.venv`` and install into it (stdlib only)
- ``runner``: ``run`` and ``notebooks``: execute the notebooks head-less
- ``doctor``: ``doctor``: what to run first when something is off
- ``servers``: ``lab`` and ``tensorboard`` on 127.0.0.1
- ``checks``: ``test`` and ``lint``: ruff, then pytest
- ``editions``: ``translations``: build the Chinese edition, say what needs translating
- ``book``: ``book``: the static site of both editions
- ``bench``: ``bench``: how fast the lessons' training loop runs
- ``accuracy``: is the synthetic stand-in learnable (a maintainer's check)
"""
