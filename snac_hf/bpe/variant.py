"""What every BPE variant is: a lossless serialization of one file's codes into base symbols,
a pre-tokenizer that says where merges may not cross, and BPE training over the result.

A variant turns `codes_per_scale` (validated, one int array per scale) into a sequence of code
points (`serialize`) and back (`deserialize`); BPE then only groups adjacent symbols into tokens,
so decoding a token sequence is: concatenate the tokens' symbols, `deserialize`. Exactness
therefore rests on `deserialize(serialize(x)) == x`, which each variant proves by construction:
every symbol names its scale, and each scale's codes appear in time order.

Training uses `tokenizers`' `BpeTrainer` with the lossless set-up: `models.BPE` without byte
fallback or dropout, no normalizer (normalizers may drop private-use characters), every base
symbol in `initial_alphabet`, `limit_alphabet` unset (it drops initial symbols), and
`vocab_size = specials + base symbols + num_merges`. `min_frequency` makes the trainer stop at the
first pair seen fewer times than that, so a tokenizer may end with fewer merges than asked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import ClassVar

import numpy as np
from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

from snac_hf.bpe.alphabet import RUN_KIND, SPECIAL_TOKENS, UNK_TOKEN, SymbolAlphabet, codepoints_to_text
from snac_hf.layout import CodecLayout
from snac_hf.layout.codes import CodeBatch, CodesPerScale, check_layout, validate_batch
from snac_hf.layout.windowed import check_window

#: Longest run one run symbol stands for in the run-length variants (longer runs are split).
DEFAULT_MAX_RUN = 16

#: A function that returns a fresh iterator over the training strings (one per file).
Corpus = Callable[[], Iterable[str]]


def split_files(
    kinds: np.ndarray, values: np.ndarray, counts: np.ndarray, n_scales: int
) -> list[list[np.ndarray]]:
    """Each file's codes per scale, in stream order: the inverse of any interleaving of the scales.

    `kinds`/`values` are the scale and code of each code (runs already expanded), file after file;
    `counts` says how many belong to each file.
    """
    n_files = counts.size
    segment = np.repeat(np.arange(n_files, dtype=np.int64), counts) * n_scales + kinds
    order = np.argsort(segment, kind="stable")
    sizes = np.bincount(segment, minlength=n_files * n_scales)
    pieces = np.split(values[order], np.cumsum(sizes)[:-1])
    return [pieces[i * n_scales : (i + 1) * n_scales] for i in range(n_files)]


def file_starts(counts: np.ndarray) -> np.ndarray:
    """Positions where each non-empty file begins in a flat sequence."""
    return (np.cumsum(counts) - counts)[counts > 0]


def scale_split(alphabet: SymbolAlphabet) -> pre_tokenizers.PreTokenizer:
    """Pre-tokens = maximal runs of one scale's code symbols (merges never join two scales)."""
    pattern = "|".join(f"{alphabet.scale_class(k)}+" for k in range(alphabet.n_scales))
    return pre_tokenizers.Split(Regex(pattern), behavior="isolated")


def frame_split(alphabet: SymbolAlphabet) -> pre_tokenizers.PreTokenizer:
    """Pre-tokens start at each scale-0 code symbol (merges never cross into the next frame)."""
    coarse = alphabet.scale_class(0)
    pattern = f"{coarse}[^{coarse[1:-1]}]*"
    return pre_tokenizers.Split(Regex(pattern), behavior="isolated")


