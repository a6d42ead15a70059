"""Token statistics and the BPE-potential report of a token set (see snac_hf/cli/analyze.py)."""

import os
import sys

# scripts/tokenize.py would shadow the standard library's `tokenize`: drop this folder from the path first.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

from snac_hf.cli.analyze import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
