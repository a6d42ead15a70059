"""snac_hf BPE against codec-bpe 1.4.1 on the same synthetic SNAC-shaped data, in one run.

    pip install -e .[bench]          # codec-bpe==1.4.1 (it imports torch; snac_hf.bpe does not)
    python bench/bpe_vs_codec_bpe.py [--files 2000] [--num_merges 4000] [--repeats 3] [--json out.json]

Data: `--files` synthetic 24 kHz files (`snac_hf.bpe.synthetic`: Markov coarse codes, children
derived from parents, silences), split 90/10 into train and held-out by index.

codec-bpe only takes rectangular (codebooks x frames) arrays, so it gets what it accepts: one
codebook of 3 x 4096 symbols (`scale * 4096 + code`), frame-interleaved in the depth-first order of
snac_hf's `cross_scale` (7 codes per frame), one `.npy` of shape (1, T) per file, trained with
`Trainer(num_codebooks=1, codebook_size=12288).train(dir)` and encoded with its documented
`codes_to_chars` + the saved tokenizer. snac_hf trains `cross_scale` with `span_frames=True`
(the same words: a whole file, since codec-bpe's Metaspace pre-tokenizer never splits codes)
from a token-set folder and encodes the per-scale codes with `AudioTokenizer.encode_batch`
(validation and serialization included). Both get the same vocabulary size (6 special tokens +
12288 codes + merges), `min_frequency` 2, and no chunking.

Timed: training (reading the files, BPE, saving) and held-out encoding (codes -> ids). Each is
run `--repeats` times, alternating the two tools, and the best time is kept (the machine is
shared); the first training run is reported too (for snac_hf it includes `datasets` converting
the Parquet shards into its Arrow cache, once per token set). Ratios > 1 mean snac_hf is faster.
Compression (held-out codes per token) and exact decoding are checked for both.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from snac_hf.bpe import load_tokenizer, make_variant, train_tokenizer
from snac_hf.bpe.alphabet import CODE_BASE, SPECIAL_TOKENS
from snac_hf.bpe.synthetic import synthetic_rows
from snac_hf.layout import layout_for
from snac_hf.tokenset.schema import METADATA_FILE, rows_to_table, shard_name, write_parquet


def machine() -> dict:
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil

        ram = psutil.virtual_memory().total
    except ImportError:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": model,
        "ram_gib": round(ram / 2**30, 1),
        "python": platform.python_version(),
    }


def best_of(repeats: int, function) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--seconds", type=float, nargs=2, default=(2.0, 8.0))
    parser.add_argument("--num_merges", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()

    import codec_bpe
    from codec_bpe import chars_to_codes, codes_to_chars
    from codec_bpe.core.trainer import Trainer
    from transformers import PreTrainedTokenizerFast

    layout = layout_for("snac_24khz")
    rows = synthetic_rows(layout, args.files, tuple(args.seconds), seed=0)
    n_train = int(len(rows) * 0.9)
    train_rows, held_out_rows = rows[:n_train], rows[n_train:]
    held_out = [r["codes"] for r in held_out_rows]
    held_out_codes = sum(sum(map(len, c)) for c in held_out)
    flat_symbols = make_variant("cross_scale", layout)  # the frame-interleaved flattening for codec-bpe

    def flatten(codes: list[np.ndarray]) -> np.ndarray:
        return (flat_symbols.serialize(codes).astype(np.int64) - CODE_BASE)[None, :]

    work = Path(tempfile.mkdtemp(prefix="bpe_bench_"))
    try:
        token_set = work / "tokens"
        for i, part in enumerate(np.array_split(np.arange(n_train), 4)):
            write_parquet(rows_to_table([train_rows[j] for j in part], 3), token_set / shard_name(i, 4))
        (token_set / METADATA_FILE).write_text(json.dumps({"codec": {"layout": layout.to_dict()}}))
        npy_dir = work / "npy"
        npy_dir.mkdir()
        for i, row in enumerate(train_rows):
            np.save(npy_dir / f"file_{i:06d}.npy", flatten(row["codes"]))
        train_codes = sum(sum(map(len, r["codes"])) for r in train_rows)
        held_out_flat = [flatten(c) for c in held_out]

        vocab_size = len(SPECIAL_TOKENS) + 3 * layout.codebook_size + args.num_merges
        codebook = 3 * layout.codebook_size

        def train_ours():
            return train_tokenizer(
                token_set,
                "cross_scale",
                args.num_merges,
                output_dir=work / "ours",
                span_frames=True,
                max_train_chars=None,
            )

        def train_theirs():
            trainer = Trainer(
                num_codebooks=1,
                codebook_size=codebook,
                vocab_size=vocab_size,
                min_frequency=2,
                special_tokens=["<audio_start>", "<audio_end>"],
                bos_token="<bos>",
                eos_token="<eos>",
                unk_token="<unk>",
                pad_token="<pad>",
            )
            tokenizer = trainer.train(str(npy_dir))
            tokenizer.save_pretrained(str(work / "theirs"))
            return tokenizer

        ours_times, theirs_times = [], []
        for _ in range(args.repeats):  # alternate the tools, keep every time
            ours_times.append(best_of(1, train_ours)[0])
            theirs_times.append(best_of(1, train_theirs)[0])
        ours_train, theirs_train = min(ours_times), min(theirs_times)
        ours = load_tokenizer(work / "ours")
        theirs = PreTrainedTokenizerFast.from_pretrained(str(work / "theirs"))
        assert ours.vocab_size == len(theirs) == vocab_size, (ours.vocab_size, len(theirs), vocab_size)

        def encode_ours():
            return ours.encode_batch(held_out)

        def encode_theirs():
            texts = [codes_to_chars(c, codebook_size=codebook) for c in held_out_flat]
            return theirs(texts, add_special_tokens=False)["input_ids"]

        ours_encode, theirs_encode = float("inf"), float("inf")
        for _ in range(args.repeats):
            seconds, ours_ids = best_of(1, encode_ours)
            ours_encode = min(ours_encode, seconds)
            seconds, theirs_ids = best_of(1, encode_theirs)
            theirs_encode = min(theirs_encode, seconds)

        ours_exact = all(
            all(np.array_equal(a, b) for a, b in zip(c, d, strict=True))
            for c, d in zip(held_out, ours.decode_batch(ours_ids), strict=True)
        )
        theirs_exact = all(
            np.array_equal(np.asarray(chars_to_codes(theirs.decode(ids), 1, codebook)), f)
            for ids, f in zip(theirs_ids, held_out_flat, strict=True)
        )
        ours_tokens = sum(map(len, ours_ids))
        theirs_tokens = sum(map(len, theirs_ids))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    results = {
        "machine": machine(),
        "codec_bpe_version": codec_bpe.__version__,
        "data": {
            "files": args.files,
            "seconds_per_file": list(args.seconds),
            "train_codes": train_codes,
            "held_out_files": len(held_out),
            "held_out_codes": held_out_codes,
        },
        "vocab_size": vocab_size,
        "num_merges": args.num_merges,
        "repeats": args.repeats,
        "snac_hf": {
            "train_seconds": ours_train,
            "train_seconds_first_run": ours_times[0],
            "encode_codes_per_second": held_out_codes / ours_encode,
            "codes_per_token": held_out_codes / ours_tokens,
            "merges_learned": ours.num_merges,
            "exact": ours_exact,
        },
        "codec_bpe": {
            "train_seconds": theirs_train,
            "train_seconds_first_run": theirs_times[0],
            "encode_codes_per_second": held_out_codes / theirs_encode,
            "codes_per_token": held_out_codes / theirs_tokens,
            "exact": theirs_exact,
        },
        "train_speed_ratio": theirs_train / ours_train,
        "encode_speed_ratio": theirs_encode / ours_encode,
    }
    print(markdown(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


def markdown(r: dict) -> str:
    m, d, ours, theirs = r["machine"], r["data"], r["snac_hf"], r["codec_bpe"]
    low, high = d["seconds_per_file"]
    first_ours, first_theirs = ours["train_seconds_first_run"], theirs["train_seconds_first_run"]
    return "\n".join(
        [
            f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram_gib']} GiB RAM, Python {m['python']}; "
            f"codec-bpe {r['codec_bpe_version']}.",
            f"Data: {d['files']} synthetic 24 kHz files of {low:g}-{high:g} s ({d['train_codes']:,} training "
            f"codes; {d['held_out_files']} held-out files, {d['held_out_codes']:,} codes); vocabulary "
            f"{r['vocab_size']:,} ({r['num_merges']} merges); best of {r['repeats']}.",
            "",
            "| | snac_hf (cross_scale, span_frames) | codec-bpe 1.4.1 | ratio (snac_hf faster if > 1) |",
            "|---|---|---|---|",
            f"| train s | {ours['train_seconds']:.2f} | {theirs['train_seconds']:.2f} "
            f"| {r['train_speed_ratio']:.2f} |",
            f"| train s, first run | {first_ours:.2f} | {first_theirs:.2f} "
            f"| {first_theirs / first_ours:.2f} |",
            f"| encode codes/s | {ours['encode_codes_per_second']:,.0f} "
            f"| {theirs['encode_codes_per_second']:,.0f} | {r['encode_speed_ratio']:.2f} |",
            f"| held-out codes/token | {ours['codes_per_token']:.3f} | {theirs['codes_per_token']:.3f} | |",
            f"| exact decode | {ours['exact']} | {theirs['exact']} | |",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
