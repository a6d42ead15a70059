# The README's two commands: `make demo` (set-up + tokenize the bundled speech with the offline
# model + analysis) and `make test` (set-up + lint + the test suite). Both start with set-up.
PYTHON ?= python3
DEMO_OUT ?= out/demo

.PHONY: setup demo test lint bench

setup:
	PYTHON=$(PYTHON) bash scripts/setup.sh

demo: setup
	$(PYTHON) scripts/tokenize.py --input_dir tests/data/speech --output_dir $(DEMO_OUT)/tokens \
		--model "$$($(PYTHON) -c 'from snac_hf.codebook_fit import cached_model_dir; print(cached_model_dir())')" \
		--overwrite

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

test: setup lint
	HF_HUB_OFFLINE=1 $(PYTHON) -m pytest -q
