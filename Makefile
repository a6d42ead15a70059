# The README's two commands: `make demo` (set-up + tokenize the bundled speech with the offline
# model + analysis) and `make test` (set-up + lint + the test suite). Both start with set-up.
PYTHON ?= python3
DEMO_OUT ?= out/demo

.PHONY: setup demo test soak lint bench evidence

setup:
	PYTHON=$(PYTHON) bash scripts/setup.sh

demo: setup
	$(PYTHON) scripts/tokenize.py --input_dir tests/data/speech --output_dir $(DEMO_OUT)/tokens \
		--model offline \
		--overwrite

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

test: setup lint
	HF_HUB_OFFLINE=1 $(PYTHON) -m pytest -q -n 2 --dist loadfile --durations=15 -m "not exhaustive"

# The tests that repeat one proof (a rare crash at exit, scheduling) at the issues' full counts,
# and those that repeat a faster test's proof on more data (`exhaustive`); `make test` runs the
# first kind fewer times (tests/conftest.py soak_runs) and the faster test of the second.
soak: setup
	HF_HUB_OFFLINE=1 $(PYTHON) -m pytest -q -n 2 --dist loadfile -m "exhaustive" && \
	SNAC_HF_SOAK_RUNS=20 HF_HUB_OFFLINE=1 $(PYTHON) -m pytest -q -k "exit_cleanly_every_time or oversubscribed"

# The evidence run of EVIDENCE.md v4 (manual, not CI): hours of real speech from Debian packages
# (bench/speech_corpus.py), tokenized with the offline model, then `snac-hf evidence --preset cpu-v4`
# (learning curves, ~3.8 h of 2 idle cores measured). Two processes on 2 cores (one thread each); 4
# windows per process = the preset's 8 per step. The tokenize step pins every setting that changes
# codes (v3's settings: 4 s segments, no context, float32, the fitted offline model; quiet
# segments are float64 since issue 31, so a few silence codes differ from v3's), so tokenize's defaults
# can change without changing these codes; the token set's metadata.json records them, and the
# evidence run's codes digest refuses records made from other codes. The report and its records go
# to bench/evidence/v4 (commit them as they finish; tokenizers/ is ignored and trained again, the
# same, on resume). Rerunning resumes both steps, also in a later session on the same kind of CPU
# (float32 codes depend on CPU type and thread count; other codes are refused, nothing is lost).
EVIDENCE_OUT ?= out/evidence
EVIDENCE_REPORT ?= bench/evidence/v4
EVIDENCE_ENCODING = --segment_length 4.0 --context_length 0 --precision fp32
LAUNCH2 = OMP_NUM_THREADS=1 $(PYTHON) -m accelerate.commands.launch --multi_gpu --num_processes 2 \
	--num_machines 1 --mixed_precision no --dynamo_backend no --main_process_port 0
evidence: setup
	corpus="$$($(PYTHON) bench/speech_corpus.py | cut -f1)" && \
	$(LAUNCH2) scripts/tokenize.py --input_dir "$$corpus" --output_dir $(EVIDENCE_OUT)/tokens \
		--model offline \
		$(EVIDENCE_ENCODING) --keep_columns package language speaker license --no_analysis --no_progress
	$(LAUNCH2) scripts/evidence.py --tokens $(EVIDENCE_OUT)/tokens --output_dir $(EVIDENCE_REPORT) \
		--preset cpu-v4 --batch_size 4
