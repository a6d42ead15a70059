"""`python -m snac_hf COMMAND ...`: the same as the `snac-hf` command (see snac_hf/cli/main.py)."""

import sys

from snac_hf.cli.main import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m snac_hf"))
