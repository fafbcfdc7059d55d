"""``python -m torchnn_tools <command>``: every Makefile target, without make.

Only the standard library is imported here, so ``help`` and ``setup`` work with any Python,
before ``.venv`` exists; each command imports what it needs when it runs.
"""

from __future__ import annotations

import sys

# name -> (one line for `help`, "module:function" that takes the remaining arguments)
COMMANDS = {
    "setup": ("create .venv (if missing) and install the pinned packages into it",
              "install:main"),
    "run": ("execute every notebook head-less, print a summary table (make run)",
            "runner:main"),
    "test": ("the whole test suite: ruff, then pytest with nbval (make test)", "checks:test"),
    "lint": ("ruff on the code and the notebooks (make lint)", "checks:lint"),
    "lab": ("JupyterLab on 127.0.0.1, with its token (make lab)", "servers:lab"),
    "tensorboard": ("TensorBoard on runs/, on 127.0.0.1 (make tensorboard)",
                    "servers:tensorboard"),
    "doctor": ("check the setup, one line each: ok or problem, with the fix (make doctor)",
               "doctor:main"),
    "notebooks": ("maintainers: re-execute the notebooks in place, full size (make notebooks)",
                  "runner:refresh"),
    "bench": ("how fast the lessons' training loop runs; writes runs/bench.json (make bench)",
              "bench:main"),
    "translations": ("maintainers: which cells of the Chinese edition need translating "
                     "(--build: build notebooks/zh/)", "editions:main"),
    "book": ("the static site of both editions, book/_build/html/ (make book)", "book:main"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: python -m torchnn_tools <command> [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, (text, _) in COMMANDS.items()]
    lines += ["  " + "help".ljust(width) + "  this list",
              "", "`python -m torchnn_tools <command> --help` says more about one command."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("help", "-h", "--help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"error: no command {name!r}.\n\n{usage()}", file=sys.stderr)
        return 2
    module_name, function = COMMANDS[name][1].split(":")
    import importlib

    try:
        module = importlib.import_module(f"torchnn_tools.{module_name}")
    except ModuleNotFoundError as err:  # a Python without the project's packages
        print(f"error: this Python ({sys.executable}) cannot run `{name}`: {err}. Run "
              f"`python -m torchnn_tools setup` first, then use .venv's Python "
              f"(.venv/bin/python, or .venv\\Scripts\\python on Windows).", file=sys.stderr)
        return 2
    return getattr(module, function)(rest)


if __name__ == "__main__":
    code = main()
    if code == 130:  # interrupted: skip the interpreter's teardown (see runner.exit_now)
        from torchnn_tools.runner import exit_now

        exit_now(code)
    sys.exit(code)
