"""The argument parser of every command: every default in `--help`, a bad flag in one line.

`CommandParser(prog, description)` is an `argparse.ArgumentParser` that

- shows each option's default after its help (`(default: 8000)`), except where there is none to
  show (`None`, `False`) or the help text already states it;
- keeps the description as written (docstrings with their own line breaks);
- reports a bad flag or value as `error: MESSAGE (see PROG --help)` and exit status 2, one line like
  every other user error (`snac_hf.cli.errors`), instead of the usage block argparse prints first.

`prog` is how the command was typed: `snac-hf train-bpe`, `scripts/train_bpe.py`,
`python -m snac_hf.cli.train_bpe`.
"""

from __future__ import annotations

import argparse
import copy
import sys
from typing import NoReturn

from snac_hf.cli.errors import USAGE_STATUS


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Descriptions as written; `(default: X)` after each option's help unless X is None or False
    or the help mentions its default already."""

    def _format_action(self, action: argparse.Action) -> str:
        if action.help is None and action.option_strings and self._shows_default(action):
            action = copy.copy(action)  # an option declared without help still shows its default
            action.help = "(default: %(default)s)"
        return super()._format_action(action)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if not self._shows_default(action) or "default" in text.lower():
            return text
        return super()._get_help_string(action)

    @staticmethod
    def _shows_default(action: argparse.Action) -> bool:
        return not any(action.default is value for value in (None, False, argparse.SUPPRESS))  # 0 is shown


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser with `HelpFormatter` whose errors are one line and exit status 2."""

    def __init__(self, prog: str, description: str | None = None, **kwargs) -> None:
        super().__init__(prog=prog, description=description, formatter_class=HelpFormatter, **kwargs)

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(USAGE_STATUS)
