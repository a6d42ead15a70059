"""A trained audio tokenizer: the saved folder, and exact encode/decode between codes and ids.

The folder is what `PreTrainedTokenizerFast.save_pretrained` writes (`tokenizer.json`,
`tokenizer_config.json`), so `AutoTokenizer.from_pretrained(folder)` loads it offline. The
metadata needed to map ids back to codes (codec layout, variant and its options, the symbol
alphabet, training summary) travels in `tokenizer_config.json` under `codec_meta`, which
transformers keeps through load -> save -> load.

The Hugging Face tokenizer works on symbol strings (see `alphabet.py`); `AudioTokenizer` adds the
codes side: `encode(codes_per_scale) -> ids` validates the codes and serializes them with the
variant, and `decode(ids) -> codes_per_scale` concatenates the tokens' symbols (a lookup table per
id, no string joins) and deserializes. With `add_special_tokens=True` an encoding is
`<bos> <audio_start> ... <audio_end> <eos>` (the tokenizer's post-processor, so the raw HF
tokenizer does the same); decoding skips those and refuses `<unk>` and ids outside the vocabulary.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
import pyarrow as pa
from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

from snac_hf.bpe.alphabet import (
    AUDIO_END_TOKEN,
    AUDIO_START_TOKEN,
    BOS_TOKEN,
    EOS_TOKEN,
    PAD_TOKEN,
    SPECIAL_TOKENS,
    UNK_TOKEN,
    SymbolAlphabet,
    text_to_codepoints,
)
from snac_hf.bpe.corpus import batch_codes
from snac_hf.bpe.id_layout import check_backend, finish_backend
from snac_hf.bpe.variant import Variant
from snac_hf.bpe.variants import make_variant
from snac_hf.layout import CodecLayout
from snac_hf.layout.codes import CodesPerScale, check_length_rows, check_lengths
from snac_hf.tokenset.json_files import DamagedInputError, read_json_object

#: Version of the `codec_meta` layout in tokenizer_config.json.
META_FORMAT = "snac_hf.bpe/1"
#: The JSON files of a saved tokenizer folder.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
DAMAGED = (
    "; the folder was edited or damaged: restore the folder `snac-hf train-bpe` wrote, or train it again "
    "(`snac-hf train-bpe`)"
)
#: The name every special token has in a saved folder (tokenizer_config.json, special_tokens_map.json).
SPECIAL_TOKEN_NAMES = {
    "bos_token": BOS_TOKEN,
    "eos_token": EOS_TOKEN,
    "pad_token": PAD_TOKEN,
    "unk_token": UNK_TOKEN,
    "audio_start_token": AUDIO_START_TOKEN,
    "audio_end_token": AUDIO_END_TOKEN,
}


def build_hf_tokenizer(backend: Tokenizer, variant: Variant, meta: dict) -> PreTrainedTokenizerFast:
    """Wrap a trained `tokenizers.Tokenizer`: lossless decoder, special-token template, metadata."""
    special_ids = {token: backend.token_to_id(token) for token in SPECIAL_TOKENS}
    if any(i is None for i in special_ids.values()) or sorted(special_ids.values()) != list(
        range(len(SPECIAL_TOKENS))
    ):
        raise ValueError(f"special tokens must have ids 0..{len(SPECIAL_TOKENS) - 1}, got {special_ids}")
    vocab = backend.get_vocab()
    missing = [s for s in variant.alphabet.initial_alphabet() if s not in vocab]
    if missing:
        raise ValueError(
            f"{len(missing)} base symbols are missing from the vocabulary (first U+{ord(missing[0]):X})"
        )
    finish_backend(backend, special_ids)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS_TOKEN,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        unk_token=UNK_TOKEN,
        extra_special_tokens={"audio_start_token": AUDIO_START_TOKEN, "audio_end_token": AUDIO_END_TOKEN},
        clean_up_tokenization_spaces=False,
        model_input_names=["input_ids", "attention_mask"],
        codec_meta=meta,
    )


class AudioTokenizer:
    """Codes per scale <-> token ids, exactly, for one trained tokenizer folder.

    Construction verifies the tokenizer (`id_layout.check_backend`): the documented id layout and
    the lossless set-up of the variant `codec_meta` names, and the special tokens' roles (pad is
    `<pad>`, not a swapped `<unk>`); any difference is a ValueError that starts with `name` (the
    folder, when loaded by `load_tokenizer`).
    """

    def __init__(self, hf_tokenizer: PreTrainedTokenizerBase, name: str = "tokenizer"):
        meta = hf_tokenizer.init_kwargs.get("codec_meta")
        if not isinstance(meta, Mapping) or meta.get("format") != META_FORMAT:
            raise ValueError(
                f"{name}: not a snac_hf audio tokenizer: tokenizer_config.json has no codec_meta of format "
                f"{META_FORMAT!r}"
            )
        swapped = special_token_problem(hf_tokenizer.special_tokens_map)
        if swapped:
            raise ValueError(
                f"{name}: {swapped} (special_tokens_map.json or tokenizer_config.json was edited){DAMAGED}"
            )
        self.hf_tokenizer = hf_tokenizer
        self.meta = dict(meta)
        try:
            self.layout = CodecLayout.from_dict(meta["layout"])
            self.variant: str = meta["variant"]
            self.serializer = make_variant(self.variant, self.layout, **meta.get("options", {}))
            saved_alphabet = SymbolAlphabet.from_dict(meta["alphabet"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(
                f"{name}: unusable codec_meta in tokenizer_config.json ({error!r}){DAMAGED}"
            ) from None
        if saved_alphabet != self.serializer.alphabet:
            raise ValueError(
                f"{name}: codec_meta alphabet {saved_alphabet} does not match variant {self.serializer!r}"
                f"{DAMAGED}"
            )
        self.alphabet = saved_alphabet
        self._backend: Tokenizer = hf_tokenizer.backend_tokenizer
        problem = check_backend(self._backend, self.serializer)
        if problem:
            raise ValueError(f"{name}: tokenizer.json does not match its codec_meta: {problem}{DAMAGED}")
        self._build_tables()

    def _build_tables(self) -> None:
        """Per id: where its symbols start in one flat code-point buffer, and how many there are."""
        vocab = self._backend.get_vocab(with_added_tokens=True)
        size = len(vocab)
        if sorted(vocab.values()) != list(range(size)):
            raise ValueError("token ids are not contiguous 0..vocab_size-1")
        tokens = sorted(vocab, key=vocab.get)
        self.special_ids = {token: vocab[token] for token in SPECIAL_TOKENS}
        pieces, lengths = [], np.zeros(size, dtype=np.int64)
        for token_id, token in enumerate(tokens):
            if token in self.special_ids:
                continue
            codepoints = text_to_codepoints(token)
            pieces.append(codepoints)
            lengths[token_id] = codepoints.size
        self._flat = np.concatenate(pieces).astype(np.uint32)
        self.alphabet.classify(self._flat, what="the tokenizer's vocabulary")  # only base symbols
        self._token_length = lengths
        self._token_start = np.cumsum(lengths) - lengths

    # Ids of the special tokens -------------------------------------------------------------------
    @property
    def pad_token_id(self) -> int:
        return self.special_ids[PAD_TOKEN]

    @property
    def bos_token_id(self) -> int:
        return self.special_ids[BOS_TOKEN]

    @property
    def eos_token_id(self) -> int:
        return self.special_ids[EOS_TOKEN]

    @property
    def audio_start_token_id(self) -> int:
        return self.special_ids[AUDIO_START_TOKEN]

    @property
    def audio_end_token_id(self) -> int:
        return self.special_ids[AUDIO_END_TOKEN]

    @property
    def unk_token_id(self) -> int:
        return self.special_ids[UNK_TOKEN]

    @property
    def vocab_size(self) -> int:
        return len(self._token_length)

    def __len__(self) -> int:
        return self.vocab_size

    @property
    def num_merges(self) -> int:
        return self.vocab_size - len(SPECIAL_TOKENS) - self.alphabet.size

    def __repr__(self) -> str:
        return f"AudioTokenizer({self.serializer!r}, vocab_size={self.vocab_size})"

    # Codes <-> symbol strings --------------------------------------------------------------------
    def codes_to_text(self, codes_per_scale: CodesPerScale) -> str:
        """The symbol string the HF tokenizer encodes (validates the codes first)."""
        return self.serializer.serialize_texts([codes_per_scale], ["codes"])[0]

    def text_to_codes(self, text: str, strict: bool = True) -> list[np.ndarray]:
        """Codes per scale of a symbol string (for instance `hf_tokenizer.decode(ids)`)."""
        codes = self.serializer.deserialize(text_to_codepoints(text))
        if strict:
            check_lengths(self.layout, [len(c) for c in codes], "decoded symbols")
        return codes

    # Codes <-> ids -------------------------------------------------------------------------------
    def encode(self, codes_per_scale: CodesPerScale, add_special_tokens: bool = False) -> list[int]:
        """Token ids of one file's codes (one 1-D int array per scale, coarsest first)."""
        return self.encode_batch([codes_per_scale], add_special_tokens, names=["codes"])[0]

    def encode_batch(
        self,
        batch: Sequence[CodesPerScale],
        add_special_tokens: bool = False,
        names: Sequence[str] | None = None,
    ) -> list[list[int]]:
        """`encode` for many files: serialized together, encoded in parallel by `tokenizers`.

        `names` label the files in error messages (default "file i").
        """
        texts = self.serializer.serialize_texts(batch, names)
        return [e.ids for e in self._backend.encode_batch(texts, add_special_tokens=add_special_tokens)]

    def decode(self, ids: Sequence[int] | np.ndarray, strict: bool = True) -> list[np.ndarray]:
        """Codes per scale (int64 arrays) of `ids`: the exact inverse of `encode`.

        Special tokens are skipped; `<unk>` and ids outside the vocabulary are errors. `strict`
        also requires scale lengths that some audio produces (a model's output cut mid-frame fails
        it; `strict=False` returns the codes anyway).
        """
        return self.decode_batch([ids], strict, names=["ids"])[0]

    def decode_batch(
        self,
        batch: Sequence[Sequence[int] | np.ndarray],
        strict: bool = True,
        names: Sequence[str] | None = None,
    ) -> list[list[np.ndarray]]:
        """`decode` for many id sequences at once (one table lookup for all of them)."""
        names = list(names) if names is not None else [f"sequence {i}" for i in range(len(batch))]
        arrays = []
        for name, ids in zip(names, batch, strict=True):
            array = np.asarray(ids)
            if array.size and (array.ndim != 1 or not np.issubdtype(array.dtype, np.integer)):
                raise ValueError(
                    f"{name}: ids must be 1-D integers, got shape {array.shape} dtype {array.dtype}"
                )
            arrays.append(array.astype(np.int64).ravel())
        flat = np.concatenate(arrays) if arrays else np.zeros(0, np.int64)
        sequence_lengths = np.array([a.size for a in arrays], dtype=np.int64)
        bad = (flat < 0) | (flat >= self.vocab_size) | (flat == self.unk_token_id)
        if bad.any():
            position = int(np.flatnonzero(bad)[0])
            sequence = int(np.searchsorted(np.cumsum(sequence_lengths), position, side="right"))
            offset = position - int(sequence_lengths[:sequence].sum())
            token_id = int(flat[position])
            reason = (
                f"<unk> (id {token_id}) stands for no code"
                if token_id == self.unk_token_id
                else f"unknown token id {token_id} (vocab size {self.vocab_size})"
            )
            raise ValueError(f"{names[sequence]}: {reason} at position {offset}")
        # Id i spells `_token_length[i]` symbols starting at `_token_start[i]` in `_flat`
        # (0 for special tokens, which decode to nothing).
        lengths = self._token_length[flat]
        ends = np.cumsum(lengths)
        total = int(ends[-1]) if ends.size else 0
        index = np.arange(total) + np.repeat(self._token_start[flat] - (ends - lengths), lengths)
        sequence_of_id = np.repeat(np.arange(len(arrays)), sequence_lengths)
        symbol_counts = np.bincount(sequence_of_id, weights=lengths, minlength=len(arrays)).astype(np.int64)
        files = self.serializer.deserialize_batch(self._flat[index], symbol_counts)
        if strict:
            scale_lengths = np.array([[c.size for c in f] for f in files], dtype=np.int64)
            check_length_rows(
                self.layout, scale_lengths.reshape(-1, self.layout.n_scales), [f"decoded {n}" for n in names]
            )
        return files

    def save_pretrained(self, folder: str | os.PathLike) -> None:
        self.hf_tokenizer.save_pretrained(str(folder))


