"""Export a SNAC token set as Orpheus-TTS training data: `python scripts/export.py --help`."""

import os
import sys

# scripts/tokenize.py shadows the standard-library `tokenize`: drop this folder from the path first.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

from snac_hf.cli.export import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
