"""The whole evidence run in order: split, compression at every budget, LMs per seed, report.

1. Split the token set (`splits.split`) and compute the uniform and unigram reference levels.
2. Train every variant at every merge budget (and at `lm_merges`) and the raw-codes tokenizer
   (the `lm.baseline` order, 0 merges) on the train split; measure compression on the held-out
   split (`compression.measure_compression`).
3. For every seed, budget setting and tokenization (raw codes, then every variant at
   `lm_merges`): train the same small LM and measure held-out bits per audio-second, generation
   speed and wall time (`snac_hf.lm.experiment.measure_one`). The equal-audio window lasts
   `context / raw codes per second` seconds. Finished trainings are records (`runs`) and are
   never redone.
4. Judge (`verdict`) and write evidence.json, evidence.md and evidence.png (`report`).

Under `accelerate launch` every LM trains data-parallel on all processes; the main process trains
the tokenizers first (the others wait and load them) and writes every file. The output folder's
`evidence_config.json` holds the settings, the token set's identity (file ids, durations and code
counts) and its codes' digest (`fingerprint.codes_digest`: a set re-tokenized with another model
or `--exact` has the same ids and counts but other codes): a rerun with the same ones resumes,
other ones are refused unless `overwrite` (which removes only this module's files). Every run
record found is checked against the training it stands for before anything is trained
(`runs.check_record`: refused, one line naming it, unless it matches and is unedited).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

from snac_hf.bpe.corpus import file_ids, open_source, resolve_layout
from snac_hf.evidence.compression import RECORDS_DIR, TOKENIZERS_DIR, measure_compression, tokenizer_folder
from snac_hf.evidence.fingerprint import codes_digest
from snac_hf.evidence.report import write_report
from snac_hf.evidence.runs import RUNS_DIR, check_record, load_record, record_files, save_record
from snac_hf.evidence.settings import EvidenceSettings
from snac_hf.evidence.splits import split
from snac_hf.evidence.verdict import RAW
from snac_hf.lm.references import reference_levels
from snac_hf.lm.report import describe_data
from snac_hf.tokenset.json_files import DamagedInputError, read_json_object
from snac_hf.tokenset.schema import read_metadata

logger = logging.getLogger(__name__)

CONFIG_FILE = "evidence_config.json"
#: What `overwrite` may remove: only what this module writes.
OWN_FILES = (CONFIG_FILE, "evidence.json", "evidence.md", "evidence.png")
OWN_DIRS = (TOKENIZERS_DIR, RECORDS_DIR, RUNS_DIR)
#: What each part of the config is, in a refusal's words.
CONFIG_PARTS = {
    "settings": "settings",
    "source": "token set (other file ids, durations or code counts)",
    "codes": "codes (the token set was re-tokenized or edited)",
    "layout": "codec layout",
}


class ConfigMismatch(ValueError):
    """The output folder holds an evidence run with other settings or another token set."""


def source_identity(dataset) -> str:
    """SHA-256 of the file ids, their durations and their code counts, in row order."""
    digest = hashlib.sha256()
    columns = [c for c in dataset.column_names if c == "duration" or c.startswith("n_tokens_scale_")]
    table = dataset.select_columns(columns).with_format("arrow")[:]
    digest.update(json.dumps(file_ids(dataset)).encode())
    for name in sorted(columns):
        digest.update(json.dumps(table.column(name).to_pylist()).encode())
    return digest.hexdigest()


def check_config(output_dir: Path, config: dict, overwrite: bool) -> None:
    """Refuse (ConfigMismatch) a folder holding another run unless `overwrite`; then write `config`.

    An `evidence_config.json` that is not a JSON object is a `DamagedInputError` naming it (with
    `overwrite`, a run of unknown settings to replace)."""
    path = output_dir / CONFIG_FILE
    config = json.loads(json.dumps(config))  # as it reads back (tuples become lists)
    if path.is_file():
        try:
            saved = read_json_object(
                path,
                "it is this folder's evidence run config: restore it, pass --overwrite to start the run "
                "there again, or give another --output_dir",
            )
        except DamagedInputError:
            if not overwrite:
                raise
            saved = None
        if saved != config and not overwrite:
            changed = sorted(k for k in config.keys() | saved.keys() if config.get(k) != saved.get(k))
            on_data = any(k in ("source", "codes") for k in changed)
            resume = "rerun on the token set it was made from" if on_data else "rerun with the same settings"
            parts = ", ".join(
                "codes (not recorded: an older snac_hf made it)" if k == "codes" and k not in saved
                else CONFIG_PARTS.get(k, k)
                for k in changed
            )  # fmt: skip
            raise ConfigMismatch(
                f"{output_dir} holds an evidence run with other {parts}; "
                f"nothing was changed. Give another --output_dir, {resume} to resume, or pass --overwrite"
            )
        if saved == config:
            return  # the same run: resume, the file untouched
        remove_own_files(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(CONFIG_FILE + ".partial")
    partial.write_text(json.dumps(config, indent=2) + "\n")
    os.replace(partial, path)


def run_inputs(
    config: dict,
    settings: EvidenceSettings,
    plan: dict,
    tokenization: str,
    window: int,
    seed: int,
    processes: int,
) -> dict:
    """What the training (`tokenization`, `window`, `seed`) rests on, as its run record holds it:
    the token set's codes and identity, the layout, the split, the tokenization (`plan`: name ->
    (variant, merges)), the window, the seed, the process count and the LM's settings (all but
    the budget settings, which only choose the window)."""
    variant, merges = plan[tokenization]
    lm = {k: v for k, v in settings.lm_for_seed(seed).to_dict().items() if k != "settings"}
    inputs = {
        "codes": config["codes"],
        "source": config["source"],
        "layout": config["layout"],
        "split": {"holdout": settings.holdout, "by": settings.split_by, "salt": settings.split_salt},
        "tokenization": tokenization,
        "variant": variant,
        "merges": merges,
        "window": window,
        "seed": seed,
        "processes": processes,
        "lm": lm,
    }
    return json.loads(json.dumps(inputs))  # as it reads back (tuples become lists)


def check_records(output_dir: Path, plan: dict, seeds: tuple[int, ...], inputs) -> int:
    """Check every record this run could use (`runs.check_record`) before anything is trained;
    `inputs(tokenization, window, seed)` is the run each stands for. Returns how many there are."""
    found = [(p, t, w, s) for p, t, w, s in record_files(output_dir) if t in plan and s in seeds]
    for path, tokenization, window, seed in found:
        check_record(path, inputs(tokenization, window, seed))
    return len(found)


def remove_own_files(output_dir: Path) -> None:
    for name in OWN_FILES:
        (output_dir / name).unlink(missing_ok=True)
    for name in OWN_DIRS:
        shutil.rmtree(output_dir / name, ignore_errors=True)


def run_evidence(
    source: str | os.PathLike,
    output_dir: str | os.PathLike,
    settings: EvidenceSettings,
    overwrite: bool = False,
) -> dict:
    """Run (or resume) the experiment of the module docstring; returns the report dict."""
    from snac_hf.lm.experiment import measure_one
    from snac_hf.lm.sequences import make_tokenization
    from snac_hf.lm.train import make_accelerator

    output = Path(output_dir)
    dataset, folder = open_source(str(source))
    layout = resolve_layout(dataset, folder, None)
    train, held_out, split_summary = split(dataset, settings.holdout, settings.split_by, settings.split_salt)
    accelerator = make_accelerator()
    config = {
        "settings": settings.to_dict(),
        "source": source_identity(dataset),
        "codes": codes_digest(dataset),
        "layout": layout.to_dict(),
    }
    if accelerator.is_main_process:
        check_config(output, config, overwrite)
    accelerator.wait_for_everyone()
    baseline = settings.lm.baseline or "cross_scale"
    plan = [(RAW, baseline, 0)] + [
        (f"{v}-{settings.lm_merges}", v, settings.lm_merges) for v in settings.variants
    ]
    planned = {name: (variant, merges) for name, variant, merges in plan}

    def inputs(name: str, window: int, seed: int) -> dict:
        return run_inputs(config, settings, planned, name, window, seed, accelerator.num_processes)

    check_records(output, planned, settings.seeds, inputs)  # before hours of training, not after

    budgets = tuple(sorted(set(settings.budgets) | {settings.lm_merges}))
    seconds = split_summary.held_out_seconds
    with accelerator.main_process_first():
        write = accelerator.is_main_process
        compression = measure_compression(
            train, held_out, layout, settings.variants, budgets, output, seconds, write
        )
        measure_compression(train, held_out, layout, (baseline,), (0,), output, seconds, write)
    tokenizations = {
        name: make_tokenization(
            name,
            variant,
            merges,
            train,
            held_out,
            layout,
            tokenizer_folder(output, variant, merges),
            load_saved=True,
        )
        for name, variant, merges in plan
    }
    references = reference_levels(train, held_out, layout, seconds)
    window_seconds = settings.lm.context / tokenizations[RAW].train.tokens_per_second

    def window_of(name: str, setting: str) -> int:
        if setting == "equal_steps":
            return settings.lm.context
        return max(8, round(window_seconds * tokenizations[name].train.tokens_per_second))

    jobs = [
        (seed, setting, name)
        for seed in settings.seeds
        for setting in settings.lm.settings
        for name in tokenizations
    ]
    done = {}
    for seed, setting, name in jobs:
        window = window_of(name, setting)
        record = load_record(output, name, window, seed, inputs(name, window, seed))
        if record is not None:
            done[(seed, name, window)] = record
    accelerator.wait_for_everyone()  # every process decided what is done before anything is written
    todo = len({(seed, name, window_of(name, setting)) for seed, setting, name in jobs} - done.keys())
    logger.info("LM trainings: %d done before, %d to run", len(done), todo)
    results = []
    for seed, setting, name in jobs:
        window = window_of(name, setting)
        key = (seed, name, window)
        if key not in done:
            done[key] = measure_one(tokenizations[name], window, settings.lm_for_seed(seed), accelerator)
            if accelerator.is_main_process:
                save_record(output, name, window, seed, done[key], inputs(name, window, seed))
        results.append({**done[key], "tokenization": name, "setting": setting, "seed": seed})

    report = {
        "data": describe_data(dataset, train, held_out, read_metadata(folder) if folder else None),
        "split": split_summary.to_dict(),
        "settings": {**settings.to_dict(), "window_seconds_equal_audio": window_seconds},
        "processes": accelerator.num_processes,
        "references": references,
        "compression": compression,
        "raw_codes_per_second": tokenizations[RAW].held_out.tokens_per_second,
        "results": results,
    }
    if accelerator.is_main_process:
        report = write_report(report, output)
    return report
