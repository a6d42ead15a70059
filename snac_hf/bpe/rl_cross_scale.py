"""Run-length + cross-scale BPE: runs within each scale, interleaved across scales by time.

Definition. Each scale is cut into run chunks exactly as in `rl` (maximal runs of one code, split
into chunks of at most `max_run`). A chunk of scale k starting at code index i starts at time
`i * vq_strides[k]` (finest-hop units). All chunks of all scales are written in order of
(start time, scale), each as its code symbol followed, when the chunk is longer than one code, by
its run symbol. Without any repeats this is exactly the `cross_scale` order; a run simply stands in
for the codes it covers, so a long silence becomes a few symbols per scale instead of 7 per frame.

How the time alignment stays recoverable: within each scale the chunks are consecutive, so the
start of every chunk is the sum of the run lengths before it in its own scale. The position of
each scale's stream in time is therefore known at every point of the sequence, and the
(start time, scale) order means a reader has seen every chunk that starts before time t before
any chunk that starts after it. Decoding needs nothing else: sort the symbols into scales (each
names its scale), expand runs.

Merges and frames: with `span_frames=False` (default) a word starts at each scale-0 chunk (its
code symbol and run symbol, plus every finer chunk that starts before the next scale-0 chunk), so
merges stay inside one coarse chunk's time span; `span_frames=True` makes the file one word.
"""

from __future__ import annotations

import numpy as np
from tokenizers import pre_tokenizers

from snac_hf.bpe.rl import chunks_to_codepoints, expand_runs, run_chunks, symbols_per_file
from snac_hf.bpe.variant import Variant, frame_split, split_files
from snac_hf.layout.codes import CodeBatch


class RunLengthCrossScaleBPE(Variant):
    name = "rl_cross_scale"
    uses_runs = True
    frame_based = True

    def serialize_batch(self, batch: CodeBatch) -> tuple[np.ndarray, np.ndarray]:
        positions, lengths = run_chunks(batch, self.max_run)
        scales, files = batch.scale[positions], batch.file[positions]
        strides = np.asarray(self.layout.vq_strides, dtype=np.int64)
        # Sort key: (file, start time, scale), packed into one int64.
        time_key = batch.index[positions] * strides[scales] * self.layout.n_scales + scales
        span = int(time_key.max()) + 1 if time_key.size else 1
        order = np.argsort(files * span + time_key, kind="stable")
        code_points = self.alphabet.scale_codepoints(scales[order], batch.codes[positions][order])
        counts = symbols_per_file(files, lengths, batch.n_files)
        return chunks_to_codepoints(code_points, lengths[order], self.alphabet), counts

    def deserialize_batch(self, codepoints: np.ndarray, counts: np.ndarray) -> list[list[np.ndarray]]:
        kinds, values, codes_per_file = expand_runs(codepoints, counts, self.alphabet)
        return split_files(kinds, values, codes_per_file, self.layout.n_scales)

    def pre_tokenizer(self) -> pre_tokenizers.PreTokenizer | None:
        return None if self.span_frames else frame_split(self.alphabet)
