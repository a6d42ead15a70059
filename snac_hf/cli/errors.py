"""How every command reports a user's mistake: one line `error: ...` on stderr and exit status 2.

A user's mistake is an exception of `USER_ERRORS` (plus any types a command adds): a missing or
damaged input (`FileNotFoundError`, `snac_hf.tokenset.integrity.DamagedInputError`), an unreachable Hub
(`snac_hf.tokenset.hub.HubUnreachableError` and huggingface_hub's HTTP errors are `OSError`s), a value that
cannot work (`ValueError`), or what a command adds (tokenize and decode: `CodecLoadError`). Their
messages already say what to do; a traceback would only hide that. Bad flags are argparse's
(`snac_hf.cli.parser.CommandParser`), in the same one-line form.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

#: Exception types that mean "the arguments or inputs cannot work", never "snac_hf has a bug".
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError)
#: Exit status of a user's mistake (argparse's too).
USAGE_STATUS = 2


def one_line(error: BaseException) -> str:
    """The message of `error` on one line (its lines joined by '; '), or its type's name."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return "; ".join(lines) or type(error).__name__


def report(message: str) -> int:
    """Print `error: message` to stderr; return the exit status of a user's mistake."""
    print(f"error: {message}", file=sys.stderr)
    return USAGE_STATUS


def run_command(body: Callable[[], int], also: tuple[type[BaseException], ...] = ()) -> int:
    """Run a command's `body`; an exception of `USER_ERRORS` or `also` becomes `report`'s one line
    and exit status 2. Anything else propagates with its traceback: that is a bug to report."""
    try:
        return body()
    except (*USER_ERRORS, *also) as error:
        return report(one_line(error))
