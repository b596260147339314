"""``python -m attnlib``: the command line of :mod:`attnlib.cli`."""

from .cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