def load_tokenizer(source: str | os.PathLike | PreTrainedTokenizerBase) -> AudioTokenizer:
    """An `AudioTokenizer` from a folder written by `train_tokenizer` (or its loaded HF tokenizer).

    The folder's JSON files are read first, so a damaged one is named (`read_json_object`), and
    their special tokens checked (`check_special_token_files`); a tokenizer.json that `tokenizers`
    cannot load (a merge of tokens not in the vocabulary, a vocabulary id that is not a number)
    is a `DamagedInputError` naming it, not the bare `Exception` `tokenizers` raises; then the
    tokenizer is verified (see `AudioTokenizer`). Every message is one line with what to do.
    """
    if isinstance(source, PreTrainedTokenizerBase):
        return AudioTokenizer(source)
    folder = str(source)
    if not os.path.isfile(os.path.join(folder, "tokenizer.json")):
        raise FileNotFoundError(
            f"{folder}: not a tokenizer folder (no tokenizer.json); pass the --output_dir of train_bpe.py"
        )
    for name in TOKENIZER_FILES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            data = read_json_object(path, DAMAGED.removeprefix("; "))
            if name != "tokenizer.json":
                check_special_token_files(path, data)
    try:
        # The same files AutoTokenizer reads; importing AutoTokenizer would import torch when installed.
        hf_tokenizer = PreTrainedTokenizerFast.from_pretrained(folder, trust_remote_code=False)
    except Exception as error:  # tokenizers raises a bare Exception for a tokenizer.json it cannot load
        raise _unloadable(folder, error) from None
    return AudioTokenizer(hf_tokenizer, name=folder)


