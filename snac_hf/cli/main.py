"""`snac-hf COMMAND ...`: every snac_hf job behind one command (also `python -m snac_hf COMMAND ...`).

Each command is the `main(argv, prog)` of one module, imported only when that command runs, so
`snac-hf analyze` and the BPE commands never import torch. `scripts/*.py` run the same functions
under their own names; `snac-tokenize` is `snac-hf tokenize`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass

from snac_hf.cli.parser import CommandParser


@dataclass(frozen=True)
class Command:
    module: str  # holds `main(argv: list[str] | None, prog: str) -> int`
    summary: str  # one line for `snac-hf --help`


COMMANDS: dict[str, Command] = {
    "tokenize": Command("snac_hf.cli.tokenize", "audio (a folder or a load_dataset source) -> token set"),
    "analyze": Command("snac_hf.cli.analyze", "token statistics and the BPE-potential report (no torch)"),
    "train-bpe": Command("snac_hf.cli.train_bpe", "train one BPE variant into a tokenizer folder (no torch)"),
    "compare-bpe": Command("snac_hf.cli.compare_bpe", "every BPE variant at the same budgets, held out"),
    "export": Command("snac_hf.cli.export", "token set -> Orpheus-TTS (Llama + SNAC) training data"),
    "decode": Command("snac_hf.cli.decode", "token ids (or a token set) -> audio files"),
    "evaluate-lm": Command("snac_hf.cli.evaluate_lm", "a small LM per tokenization: bits per audio-second"),
    "evidence": Command("snac_hf.cli.evidence", "which BPE variant serves an audio LM: the whole experiment"),
    "offline-model": Command("snac_hf.cli.make_offline_model", "build (or find) the offline SNAC model"),
}


def command_list() -> str:
    """The commands, one line each, as `snac-hf --help` shows them."""
    width = max(map(len, COMMANDS))
    return "\n".join(f"  {name:<{width}}  {command.summary}" for name, command in COMMANDS.items())


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = CommandParser(
        prog,
        description=f"SNAC audio tokens as Hugging Face datasets. Commands:\n\n{command_list()}\n\n"
        f"`{prog} COMMAND --help` describes one.",
    )
    parser.add_argument("command", choices=list(COMMANDS), metavar="COMMAND", help="the job to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the command's own arguments")
    return parser


def run(name: str, argv: list[str], prog: str) -> int:
    """Import command `name`'s module and run its `main` with `argv`, its usage saying `prog`."""
    module = importlib.import_module(COMMANDS[name].module)
    return module.main(argv, prog=prog)


def main(argv: list[str] | None = None, prog: str = "snac-hf") -> int:
    args = build_parser(prog).parse_args(sys.argv[1:] if argv is None else argv)
    return run(args.command, args.args, f"{prog} {args.command}")


def snac_tokenize() -> int:
    """The `snac-tokenize` console command: `snac-hf tokenize` under its own name."""
    return run("tokenize", sys.argv[1:], "snac-tokenize")


if __name__ == "__main__":
    sys.exit(main(prog="python -m snac_hf.cli.main"))