class Variant:
    """Base class: the serialization and BPE set-up shared by the variants."""

    name: ClassVar[str] = ""
    uses_runs: ClassVar[bool] = False  # accepts max_run (run symbols in the alphabet)
    frame_based: ClassVar[bool] = False  # accepts span_frames
    windowed: ClassVar[bool] = (
        False  # accepts window_frames (scale order per window, `snac_hf.layout.windowed`)
    )
    default_min_frequency: ClassVar[int] = 2
    train_options: ClassVar[tuple[str, ...]] = ()  # extra keyword arguments of `train`

    def __init__(
        self,
        layout: CodecLayout,
        max_run: int | None = None,
        span_frames: bool | None = None,
        window_frames: int | None = None,
    ):
        check_layout(layout)
        if window_frames is not None and not self.windowed:
            raise ValueError(
                f"variant {self.name!r} has no windowed order: window_frames applies to plain, thresholded"
            )
        self.window_frames = None if window_frames is None else check_window(window_frames)
        if max_run is not None and not self.uses_runs:
            raise ValueError(
                f"variant {self.name!r} has no run symbols: max_run applies to rl, rl_cross_scale"
            )
        if span_frames is not None and not self.frame_based:
            raise ValueError(
                f"variant {self.name!r} is not frame-based: span_frames applies to cross_scale, "
                "hierarchical, rl_cross_scale"
            )
        self.layout = layout
        self.max_run = (DEFAULT_MAX_RUN if max_run is None else int(max_run)) if self.uses_runs else 1
        if self.uses_runs and self.max_run < 2:
            raise ValueError(f"variant {self.name!r}: max_run must be >= 2, got {self.max_run}")
        self.span_frames = bool(span_frames) if self.frame_based else False
        self.alphabet = SymbolAlphabet(layout.n_scales, layout.codebook_size, self.max_run)
        self.training_info: dict = {}  # what the last `train` call learned, beyond the merges

    def options(self) -> dict:
        """The constructor arguments that define this variant's symbols (saved with the tokenizer)."""
        options: dict = {}
        if self.uses_runs:
            options["max_run"] = self.max_run
        if self.frame_based:
            options["span_frames"] = self.span_frames
        if self.window_frames is not None:  # only when set: tokenizers saved before it keep their options
            options["window_frames"] = self.window_frames
        return options

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.options().items())
        return f"{type(self).__name__}({options})"

    # Serialization ------------------------------------------------------------------------------
    def serialize_batch(self, batch: CodeBatch) -> tuple[np.ndarray, np.ndarray]:
        """Code points (uint32) of every file of a validated batch, file after file, and the
        number of symbols of each file."""
        raise NotImplementedError

    def deserialize_batch(self, codepoints: np.ndarray, counts: np.ndarray) -> list[list[np.ndarray]]:
        """Codes per scale of each file from its code points (`counts` per file, in order).

        Any interleaving of the scales is accepted: each symbol names its scale.
        """
        kinds, values = self.alphabet.classify(codepoints)
        if (kinds == RUN_KIND).any():
            raise ValueError(f"variant {self.name!r}: unexpected run symbol")
        return split_files(kinds, values, counts, self.layout.n_scales)

    def serialize_texts(
        self, files: Sequence[CodesPerScale], names: Sequence[str] | None = None
    ) -> list[str]:
        """One symbol string per file (validated here; errors name the file by `names`)."""
        codepoints, counts = self.serialize_batch(validate_batch(files, self.layout, names))
        text = codepoints_to_text(codepoints)
        ends = np.cumsum(counts).tolist()
        return [text[end - count : end] for end, count in zip(ends, counts.tolist(), strict=True)]

    def serialize(self, codes: CodesPerScale) -> np.ndarray:
        """Code points of one file's codes (validated here)."""
        return self.serialize_batch(validate_batch([codes], self.layout, ["codes"]))[0]

    def deserialize(self, codepoints: np.ndarray) -> list[np.ndarray]:
        """Codes per scale of one file's code points."""
        return self.deserialize_batch(codepoints, np.array([codepoints.size]))[0]

    # BPE set-up ---------------------------------------------------------------------------------
    def pre_tokenizer(self) -> pre_tokenizers.PreTokenizer | None:
        """Where merges may not cross (None: the whole file is one word)."""
        raise NotImplementedError

    def new_tokenizer(self) -> Tokenizer:
        tokenizer = Tokenizer(models.BPE(unk_token=UNK_TOKEN))
        pre_tokenizer = self.pre_tokenizer()
        if pre_tokenizer is not None:
            tokenizer.pre_tokenizer = pre_tokenizer
        return tokenizer

    def check_min_frequency(self, min_frequency: int | None) -> int:
        value = self.default_min_frequency if min_frequency is None else int(min_frequency)
        if value < 0:
            raise ValueError(f"min_frequency must be >= 0, got {value}")
        return value

    def train(self, corpus: Corpus, num_merges: int, min_frequency: int | None = None) -> Tokenizer:
        """A BPE tokenizer with up to `num_merges` merges learned from `corpus()`'s strings."""
        min_frequency = self.check_min_frequency(min_frequency)
        tokenizer = self.new_tokenizer()
        trainer = self.trainer(num_merges, min_frequency)
        # With no merges to learn the data changes nothing: skip reading it.
        tokenizer.train_from_iterator(corpus() if num_merges > 0 else [], trainer=trainer)
        return tokenizer

    def trainer(self, num_merges: int, min_frequency: int) -> trainers.BpeTrainer:
        if num_merges < 0:
            raise ValueError(f"num_merges must be >= 0, got {num_merges}")
        return trainers.BpeTrainer(
            vocab_size=len(SPECIAL_TOKENS) + self.alphabet.size + num_merges,
            min_frequency=min_frequency,
            special_tokens=list(SPECIAL_TOKENS),
            initial_alphabet=self.alphabet.initial_alphabet(),
            show_progress=False,
        )
