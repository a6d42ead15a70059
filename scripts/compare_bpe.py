"""Compare the BPE variants on held-out files: `python scripts/compare_bpe.py --help`."""

import os
import sys

# scripts/tokenize.py shadows the standard-library `tokenize`: drop this folder from the path first.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

from snac_hf.cli.compare_bpe import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
