"""The symbol alphabet: how SNAC codes and run lengths become the characters BPE merges.

The `tokenizers` library trains BPE over strings, so every base symbol is exactly one Unicode
character. They live in the Supplementary Private Use Area A (U+F0000..U+FFFFD), which no
normalizer, pre-tokenizer or real text touches, and which has room for 4 scales x 4096 codes
(the BMP private-use block, 6400 characters, does not):

    code c of scale k      U+F0000 + k * codebook_size + c         k = 0 is the coarsest scale
    run of length r        U+F0000 + n_scales * codebook_size + (r - 2)    r = 2..max_run

A code of scale 0 and the same number in scale 2 are different symbols, so a merge always knows
which scales it joins. Run symbols exist only in the run-length variants (`max_run >= 2`); one
run symbol serves every scale, because the code symbol in front of it names the scale.

The special tokens come first in the vocabulary (the order `BpeTrainer` gives them), then every
base symbol in code-point order, then one token per learned merge:

    0 <pad>   1 <bos>   2 <eos>   3 <audio_start>   4 <audio_end>   5 <unk>
    6 ...     base symbols: id = 6 + (code point - U+F0000)
    then      merged tokens, in merge order

Every base symbol is in the vocabulary whether or not training saw it, so any valid code sequence
encodes without unknown tokens; `<unk>` only appears when someone feeds the raw Hugging Face
tokenizer a character outside the alphabet (without it such characters would vanish silently).

Strings and code points convert in bulk with numpy (`np.frombuffer(s.encode("utf-32-le"))`),
never one `chr()` per code.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

#: First code point of the alphabet (start of Supplementary Private Use Area A).
CODE_BASE = 0xF0000
#: Last usable code point of that area (U+FFFFE and U+FFFFF are noncharacters).
CODE_LIMIT = 0xFFFFD

PAD_TOKEN = "<pad>"
BOS_TOKEN = "<bos>"
EOS_TOKEN = "<eos>"
AUDIO_START_TOKEN = "<audio_start>"
AUDIO_END_TOKEN = "<audio_end>"
UNK_TOKEN = "<unk>"
#: Special tokens in id order (ids 0..5).
SPECIAL_TOKENS: tuple[str, ...] = (
    PAD_TOKEN,
    BOS_TOKEN,
    EOS_TOKEN,
    AUDIO_START_TOKEN,
    AUDIO_END_TOKEN,
    UNK_TOKEN,
)

#: `SymbolAlphabet.kind_of` value for a run symbol (code symbols give their scale, 0..n-1).
RUN_KIND = -1
#: `SymbolAlphabet.kind_of` value for a code point outside the alphabet.
FOREIGN_KIND = -2


def codepoints_to_text(codepoints: np.ndarray) -> str:
    """A string whose characters are `codepoints` (one C-level conversion, no Python loop)."""
    return np.ascontiguousarray(codepoints, dtype="<u4").tobytes().decode("utf-32-le")


def text_to_codepoints(text: str) -> np.ndarray:
    """The code points of `text` as uint32 (a read-only view of one encoded buffer)."""
    return np.frombuffer(text.encode("utf-32-le"), dtype="<u4")


@dataclass(frozen=True)
class SymbolAlphabet:
    """The base symbols of one tokenizer: `n_scales * codebook_size` codes, plus run symbols."""

    n_scales: int
    codebook_size: int = 4096
    max_run: int = 1  # 1 = no run symbols

    def __post_init__(self) -> None:
        if self.n_scales < 1 or self.codebook_size < 1:
            raise ValueError(f"need at least one scale and one code, got {self}")
        if self.max_run < 1:
            raise ValueError(f"max_run must be >= 1 (1 = no run symbols), got {self.max_run}")
        if CODE_BASE + self.size - 1 > CODE_LIMIT:
            raise ValueError(
                f"{self.size} base symbols do not fit in U+{CODE_BASE:X}..U+{CODE_LIMIT:X} "
                f"({self.n_scales} scales x {self.codebook_size} codes + {self.n_runs} run symbols)"
            )

    @property
    def n_codes(self) -> int:
        return self.n_scales * self.codebook_size

    @property
    def n_runs(self) -> int:
        """Number of run symbols: lengths 2..max_run."""
        return self.max_run - 1

    @property
    def size(self) -> int:
        """Number of base symbols."""
        return self.n_codes + self.n_runs

    @property
    def run_base(self) -> int:
        """Code point of the run symbol for length 2."""
        return CODE_BASE + self.n_codes

    def code_symbol(self, scale: int, code: int) -> int:
        return CODE_BASE + scale * self.codebook_size + code

    def run_symbol(self, length: int) -> int:
        if not 2 <= length <= self.max_run:
            raise ValueError(f"run length {length} outside 2..{self.max_run}")
        return self.run_base + length - 2

    def scale_codepoints(self, scale: int | np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Code points of validated codes (`scale`: one scale, or the scale of each code)."""
        return (CODE_BASE + np.asarray(scale, dtype=np.int64) * self.codebook_size + codes).astype(np.uint32)

    def initial_alphabet(self) -> list[str]:
        """Every base symbol as a one-character string, for `BpeTrainer(initial_alphabet=...)`."""
        return list(codepoints_to_text(np.arange(CODE_BASE, CODE_BASE + self.size, dtype=np.uint32)))

    # Regex character classes, for the pre-tokenizers that keep merges inside a scale or a frame.
    def scale_class(self, scale: int) -> str:
        first = self.code_symbol(scale, 0)
        return f"[{chr(first)}-{chr(first + self.codebook_size - 1)}]"

    def run_class(self) -> str:
        if not self.n_runs:
            raise ValueError("this alphabet has no run symbols")
        return f"[{chr(self.run_base)}-{chr(self.run_base + self.n_runs - 1)}]"

    # Lookup tables indexed by `code point - CODE_BASE`.
    @cached_property
    def kind_table(self) -> np.ndarray:
        """Scale of each base symbol, or RUN_KIND for a run symbol."""
        kinds = np.full(self.size, RUN_KIND, dtype=np.int8)
        kinds[: self.n_codes] = np.repeat(np.arange(self.n_scales, dtype=np.int8), self.codebook_size)
        return kinds

    @cached_property
    def value_table(self) -> np.ndarray:
        """Code of each code symbol, or run length of each run symbol."""
        values = np.empty(self.size, dtype=np.int64)
        values[: self.n_codes] = np.tile(np.arange(self.codebook_size), self.n_scales)
        values[self.n_codes :] = np.arange(2, self.max_run + 1)
        return values

    def classify(self, codepoints: np.ndarray, what: str = "symbols") -> tuple[np.ndarray, np.ndarray]:
        """(kind, value) of each code point; a code point outside the alphabet is an error."""
        offsets = codepoints.astype(np.int64) - CODE_BASE
        bad = (offsets < 0) | (offsets >= self.size)
        if bad.any():
            position = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{what}: character U+{int(codepoints[position]):X} at position {position} is not a base "
                f"symbol of this tokenizer (U+{CODE_BASE:X}..U+{CODE_BASE + self.size - 1:X})"
            )
        return self.kind_table[offsets], self.value_table[offsets]

    def to_dict(self) -> dict:
        return {
            "code_base": CODE_BASE,
            "n_scales": self.n_scales,
            "codebook_size": self.codebook_size,
            "max_run": self.max_run,
            "run_base": self.run_base,
            "size": self.size,
            "special_tokens": list(SPECIAL_TOKENS),
            "code_symbol": "chr(code_base + scale * codebook_size + code)",
            "run_symbol": "chr(run_base + length - 2), length 2..max_run, after the code it repeats",
        }

    @classmethod
    def from_dict(cls, d: dict) -> SymbolAlphabet:
        if int(d.get("code_base", CODE_BASE)) != CODE_BASE:
            raise ValueError(
                f"unsupported alphabet: code_base U+{int(d['code_base']):X}, expected U+{CODE_BASE:X}"
            )
        return cls(
            n_scales=int(d["n_scales"]), codebook_size=int(d["codebook_size"]), max_run=int(d["max_run"])
        )
