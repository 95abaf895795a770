"""The toolkit's user-facing error type and the one way scripts report it.

Every error that a user can fix (a bad flag value, a missing or corrupt file, a folder owned by another
process, ...) is a ``ToolkitError``; its message says what is wrong, where, and how to fix it. Scripts
run their ``main`` through ``run_main``: a ``ToolkitError`` prints ``error: <message>`` on stderr and
exits with code 2; any other exception is a bug and keeps its traceback. ``--debug`` on the command
line (removed before the script parses its flags) or ``HSI_DEBUG=1`` shows the traceback of a user
error too.
"""
from __future__ import annotations

import os
import sys
import traceback
from typing import Callable, Sequence

USER_ERROR_EXIT = 2
DEBUG_FLAG = "--debug"
DEBUG_ENV = "HSI_DEBUG"


class ToolkitError(Exception):
    """Base class of the errors a user can fix; the message names the input and the fix."""


class OptionError(ToolkitError, ValueError):
    """A flag or option value outside its valid range; the message names the flag."""


def debug_requested(argv: Sequence[str] | None = None) -> bool:
    """True when ``--debug`` is in ``argv`` (default ``sys.argv``) or ``HSI_DEBUG`` is a true word."""
    argv = sys.argv[1:] if argv is None else argv
    return DEBUG_FLAG in argv or os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def run_main(main: Callable[[list[str]], int | None], argv: Sequence[str] | None = None) -> int:
    """Run a script's ``main(argv)``; returns its exit code (0 when it returns None).

    A ``ToolkitError`` becomes ``error: <message>`` and exit code 2 (with its traceback under
    ``--debug`` / ``HSI_DEBUG=1``). ``KeyboardInterrupt`` exits 130 with one line. Other exceptions
    propagate: they are bugs and keep their traceback.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = debug_requested(argv)
    argv = [a for a in argv if a != DEBUG_FLAG]
    try:
        code = main(argv)
    except ToolkitError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return USER_ERROR_EXIT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(code or 0)