def special_token_problem(found: Mapping) -> str | None:
    """The first special token whose role holds another token (`SPECIAL_TOKEN_NAMES`), or None.

    `found` maps roles to tokens: a tokenizer's `special_tokens_map`, or a saved JSON file (whose
    tokens may be strings or `{"content": ...}` objects; roles it leaves out are not checked)."""
    for role, token in SPECIAL_TOKEN_NAMES.items():
        value = found.get(role)
        if isinstance(value, Mapping):
            value = value.get("content")
        if value is not None and value != token:
            return f"its {role} is {value!r}, but a snac_hf audio tokenizer's {role} is {token!r}"
    return None


def check_special_token_files(path: str, data: dict) -> None:
    """A `DamagedInputError` naming `path` when one of its special tokens has another role's token
    (a swapped `special_tokens_map.json` would otherwise load with pad = `<unk>`)."""
    roles = dict(data)
    extra = data.get("extra_special_tokens")
    if isinstance(extra, Mapping):
        roles.update({k: v for k, v in extra.items() if k not in roles})
    problem = special_token_problem(roles)
    if problem:
        raise DamagedInputError(f"{path}: {problem}{DAMAGED}")


def _unloadable(folder: str, error: BaseException) -> DamagedInputError:
    """The one-line error of a folder `from_pretrained` could not load: tokenizer.json named when it
    is that file `tokenizers` cannot read."""
    path = os.path.join(folder, "tokenizer.json")
    try:
        Tokenizer.from_file(path)
    except Exception as backend_error:  # tokenizers raises a bare Exception
        return DamagedInputError(f"{path}: tokenizers cannot load it ({_one_line(backend_error)}){DAMAGED}")
    return DamagedInputError(f"{folder}: not loadable ({type(error).__name__}: {_one_line(error)}){DAMAGED}")


