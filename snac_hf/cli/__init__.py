"""Command-line entry points: `snac-hf COMMAND` (`main.py`) runs the `main(argv, prog)` of one
command's module; `scripts/*.py` and `python -m <module>` run the same functions under their own
names. Argument parsing, one-line errors (`errors`) and console output live here; the work is done
by the library.

May import: everything in snac_hf. Nothing in snac_hf imports this package.
"""
