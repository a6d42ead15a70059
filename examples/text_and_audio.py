"""One sequence of text tokens and audio tokens, as TTS language models use, encoded and decoded exactly.

    python examples/text_and_audio.py [--tokenizer AUDIO_TOK_DIR]

A text tokenizer (a tiny byte-level BPE trained here on a few sentences: nothing is downloaded)
and an audio tokenizer (snac_hf BPE; trained here on synthetic codes unless --tokenizer is given)
share one id space: text ids are 0..T-1, audio ids are shifted by T. A sequence is

    text ids of the transcript, <audio_start>, audio ids, <audio_end>

where the markers are the audio tokenizer's own special tokens (shifted like every audio id).
Decoding splits the sequence at the markers and gives back the transcript and every code exactly.
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from snac_hf.bpe import AudioTokenizer, load_tokenizer, train_tokenizer
from snac_hf.bpe.synthetic import synthetic_rows, write_synthetic_token_set
from snac_hf.layout import layout_for

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Speech tokens and text tokens share one sequence.",
    "A language model reads the transcript, then speaks it.",
]


def train_text_tokenizer(sentences: list[str], vocab_size: int = 300) -> Tokenizer:
    """Byte-level BPE: every string is encodable (256 byte symbols) and decodes back exactly."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(sentences, trainer)
    return tokenizer


class TextAndAudio:
    """Text ids in [0, T), audio ids (markers included) in [T, T + audio vocab)."""

    def __init__(self, text: Tokenizer, audio: AudioTokenizer):
        self.text, self.audio = text, audio
        self.offset = text.get_vocab_size()
        self.audio_start = self.offset + audio.audio_start_token_id
        self.audio_end = self.offset + audio.audio_end_token_id

    @property
    def vocab_size(self) -> int:
        return self.offset + self.audio.vocab_size

    def encode(self, transcript: str, codes_per_scale: list[np.ndarray]) -> list[int]:
        audio_ids = [self.offset + i for i in self.audio.encode(codes_per_scale)]
        return self.text.encode(transcript).ids + [self.audio_start, *audio_ids, self.audio_end]

    def decode(self, ids: list[int]) -> tuple[str, list[np.ndarray]]:
        start, end = ids.index(self.audio_start), ids.index(self.audio_end)
        if any(i >= self.offset for i in ids[:start]):
            raise ValueError("audio ids before <audio_start>")
        transcript = self.text.decode(ids[:start])
        codes = self.audio.decode([i - self.offset for i in ids[start + 1 : end]])
        return transcript, codes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer", help="a snac_hf audio tokenizer folder (default: train one here)")
    args = parser.parse_args(argv)
    layout = layout_for("snac_24khz")
    with tempfile.TemporaryDirectory() as tmp:
        if args.tokenizer:
            audio = load_tokenizer(args.tokenizer)
            layout = audio.layout
        else:  # a small audio tokenizer on synthetic codes, so the example runs anywhere
            tokens = write_synthetic_token_set(f"{tmp}/tokens", layout, 8)
            audio = load_tokenizer(train_tokenizer(tokens, "cross_scale", 100, output_dir=f"{tmp}/tok"))
    joint = TextAndAudio(train_text_tokenizer(SENTENCES), audio)
    print(f"text ids 0..{joint.offset - 1}, audio ids {joint.offset}..{joint.vocab_size - 1}")

    codes = synthetic_rows(layout, 1, (1.5, 1.5), seed=1)[0]["codes"]
    transcript = "Speech tokens and text tokens share one sequence."
    ids = joint.encode(transcript, codes)
    n_text = ids.index(joint.audio_start)
    print(f"{len(ids)} ids: {n_text} text, <audio_start>, {len(ids) - n_text - 2} audio, <audio_end>")

    decoded_text, decoded_codes = joint.decode(ids)
    assert decoded_text == transcript, decoded_text
    assert all(np.array_equal(a, b) for a, b in zip(decoded_codes, codes, strict=True))
    print(f"decoded exactly: {decoded_text!r} and {[len(c) for c in decoded_codes]} codes per scale")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
