"""Plain BPE: the baseline, standard BPE over the code symbols of each scale.

Definition. A file's codes are serialized scale by scale: every code of scale 0 in time order,
then every code of scale 1, ..., each code as its own symbol (`chr(U+F0000 + scale *
codebook_size + code)`, so equal numbers in different scales are different symbols). The
pre-tokenizer makes each scale's stream one word, so a merge never joins two scales. BPE then
repeatedly merges the most frequent adjacent pair of tokens (counted over all words of the
training corpus), `num_merges` times, stopping early only when a pair falls below
`min_frequency` (default 2: a pair seen once cannot generalize) or no pair is left.

Decoding concatenates the tokens' symbols and sorts each symbol into its scale, in order.

Left out on purpose: any cross-scale or run-length structure (the other variants add those), byte
fallback, dropout, normalization.
"""

from __future__ import annotations

import numpy as np
from tokenizers import pre_tokenizers

from snac_hf.bpe.variant import Variant, scale_split
from snac_hf.layout.codes import CodeBatch


class PlainBPE(Variant):
    name = "plain"

    def serialize_batch(self, batch: CodeBatch) -> tuple[np.ndarray, np.ndarray]:
        # The batch is already file by file, scale by scale: only the symbols change.
        return self.alphabet.scale_codepoints(batch.scale, batch.codes), batch.lengths.sum(axis=1)

    def pre_tokenizer(self) -> pre_tokenizers.PreTokenizer:
        return scale_split(self.alphabet)