def _one_line(error: BaseException) -> str:
    """`error`'s message on one line, non-ASCII symbols (the alphabet's private-use code points) escaped."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text.encode("ascii", "backslashreplace").decode("ascii")


@lru_cache(maxsize=4)
def _load_cached(folder: str) -> AudioTokenizer:
    return load_tokenizer(folder)


def add_input_ids(
    batch: Mapping | pa.Table,
    rank: int | None = None,
    *,
    tokenizer: AudioTokenizer | str | os.PathLike,
    add_special_tokens: bool = True,
) -> dict[str, list[list[int]]] | pa.Table:
    """Batched `Dataset.map` function: the `input_ids` of each row's codes, for LM training.

        ds.map(add_input_ids, batched=True, fn_kwargs={"tokenizer": tok})

    Returns `{"input_ids": [...]}`; on an Arrow batch (`ds.with_format("arrow")`, the fast path)
    it returns the batch with an `input_ids` column (list<int32>) added, because in Arrow format
    `datasets` keeps only the columns a function returns. `tokenizer` may be a folder (loaded once
    per process, handy with `num_proc`). `rank` is accepted so the function composes with
    `with_rank=True`; it does not change the result. Errors name the file by its `id`.
    """
    audio_tokenizer = (
        tokenizer if isinstance(tokenizer, AudioTokenizer) else _load_cached(os.fspath(tokenizer))
    )
    files = batch_codes(batch, audio_tokenizer.layout.n_scales)
    names = [f"row {i}" for i in range(len(files))]
    if isinstance(batch, pa.Table) and "id" in batch.column_names:
        names = [f"file {file_id!r}" for file_id in batch.column("id").to_pylist()]
    elif isinstance(batch, Mapping) and "id" in batch:
        names = [f"file {file_id!r}" for file_id in batch["id"]]
    input_ids = audio_tokenizer.encode_batch(files, add_special_tokens, names=names)
    if isinstance(batch, pa.Table):
        column = pa.array(input_ids, type=pa.list_(pa.int32()))
        if "input_ids" in batch.column_names:
            return batch.set_column(batch.column_names.index("input_ids"), "input_ids", column)
        return batch.append_column("input_ids", column)
    return {"input_ids": input_ids}
