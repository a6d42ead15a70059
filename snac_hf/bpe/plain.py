"""Plain BPE: the baseline, standard BPE over the code symbols of each scale.

Definition. A file's codes are serialized scale by scale: every code of scale 0 in time order,
then every code of scale 1, ..., each code as its own symbol (`chr(U+F0000 + scale *
codebook_size + code)`, so equal numbers in different scales are different symbols). The
pre-tokenizer makes each scale's stream one word, so a merge never joins two scales. BPE then
repeatedly merges the most frequent adjacent pair of tokens (counted over all words of the
training corpus), `num_merges` times, stopping early only when a pair falls below
`min_frequency` (default 2: a pair seen once cannot generalize) or no pair is left.

Decoding concatenates the tokens' symbols and sorts each symbol into its scale, in order.

Windowed scale order (`window_frames=W`, `snac_hf.layout.windowed`): the same symbols, written
window after window of W frames, each window scale by scale; the pre-tokenizer still keeps merges
inside one scale's run, so inside one window. W = the whole file is the default order; a smaller W
streams (a generator needs W frames ahead). Decoding is unchanged: symbols back into their scales.

Left out on purpose: any cross-scale or run-length structure (the other variants add those), byte
fallback, dropout, normalization.
"""

from __future__ import annotations

import numpy as np
from tokenizers import pre_tokenizers

from snac_hf.bpe.variant import Variant, scale_split
from snac_hf.layout.codes import CodeBatch
from snac_hf.layout.windowed import windowed_order


class PlainBPE(Variant):
    name = "plain"
    windowed = True

    def serialize_batch(self, batch: CodeBatch) -> tuple[np.ndarray, np.ndarray]:
        # The batch is already file by file, scale by scale: only the symbols change.
        symbols = self.alphabet.scale_codepoints(batch.scale, batch.codes)
        if self.window_frames is not None:
            symbols = symbols[windowed_order(batch, self.layout, self.window_frames)]
        return symbols, batch.lengths.sum(axis=1)

    def pre_tokenizer(self) -> pre_tokenizers.PreTokenizer:
        return scale_split(self.alphabet)
