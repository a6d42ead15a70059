"""The whole evidence run in order: split, compression, the merge curve, its confirmations, report.

1. Split the token set (`splits.split`; and `splits.split_voices` when `voices_by` names a column)
   and compute the uniform and unigram reference levels.
2. Train every variant at every merge budget (`budgets` and the curve's) and each serialization's
   0-merge tokenizer on the train split; measure compression on the held-out split
   (`compression.measure_compression`).
3. **The curve** (`plan`): for every seed of `seeds`, budget setting and tokenization (each
   serialization's raw row, every variant at every budget of `lm_merges` above 0, `orpheus`),
   train the same small LM and measure held-out bits per audio-second, generation speed and wall
   time (`snac_hf.lm.experiment.measure_one`).
4. **At the best budget and at 0** (`curve.overall_best` of the first budget setting, over the
   curve's seeds, and its raw row), in that setting: the `more_seeds`; one training of `longer` x
   the steps per seed of `seeds`; and every seed of `seeds` on the held-out-voices split (its
   tokenizers trained on its own train side, `arm.VOICES_DIR`). Which budget is best is decided by
   the curve's records alone, so a resumed run picks the same one.
5. Judge (`verdict`, `curve`) and write evidence.json, evidence.md and evidence.png (`report`).

Finished trainings are records (`runs`, keyed by tokenization, window, steps and seed) and are
never redone (`arm`). Under `accelerate launch` every LM trains data-parallel on all processes;
the main process trains the tokenizers first (the others wait and load them) and writes every
file. The output folder's `evidence_config.json` holds the settings, the token set's identity
(file ids, durations and code counts) and its codes' digest (`fingerprint.codes_digest`: a set
re-tokenized with another model or `--exact` has the same ids and counts but other codes): a
rerun with the same ones resumes, other ones are refused unless `overwrite` (which removes only
this module's files). Every run record found is checked against the training it stands for before
anything is trained (`runs.check_record`: refused, one line naming it, unless it matches and is
unedited).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

from snac_hf.bpe.corpus import file_ids, open_source, resolve_layout
from snac_hf.evidence.arm import VOICES_DIR, Arm, Job, raw_codes_per_second
from snac_hf.evidence.compression import RECORDS_DIR, TOKENIZERS_DIR, measure_compression, tokenizer_folder
from snac_hf.evidence.curve import overall_best
from snac_hf.evidence.fingerprint import codes_digest
from snac_hf.evidence.plan import (
    ORPHEUS,
    curve_budgets,
    curve_lines,
    plan_tokenizations,
    raw_of,
    variant_options,
    window_name,
)
from snac_hf.evidence.report import write_report
from snac_hf.evidence.runs import RUNS_DIR, Training, check_record, record_files
from snac_hf.evidence.settings import EvidenceSettings
from snac_hf.evidence.splits import split, split_voices
from snac_hf.evidence.verdict import judge
from snac_hf.layout.windowed import window_seconds
from snac_hf.lm.references import position_unigram_levels, reference_levels
from snac_hf.lm.report import describe_data
from snac_hf.tokenset.json_files import DamagedInputError, read_json_object
from snac_hf.tokenset.schema import read_metadata

logger = logging.getLogger(__name__)

CONFIG_FILE = "evidence_config.json"
#: What `overwrite` may remove: only what this module writes.
OWN_FILES = (CONFIG_FILE, "evidence.json", "evidence.md", "evidence.png")
OWN_DIRS = (TOKENIZERS_DIR, RECORDS_DIR, RUNS_DIR, VOICES_DIR)
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
    config: dict, settings: EvidenceSettings, plan: dict, split: dict, training: Training, processes: int
) -> dict:
    """What `training` rests on, as its run record holds it: the token set's codes and identity,
    the layout, the split (`split`), the tokenization (`plan`: name -> (variant, merges)), the
    window, the seed, the process count and the LM's settings with the training's steps (all but
    the budget settings, which only choose the window)."""
    variant, merges = plan[training.tokenization]
    lm = settings.lm_for_seed(training.seed, training.steps).to_dict()
    inputs = {
        "codes": config["codes"],
        "source": config["source"],
        "layout": config["layout"],
        "split": split,
        "tokenization": training.tokenization,
        "variant": variant,
        "merges": merges,
        "window": training.window,
        "seed": training.seed,
        "processes": processes,
        "lm": {k: v for k, v in lm.items() if k != "settings"},
    }
    return json.loads(json.dumps(inputs))  # as it reads back (tuples become lists)


def check_records(folder: Path, plan: dict, settings: EvidenceSettings, inputs) -> int:
    """Check every record this run could use (`runs.check_record`) before anything is trained:
    those of a planned tokenization, seed and steps; `inputs(training)` is the run each stands
    for. Returns how many there are."""
    seeds = {*settings.seeds, *settings.more_seeds}
    steps = {settings.lm.steps, settings.longer_steps}
    found = [
        (path, training)
        for path, training in record_files(folder)
        if training.tokenization in plan and training.seed in seeds and training.steps in steps
    ]
    for path, training in found:
        check_record(path, inputs(training))
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
    token_split: str = "train",
) -> dict:
    """Run (or resume) the experiment of the module docstring on the token set's `token_split`; returns
    the report dict. (Records of another split do not resume here: its codes digest differs.)"""
    from snac_hf.lm.train import make_accelerator

    output = Path(output_dir)
    dataset, folder = open_source(str(source), token_split)
    layout = resolve_layout(dataset, folder, None)
    train, held_out, split_summary = split(dataset, settings.holdout, settings.split_by, settings.split_salt)
    voices, voices_skipped = None, None
    if (
        settings.voices_by is not None
        and settings.voices_by not in dataset.column_names
        and settings.voices_optional
    ):
        voices_skipped = (
            f"no held-out-voices split: the token set has no {settings.voices_by!r} column (keep it when "
            f"tokenizing, --keep_columns {settings.voices_by}, to have one)"
        )
    elif settings.voices_by is not None:  # refused here, before anything is trained, when it cannot be made
        voices = split_voices(dataset, settings.voices_by, settings.voices_share, settings.split_salt)
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
    plan = plan_tokenizations(settings)

    def arm(where: Path, train_set, held_set, split_inputs: dict) -> Arm:
        def inputs(training: Training) -> dict:
            return run_inputs(config, settings, plan, split_inputs, training, accelerator.num_processes)

        check_records(where, plan, settings, inputs)  # before hours of training, not after
        record_inputs = {k: config[k] for k in ("codes", "source", "layout")} | {"split": split_inputs}
        return Arm(where, train_set, held_set, settings, inputs, accelerator, record_inputs)

    hashed = arm(
        output,
        train,
        held_out,
        {"holdout": settings.holdout, "by": settings.split_by, "salt": settings.split_salt},
    )
    voiced = None
    if voices is not None:
        voices_inputs = {
            "voices_by": settings.voices_by,
            "share": settings.voices_share,
            "salt": settings.split_salt,
        }
        voiced = arm(output / VOICES_DIR, voices[0], voices[1], voices_inputs)

    compression = prepare(hashed, layout, plan, split_summary.held_out_seconds, budgets=settings.budgets)
    if voices_skipped:  # said once every record was checked, so a refusal stays one line
        logger.warning("%s", voices_skipped)
    first = settings.lm.settings[0]
    curve = hashed.train(
        [
            Job(name, setting, seed, settings.lm.steps, "curve")
            for seed in settings.seeds
            for setting in settings.lm.settings
            for name in plan
        ],
        "on the curve",
    )
    references = reference_levels(train, held_out, layout, split_summary.held_out_seconds)
    unigram_of = {}
    if ORPHEUS in plan:  # orpheus's own "did it learn" line: the unigram of its position-specific ids
        orpheus_level = position_unigram_levels(train, held_out, layout, split_summary.held_out_seconds)
        references["orpheus_unigram_bits_per_second"] = orpheus_level["unigram_bits_per_second"]
        unigram_of[ORPHEUS] = orpheus_level["unigram_bits_per_second"]
    verdict = judge(
        [r for r in curve if r["setting"] == first],
        references["unigram_bits_per_second"],
        raw_of(settings),
        unigram_of,
    )
    best = overall_best(verdict[first], curve_lines(settings)) if verdict else None
    targets = [best, raw_of(settings)[best]] if best else []
    steps, longer = settings.lm.steps, settings.longer_steps
    confirmations = hashed.train(
        [Job(n, first, s, steps, "more_seeds") for s in settings.more_seeds for n in targets]
        + [Job(n, first, s, longer, "longer") for s in settings.seeds for n in targets if settings.longer],
        "at the best budget and at 0 (more seeds, longer)",
    )
    voices_report = None
    if voiced is not None and targets:
        target_plan = {n: plan[n] for n in targets}
        voices_compression = prepare(voiced, layout, target_plan, voices[2].held_out_seconds, budgets=())
        rows = voiced.train([Job(n, first, s, steps, "voices") for s in settings.seeds for n in targets],
                            "on held-out voices")  # fmt: skip
        voices_report = {
            "split": voices[2].to_dict(),
            "references": reference_levels(voices[0], voices[1], layout, voices[2].held_out_seconds),
            "compression": voices_compression,
            "results": rows,
        }
    report = {
        "data": describe_data(
            dataset, train, held_out, read_metadata(folder) if folder else None, token_split
        ),
        "encoding": encoding_settings(read_metadata(folder) if folder else None),
        "split": split_summary.to_dict(),
        "settings": {**settings.to_dict(), "window_seconds_equal_audio": hashed.window_seconds},
        "processes": accelerator.num_processes,
        "references": references,
        "compression": compression,
        "raw_codes_per_second": raw_codes_per_second(held_out),
        "plan": {
            name: {"variant": v, "merges": m, "raw": raw_of(settings).get(name)}
            for name, (v, m) in plan.items()
        },
        "lines": curve_lines(settings),
        "windows": {window_name(w): window_seconds(layout, w) for w in settings.windows},
        "best": best,
        "results": curve + confirmations,
        "voices": voices_report,
        "voices_skipped": voices_skipped,
    }
    if accelerator.is_main_process:
        report = write_report(report, output)
    return report


#: The token set's encoding settings that change codes (metadata.json `settings`), as the report states them.
ENCODING_KEYS = ("segment_seconds", "context_seconds", "precision", "exact", "compile_changes_codes")


def encoding_settings(metadata: dict | None) -> dict | None:
    """How the token set's codes were made (None: not recorded), so a report says which codes it rests on."""
    settings = (metadata or {}).get("settings")
    return {k: settings[k] for k in ENCODING_KEYS if k in settings} if isinstance(settings, dict) else None


