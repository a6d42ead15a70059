"""Entry point: see snac_hf/cli/evidence.py."""

import os
import sys

sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

from snac_hf.cli.evidence import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
