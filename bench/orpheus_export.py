"""Throughput and memory of `snac-hf export --format orpheus` on a synthetic 100-hour token set.

    python bench/orpheus_export.py                          # 100 h (+10 h for memory), /tmp
    python bench/orpheus_export.py --hours 20 --small_hours 2 --num_proc 2

1. Writes synthetic SNAC 24 kHz token sets under --workdir (never in the repository), once; later
   runs reuse them: files of 2-20 s (uniform), `layout.n_codes` codes per scale (partial last
   frames included) and the padding codes that complete the last frame (`padding_scale_k`, as
   tokenize writes them since issue 28), uniform random codes, a transcript of ~2.5 words per
   second from a fixed word list, 256 files per shard (tokenize's default), with a metadata.json
   like tokenize's. Also a byte-level BPE text tokenizer (with a BOS, as Llama 3's) trained on the word list.
2. Runs the export (`snac_hf.export.export_orpheus`, what the command runs, card included) in a
   fresh subprocess per set and `num_proc`, timing it and reading the peak resident memory of the
   process and of its worker processes (`resource.getrusage`).

The rate is audio-seconds exported per second of wall time, per process (the goal: >= 20,000, i.e.
1,000 hours in under 3 minutes on one process). Prints a Markdown section for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Features, Value

from snac_hf.layout import layout_for
from snac_hf.tokenset.schema import METADATA_FILE, shard_name, token_features

LAYOUT = layout_for("snac_24khz")
FILES_PER_SHARD = 256
WORDS = (
    "the of and to in a is that it was for on are as with his they at be this from have or by one had "
    "not but what all were when we there can an your which their said if do will each about how up out "
    "them then she many some so these would other into has more her two like him see time could no make"
).split()


def list_array(flat: np.ndarray, lengths: np.ndarray, value_type: pa.DataType) -> pa.Array:
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, value_type))


def shard_table(rng: np.random.Generator, seconds: np.ndarray, first_id: int, schema: pa.Schema) -> pa.Table:
    """One shard of token-set rows for files of `seconds`, built from flat arrays (no list per code)."""
    samples = np.round(seconds * LAYOUT.sampling_rate).astype(np.int64)
    lengths = np.stack([-(-samples // LAYOUT.samples_per_code(k)) for k in range(3)], axis=1)
    ids = [f"synthetic/{first_id + i:07d}.wav" for i in range(seconds.size)]
    words = rng.integers(0, len(WORDS), int(np.ceil(seconds.sum() * 2.5)) + seconds.size)
    word_counts = np.maximum(1, np.round(seconds * 2.5).astype(np.int64))
    starts = np.concatenate([[0], np.cumsum(word_counts)])
    texts = [" ".join(WORDS[w] for w in words[starts[i] : starts[i + 1]]) for i in range(seconds.size)]
    columns = {"id": ids, "file_path": ids, "duration": samples / LAYOUT.sampling_rate}
    arrays = [pa.array(columns["id"]), pa.array(columns["file_path"]), pa.array(columns["duration"])]
    for k in range(3):
        flat = rng.integers(0, 4096, int(lengths[:, k].sum()), dtype=np.int16)
        arrays.append(list_array(flat, lengths[:, k], pa.int16()))
    arrays += [pa.array(lengths[:, k].astype(np.int32)) for k in range(3)]
    for k in range(3):
        shape = np.stack([np.ones(seconds.size, np.int32), lengths[:, k].astype(np.int32)], axis=1)
        arrays.append(list_array(shape.reshape(-1), np.full(seconds.size, 2), pa.int32()))
    frames = lengths[:, 0]
    for k, per_frame in enumerate(LAYOUT.codes_per_frame):  # padding codes: the rest of the last frame
        padding = frames * per_frame - lengths[:, k]
        arrays.append(
            list_array(rng.integers(0, 4096, int(padding.sum()), dtype=np.int16), padding, pa.int16())
        )
    arrays.append(pa.array(texts, pa.string()))
    return pa.Table.from_arrays(arrays, schema=schema)


def make_token_set(folder: str, hours: float, seed: int = 0) -> dict:
    """A token-set folder of about `hours` of audio (skipped when complete); its size."""
    done = os.path.join(folder, ".complete")
    if os.path.exists(done):
        return json.loads(open(done).read())
    rng = np.random.default_rng(seed)
    seconds = rng.uniform(2, 20, size=int(hours * 3600 / 11) + 1)
    seconds = seconds[: int(np.searchsorted(np.cumsum(seconds), hours * 3600)) + 1]
    shards = -(-seconds.size // FILES_PER_SHARD)
    schema = token_features(3, Features({"text": Value("string")}), padding=True).arrow_schema
    for index in range(shards):
        part = seconds[index * FILES_PER_SHARD : (index + 1) * FILES_PER_SHARD]
        path = os.path.join(folder, shard_name(index, shards))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        pq.write_table(shard_table(rng, part, index * FILES_PER_SHARD, schema), path, compression="zstd")
    metadata = {
        "files_processed": int(seconds.size),
        "num_shards": shards,
        "total_duration_seconds": float(seconds.sum()),
        "synthetic": True,
        "codec": {"layout": LAYOUT.to_dict()},
    }
    with open(os.path.join(folder, METADATA_FILE), "w") as f:
        json.dump(metadata, f)
    size = {"files": int(seconds.size), "seconds": float(seconds.sum()), "shards": shards}
    with open(done, "w") as f:
        json.dump(size, f)
    return size


def make_text_tokenizer(folder: str) -> str:
    if os.path.isfile(os.path.join(folder, "tokenizer.json")):
        return folder
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600, special_tokens=["<bos>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator([" ".join(WORDS)] * 10, trainer)
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 0)])
    PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>").save_pretrained(folder)
    return folder


EXPORT_CHILD = """
import json, resource, sys, time
from snac_hf.export import ExportSettings, export_orpheus
tokens, tokenizer, out, frames = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[5]
num_proc = int(sys.argv[4])
# The bench's small BPE is no Llama 3 tokenizer: its speed is what is measured, so the check is waived.
settings = ExportSettings(
    "text", tokenizer, num_proc=num_proc, overwrite=True, frames=frames, text_tokenizer_ok=True
)
start = time.perf_counter()
summary = export_orpheus(tokens, out, settings)
seconds = time.perf_counter() - start
print(json.dumps({
    "seconds": seconds,
    "counts": summary["counts"],
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "worker_peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
}))
"""


def run_child(*args: str) -> dict:
    result = subprocess.run([sys.executable, "-c", EXPORT_CHILD, *args], capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"benchmark child failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def machine() -> str:
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        memory_gib = int(f.readline().split()[1]) / 2**20
    return f"{os.cpu_count()} CPUs ({model}), {memory_gib:.1f} GiB RAM, Python {platform.python_version()}"


def floor(value: float, digits: int = 0) -> str:
    """`value` rounded down (never up) to `digits` decimals, with thousands separators."""
    scale = 10**digits
    return f"{np.floor(value * scale) / scale:,.{digits}f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workdir", default="/tmp/snac_hf_bench_orpheus")
    p.add_argument("--hours", type=float, default=100.0, help="audio hours of the large set")
    p.add_argument("--small_hours", type=float, default=10.0, help="audio hours of the small set (memory)")
    p.add_argument("--num_proc", type=int, default=2)
    p.add_argument(
        "--frames", choices=("upstream", "real"), default="upstream", help="the export's frame rule"
    )
    args = p.parse_args()

    tokenizer = make_text_tokenizer(os.path.join(args.workdir, "text_tokenizer"))
    sets = {}
    for name, hours in (("small", args.small_hours), ("large", args.hours)):
        folder = os.path.join(args.workdir, f"tokens_{hours:g}h_padding")  # sets with padding codes
        start = time.perf_counter()
        sets[name] = (folder, make_token_set(folder, hours))
        print(f"[{name}] token set ready in {time.perf_counter() - start:.0f} s: {folder}", file=sys.stderr)
    runs = []
    for name, (folder, size) in sets.items():
        for num_proc in sorted({1, args.num_proc}) if name == "large" else [1]:
            load = os.getloadavg()[0]  # the machine is shared: say how busy it was
            out = os.path.join(args.workdir, f"orpheus_{name}_{num_proc}")
            run = {**run_child(folder, tokenizer, out, str(num_proc), args.frames), "load": load}
            runs.append((name, num_proc, size, run))
            print(f"[{name}, num_proc={num_proc}] {run}", file=sys.stderr)
    print(markdown(runs))


def markdown(runs: list) -> str:
    lines = [
        "## Orpheus export (bench/orpheus_export.py)",
        "",
        f"Machine: {machine()}.",
        "Synthetic SNAC 24 kHz token sets (files of 2-20 s, 256 per zstd Parquet shard, a transcript of ~2.5 "
        "words per second), exported whole by `snac_hf.export.export_orpheus` (text tokenized with a "
        "local byte-level BPE, every row built, zstd Parquet shards, card), each run a fresh process.",
        "",
        "| set | num_proc | files | audio hours | seconds | audio-s/s | per process "
        "| peak RSS (main / worker) | load |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, num_proc, size, run in runs:
        rate = size["seconds"] / run["seconds"]
        workers = f"{run['worker_peak_rss_mib']:.0f} MiB" if num_proc > 1 else "-"
        lines.append(
            f"| {name} | {num_proc} | {size['files']:,} | {size['seconds'] / 3600:.1f} | "
            f"{run['seconds']:.1f} | {floor(rate)} | {floor(rate / num_proc)} | "
            f"{run['peak_rss_mib']:.0f} MiB / {workers} | "
            f"{run['load']:.1f} |"
        )
    lines += [
        "",
        "*audio-s/s*: seconds of audio exported per second of wall time, rounded down; *per process*: that "
        "divided by num_proc. *load*: the 1-minute load average when the run started (the cores are shared "
        "with other work).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
