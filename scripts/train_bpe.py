"""Train a BPE variant over a SNAC token set: `python scripts/train_bpe.py --help`."""

import os
import sys

# scripts/tokenize.py shadows the standard-library `tokenize`: drop this folder from the path first.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

from snac_hf.cli.train_bpe import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
