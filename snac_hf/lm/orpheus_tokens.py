"""The Orpheus layout as an LM tokenization: frame order, one id per (frame position, code), no merges.

The layout most SNAC language models train on (Orpheus: 7 position-offset symbols per 24 kHz frame,
28,672 audio ids) is the evidence run's `orpheus` baseline. Ids, in the same special-token
convention as every snac_hf tokenizer (`snac_hf.bpe.alphabet`, ids 0..5 `<pad> <bos> <eos>
<audio_start> <audio_end> <unk>`):

    id = 6 + position * codebook_size + code          position 0..P-1 of `layout.orpheus.frame_positions`

P = 7 at 24 kHz (exactly Orpheus' speech ids less its offset: `snac_hf.export.orpheus`); the same
rule gives 15 positions with four scales. A file is `<bos> <audio_start> ids <audio_end> <eos>`,
every code of it (a partial last frame keeps its codes at their positions: nothing dropped, so
bits per audio-second compare with every other tokenization). Same order as the `cross_scale` raw
codes; the only difference is the vocabulary: a code of scale 1 or 2 has another id at each of the
frame positions it can take. Numpy only (no `tokenizers`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from snac_hf.bpe.alphabet import (
    AUDIO_END_TOKEN,
    AUDIO_START_TOKEN,
    BOS_TOKEN,
    EOS_TOKEN,
    PAD_TOKEN,
    SPECIAL_TOKENS,
)
from snac_hf.layout import CodecLayout
from snac_hf.layout.codes import CodesPerScale, validate_batch
from snac_hf.layout.orpheus import codes_of_positions, frame_positions, position_codes

ORPHEUS = "orpheus"


class OrpheusTokenizer:
    """Codes per scale <-> Orpheus-layout ids (module docstring); what `lm.sequences` needs of a tokenizer."""

    num_merges = 0
    variant = ORPHEUS

    def __init__(self, layout: CodecLayout):
        self.layout = layout
        self.positions = len(frame_positions(layout)[0])
        (
            self.pad_token_id,
            self.bos_token_id,
            self.eos_token_id,
            self.audio_start_token_id,
            self.audio_end_token_id,
        ) = (
            SPECIAL_TOKENS.index(t)
            for t in (PAD_TOKEN, BOS_TOKEN, EOS_TOKEN, AUDIO_START_TOKEN, AUDIO_END_TOKEN)
        )

    @property
    def vocab_size(self) -> int:
        return len(SPECIAL_TOKENS) + self.positions * self.layout.codebook_size

    def encode_batch(
        self,
        batch: Sequence[CodesPerScale],
        add_special_tokens: bool = False,
        names: Sequence[str] | None = None,
    ) -> list[np.ndarray]:
        """The ids of each file (validated first: errors name the file by `names`)."""
        positions, codes, counts = position_codes(validate_batch(batch, self.layout, names), self.layout)
        ids = len(SPECIAL_TOKENS) + positions * self.layout.codebook_size + codes
        files = np.split(ids, np.cumsum(counts)[:-1]) if len(batch) else []
        if not add_special_tokens:
            return files
        start = [self.bos_token_id, self.audio_start_token_id]
        end = [self.audio_end_token_id, self.eos_token_id]
        return [np.concatenate([start, file, end]).astype(np.int64) for file in files]

    def decode(self, ids: Sequence[int] | np.ndarray) -> list[np.ndarray]:
        """Codes per scale of one file's ids (special tokens skipped): the inverse of `encode_batch`."""
        ids = np.asarray(ids, dtype=np.int64)
        audio = ids[ids >= len(SPECIAL_TOKENS)] - len(SPECIAL_TOKENS)
        if audio.size and audio.max() >= self.positions * self.layout.codebook_size:
            raise ValueError(
                f"id {int(audio.max()) + len(SPECIAL_TOKENS)} is outside the vocabulary ({self.vocab_size})"
            )
        return codes_of_positions(
            audio // self.layout.codebook_size, audio % self.layout.codebook_size, self.layout
        )
