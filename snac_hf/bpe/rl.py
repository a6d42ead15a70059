"""Run-length BPE: repeated codes within a scale become one code symbol plus a run symbol, then BPE.

Definition. Each scale's codes are cut into maximal runs of equal codes (within that scale only;
scales never share a run). A run of length L is written as chunks of at most `max_run` codes
(default 16), left to right: `L // max_run` chunks of `max_run`, then one chunk of the remainder
if it is not zero. A chunk of length 1 is the code symbol alone; a chunk of length r >= 2 is the
code symbol followed by the run symbol `R_r` (U+F0000 + n_scales * codebook_size + r - 2), read
"the preceding code, r times in all". So 7 7 7 5 becomes `c7 R3 c5`, and a run of 40 sevens with
max_run 16 becomes `c7 R16 c7 R16 c7 R8`. The scales are then laid out one after another as in
`plain` (scale 0 first), each scale's stream one word for BPE, and BPE merges as usual (merges
may join code and run symbols, e.g. learn `c7 R16` as one token).

Decoding: each run symbol multiplies the code symbol right before it; a run symbol first in the
sequence or after another run symbol is an error. Any chunking decodes (`c7 R2 c7` is three
sevens), but encoding always produces the canonical one above.

Compared with the original README's sketch, a run is (code, count) as two symbols from a fixed
alphabet rather than a tuple, so BPE over it stays an ordinary string BPE with a finite vocabulary.
"""

from __future__ import annotations

import numpy as np
from tokenizers import Regex, pre_tokenizers

from snac_hf.bpe.alphabet import RUN_KIND, SymbolAlphabet
from snac_hf.bpe.variant import Variant, file_starts, split_files
from snac_hf.layout.codes import CodeBatch


def run_chunks(batch: CodeBatch, max_run: int) -> tuple[np.ndarray, np.ndarray]:
    """(position of its first code in `batch.codes`, length) of every chunk, in order.

    Runs are maximal repeats inside one (file, scale) stream, cut into chunks of at most `max_run`.
    """
    codes = batch.codes
    if codes.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    new_run = batch.segment_start.copy()
    new_run[1:] |= codes[1:] != codes[:-1]
    starts = np.flatnonzero(new_run)
    lengths = np.diff(np.append(starts, codes.size))
    pieces = -(-lengths // max_run)
    run_of_chunk = np.repeat(np.arange(starts.size), pieces)
    piece_index = np.arange(run_of_chunk.size) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    chunk_lengths = np.minimum(max_run, lengths[run_of_chunk] - piece_index * max_run)
    return starts[run_of_chunk] + piece_index * max_run, chunk_lengths


def chunks_to_codepoints(
    code_points: np.ndarray, lengths: np.ndarray, alphabet: SymbolAlphabet
) -> np.ndarray:
    """Each chunk's code symbol, followed by its run symbol when the chunk is longer than 1."""
    has_run = lengths >= 2
    # Position of each code symbol: one slot per earlier chunk, plus one per earlier run symbol.
    positions = np.arange(code_points.size) + np.cumsum(has_run) - has_run
    out = np.empty(code_points.size + int(has_run.sum()), dtype=np.uint32)
    out[positions] = code_points
    out[positions[has_run] + 1] = alphabet.run_base + lengths[has_run] - 2
    return out


def symbols_per_file(chunk_files: np.ndarray, lengths: np.ndarray, n_files: int) -> np.ndarray:
    """Symbols each file gets: one per chunk, plus one per run symbol."""
    return np.bincount(chunk_files, minlength=n_files) + np.bincount(
        chunk_files[lengths >= 2], minlength=n_files
    )


def expand_runs(
    codepoints: np.ndarray, counts: np.ndarray, alphabet: SymbolAlphabet
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scale, code) of every code the symbols stand for, runs expanded, and codes per file."""
    kinds, values = alphabet.classify(codepoints)
    files = np.repeat(np.arange(counts.size), counts)
    is_run = kinds == RUN_KIND
    if is_run.any():
        follows_nothing = np.zeros(codepoints.size, dtype=bool)
        follows_nothing[file_starts(counts)] = True
        follows_nothing[1:] |= is_run[:-1]
        orphans = np.flatnonzero(is_run & follows_nothing)
        if orphans.size:
            file = int(files[orphans[0]])
            where = f"position {int(orphans[0] - (np.cumsum(counts) - counts)[file])}"
            where += f" of sequence {file}" if counts.size > 1 else ""
            raise ValueError(f"run symbol at {where} does not follow a code symbol")
    repeats = np.ones(codepoints.size, dtype=np.int64)
    run_positions = np.flatnonzero(is_run)
    repeats[run_positions - 1] = values[run_positions]
    keep = ~is_run
    codes_per_file = np.bincount(files[keep], weights=repeats[keep], minlength=counts.size).astype(np.int64)
    return np.repeat(kinds[keep], repeats[keep]), np.repeat(values[keep], repeats[keep]), codes_per_file


def run_scale_split(alphabet: SymbolAlphabet) -> pre_tokenizers.PreTokenizer:
    """Pre-tokens = one scale's stream: its code symbols and the run symbols after them."""
    runs = alphabet.run_class()
    pattern = "|".join(
        f"{alphabet.scale_class(k)}(?:{alphabet.scale_class(k)}|{runs})*" for k in range(alphabet.n_scales)
    )
    return pre_tokenizers.Split(Regex(pattern), behavior="isolated")


class RunLengthBPE(Variant):
    name = "rl"
    uses_runs = True

    def serialize_batch(self, batch: CodeBatch) -> tuple[np.ndarray, np.ndarray]:
        # Chunks come out file by file, scale by scale, each scale in time order: already plain's order.
        positions, lengths = run_chunks(batch, self.max_run)
        code_points = self.alphabet.scale_codepoints(batch.scale[positions], batch.codes[positions])
        counts = symbols_per_file(batch.file[positions], lengths, batch.n_files)
        return chunks_to_codepoints(code_points, lengths, self.alphabet), counts

    def deserialize_batch(self, codepoints: np.ndarray, counts: np.ndarray) -> list[list[np.ndarray]]:
        kinds, values, codes_per_file = expand_runs(codepoints, counts, self.alphabet)
        return split_files(kinds, values, codes_per_file, self.layout.n_scales)

    def pre_tokenizer(self) -> pre_tokenizers.PreTokenizer:
        return run_scale_split(self.alphabet)
