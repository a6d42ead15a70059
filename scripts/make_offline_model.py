"""Build the offline stand-in SNAC model folder (see snac_hf/codec/codebook_fit.py and README.md)."""

import os
import sys

sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

from snac_hf.cli.make_offline_model import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
