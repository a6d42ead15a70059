"""Hierarchical (two-stage) BPE: merges within each scale first, then across scales, as ONE tokenizer.

Definition. Codes are serialized frame by frame (a frame = one coarse code and its children, see
`cross_scale`), but inside a frame the scales come in turn: the frame's scale-0 code, then its
scale-1 codes, then its scale-2 codes (`s0[f] | s1[2f] s1[2f+1] | s2[4f] .. s2[4f+3]` at 24 kHz).
A partial last frame keeps the codes that exist, in the same order.

Stage 1 trains BPE (`stage1_merges` merges, default half of `num_merges`) with words = one scale's
codes inside one frame, so every stage-1 token is a pattern of a single scale (a 2-code scale-1
pattern, up to a 4-code or 8-code pattern of the finest scale). Stage 2 re-encodes the corpus with
the stage-1 tokenizer, writes every stage-1 token as one new character, and trains BPE over those
units with the remaining merges, words = frames (or whole files with `span_frames=True`). Stage 2
is where tokens spanning several scales appear (it may also join two stage-1 units of one scale
that stage 1 left apart).

One artifact. The stage-2 merges are rewritten in terms of code symbols (each unit replaced by
the symbols it spells) and appended after the stage-1 merges in one `models.BPE` merge list, with
frame words as the pre-tokenization. BPE encoding always applies the lowest-ranked applicable
merge; stage-1 merges all rank first and only ever join two symbols of one scale, which inside a
frame word are contiguous, so the single tokenizer first does exactly stage 1 on each
(frame, scale) segment and then stage 2 over the units. When two different stage-2 unit sequences
spell the same codes they share one token (and a repeated merge pair is kept once), so the
vocabulary can be a little smaller than asked; the metadata records the counts.

Why stage 1 stays inside a frame: a left-to-right tokenizer can only merge neighbours. Per-scale
patterns over long time spans need each scale laid out on its own (that is `plain`), and then no
codes of different scales are neighbours for stage 2. Inside a frame both stages have neighbours.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import islice

import numpy as np
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from snac_hf.bpe.alphabet import SPECIAL_TOKENS, UNK_TOKEN, codepoints_to_text
from snac_hf.bpe.cross_scale import frame_interleave, scale_major_columns
from snac_hf.bpe.variant import Corpus, Variant, frame_split, scale_split
from snac_hf.layout import CodecLayout
from snac_hf.layout.codes import CodeBatch

#: Stage-2 training writes each stage-1 token id i as the character U+100000 + i
#: (Supplementary Private Use Area B, never in the base alphabet).
UNIT_BASE = 0x100000
UNIT_LIMIT = 0x10FFFD
SEPARATOR = 0x20  # a space between stage-2 words; WhitespaceSplit removes it


class HierarchicalBPE(Variant):
    name = "hierarchical"
    frame_based = True
    train_options = ("stage1_merges",)

    def __init__(self, layout: CodecLayout, max_run: int | None = None, span_frames: bool | None = None):
        super().__init__(layout, max_run, span_frames)
        self.columns = scale_major_columns(layout)

    def serialize_batch(self, batch: CodeBatch) -> tuple[np.ndarray, np.ndarray]:
        symbols = self.alphabet.scale_codepoints(batch.scale, batch.codes)
        return frame_interleave(batch, symbols, self.layout, self.columns), batch.lengths.sum(axis=1)

    def pre_tokenizer(self) -> pre_tokenizers.PreTokenizer | None:
        return None if self.span_frames else frame_split(self.alphabet)

    def train(
        self,
        corpus: Corpus,
        num_merges: int,
        min_frequency: int | None = None,
        stage1_merges: int | None = None,
    ) -> Tokenizer:
        min_frequency = self.check_min_frequency(min_frequency)
        stage1_budget = num_merges // 2 if stage1_merges is None else int(stage1_merges)
        if not 0 <= stage1_budget <= num_merges:
            raise ValueError(f"stage1_merges must be in 0..num_merges ({num_merges}), got {stage1_merges}")

        # Stage 1: words are one scale's codes inside one frame.
        stage1 = Tokenizer(models.BPE(unk_token=UNK_TOKEN))
        stage1.pre_tokenizer = scale_split(self.alphabet)
        trainer = self.trainer(stage1_budget, min_frequency)
        stage1.train_from_iterator(corpus() if stage1_budget > 0 else [], trainer=trainer)
        stage1_model = json.loads(stage1.to_str())["model"]
        vocab: dict[str, int] = dict(stage1_model["vocab"])
        merges: list[tuple[str, str]] = [tuple(pair) for pair in stage1_model["merges"]]

        # Stage 2: BPE over stage-1 units (one character each), words = frames.
        stage2_budget = num_merges - len(merges)
        stage2_merges: list[tuple[str, str]] = []
        if stage2_budget > 0:
            stage2_merges = self._train_stage2(stage1, corpus, stage2_budget, min_frequency)

        unit_strings = sorted(vocab, key=vocab.get)
        repeated = 0
        seen = set(merges)
        for left_units, right_units in stage2_merges:
            left = "".join(unit_strings[ord(ch) - UNIT_BASE] for ch in left_units)
            right = "".join(unit_strings[ord(ch) - UNIT_BASE] for ch in right_units)
            if (left, right) in seen:
                repeated += 1
                continue
            seen.add((left, right))
            merges.append((left, right))
            vocab.setdefault(left + right, len(vocab))

        tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token=UNK_TOKEN))
        tokenizer.add_special_tokens(list(SPECIAL_TOKENS))
        pre_tokenizer = self.pre_tokenizer()
        if pre_tokenizer is not None:
            tokenizer.pre_tokenizer = pre_tokenizer
        self.training_info = {
            "stage1_merges": len(stage1_model["merges"]),
            "stage2_merges": len(stage2_merges),
            "stage2_repeated_pairs_dropped": repeated,
        }
        return tokenizer

    def _train_stage2(
        self, stage1: Tokenizer, corpus: Corpus, num_merges: int, min_frequency: int
    ) -> list[tuple[str, str]]:
        vocab_size = stage1.get_vocab_size()
        if UNIT_BASE + vocab_size - 1 > UNIT_LIMIT:
            raise ValueError(
                f"hierarchical: stage-1 vocabulary of {vocab_size} does not fit {UNIT_LIMIT - UNIT_BASE + 1}"
            )
        # Which stage-1 tokens start a frame (their first symbol is a scale-0 code).
        starts_frame = np.zeros(vocab_size, dtype=bool)
        coarse_first, coarse_last = (
            self.alphabet.code_symbol(0, 0),
            self.alphabet.code_symbol(0, self.layout.codebook_size - 1),
        )
        for token, token_id in stage1.get_vocab().items():
            if token not in SPECIAL_TOKENS:
                starts_frame[token_id] = coarse_first <= ord(token[0]) <= coarse_last
        unit_ids = [i for token, i in stage1.get_vocab().items() if token not in SPECIAL_TOKENS]

        def unit_corpus() -> Iterator[str]:
            texts = iter(corpus())
            while batch := list(islice(texts, 256)):
                for encoding in stage1.encode_batch(batch, add_special_tokens=False):
                    ids = np.asarray(encoding.ids, dtype=np.int64)
                    units = (ids + UNIT_BASE).astype(np.uint32)
                    if not self.span_frames:
                        units = np.insert(units, np.flatnonzero(starts_frame[ids]), SEPARATOR)
                    yield codepoints_to_text(units)

        stage2 = Tokenizer(models.BPE())
        stage2.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        trainer = trainers.BpeTrainer(
            vocab_size=len(unit_ids) + num_merges,
            min_frequency=min_frequency,
            special_tokens=[],
            initial_alphabet=list(
                codepoints_to_text(np.array(sorted(unit_ids), dtype=np.uint32) + UNIT_BASE)
            ),
            show_progress=False,
        )
        stage2.train_from_iterator(unit_corpus(), trainer=trainer)
        return [tuple(pair) for pair in json.loads(stage2.to_str())["model"]["merges"]]
