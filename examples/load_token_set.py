"""Load a token set the way a user of the Hub would: `load_dataset`, filter by duration, stream.

    python examples/load_token_set.py --tokens TOKEN_SET_DIR [--min_seconds 2 --max_seconds 10]

A token-set folder has the layout `push_to_hub` writes (`data/train-*.parquet` and a dataset
card), so `load_dataset(folder)` reads it exactly as `load_dataset("user/repo")` reads the pushed
copy. Code lists come back as `List(Value("int16"))`, one row per audio file.
"""

from __future__ import annotations

import argparse
import gc

from datasets import load_dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", required=True, help="token-set folder (or a Hub dataset id)")
    parser.add_argument("--min_seconds", type=float, default=2.0)
    parser.add_argument("--max_seconds", type=float, default=10.0)
    args = parser.parse_args(argv)

    # 1. The whole split, memory-mapped Arrow (load_dataset copies a local folder into its cache once).
    tokens = load_dataset(args.tokens, split="train")
    print(f"{len(tokens)} files, {sum(tokens['duration']) / 60:.1f} min; columns: {tokens.column_names}")
    print(f"features: tokens_scale_0 is {tokens.features['tokens_scale_0']}")

    # 2. Filter by duration, batched over the duration column only (fast: no code lists decoded).
    kept = tokens.filter(
        lambda durations: [args.min_seconds <= d <= args.max_seconds for d in durations],
        input_columns="duration",
        batched=True,
    )
    print(f"{len(kept)} files between {args.min_seconds} and {args.max_seconds} s")

    # 3. Streaming: rows arrive one at a time without downloading or caching the whole set first.
    stream = load_dataset(args.tokens, split="train", streaming=True)
    stream = stream.filter(lambda row: args.min_seconds <= row["duration"] <= args.max_seconds)
    for row in stream.take(3):
        counts = [len(row[f"tokens_scale_{k}"]) for k in range(3) if f"tokens_scale_{k}" in row]
        print(f"streamed {row['id']}: {row['duration']:.2f} s, codes per scale {counts}")
    # A stream stopped early leaves pyarrow's scanner threads alive; if they are still alive when
    # the interpreter shuts down, Arrow aborts the process ("terminate called without an active
    # exception", exit 134: apache/arrow#45214, huggingface/datasets#7566). Release the stream and
    # collect it now, while Arrow is still running.
    del stream, row
    gc.collect()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
