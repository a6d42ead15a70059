"""Command-line entry points: `snac-hf COMMAND` (`main.py`) runs the `main(argv, prog)` of one job's
module; `scripts/*.py` and `python -m <module>` run the same functions under their own names."""
