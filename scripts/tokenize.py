"""Audio -> SNAC token set. See `python scripts/tokenize.py --help` and README.md."""

# This file is named like the standard-library module `tokenize`; Python puts the script's folder
# first on sys.path, so it must leave before anything imports `tokenize` (inspect, linecache...).
import os
import sys

sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

from snac_hf.cli.tokenize import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