def prepare(arm: Arm, layout, plan: dict, held_out_seconds: float, budgets: tuple[int, ...]) -> list[dict]:
    """Train (main process) or load (the others) the arm's tokenizers: every variant of `plan` at
    `budgets` and at its planned merges; encode the arm's splits with each planned tokenization.
    Returns the compression rows of the variants at `budgets` and at the curve's budgets above 0,
    and (with `budgets`) those of the windowed orders at 0 merges (their round trips)."""
    from snac_hf.lm.sequences import make_orpheus_tokenization, make_tokenization

    settings = arm.settings
    variants = tuple(dict.fromkeys(v for v, _ in plan.values() if v != ORPHEUS))
    with arm.accelerator.main_process_first():
        write = arm.accelerator.is_main_process
        rows = []
        if budgets:
            all_budgets = tuple(sorted(set(budgets) | set(curve_budgets(settings))))
            rows = measure_compression(
                arm.train_set,
                arm.held_out,
                layout,
                settings.variants,
                all_budgets,
                arm.folder,
                held_out_seconds,
                write,
                arm.record_inputs,
            )
        for variant, merges in dict.fromkeys(plan[n] for n in plan if plan[n][0] in variants):
            windowed = measure_compression(
                arm.train_set,
                arm.held_out,
                layout,
                (variant,),
                (merges,),
                arm.folder,
                held_out_seconds,
                write,
                arm.record_inputs,
            )
            if budgets and variant_options(variant)[1]:  # a windowed order: its round trip is reported too
                rows += windowed
    for name, (variant, merges) in plan.items():
        if variant == ORPHEUS:
            arm.tokenizations[name] = make_orpheus_tokenization(name, arm.train_set, arm.held_out, layout)
        else:
            folder = tokenizer_folder(arm.folder, variant, merges)
            arm.tokenizations[name] = make_tokenization(
                name, variant, merges, arm.train_set, arm.held_out, layout, folder, load_saved=True
            )
    return rows
