"""The set-up every saved audio tokenizer has, and the check that a loaded one still has it.

Ids map to codes only through the documented layout (`alphabet.py`):

    0..5                     the special tokens, in `SPECIAL_TOKENS` order
    6 .. 6 + S - 1           the S base symbols in code-point order (codes, then run symbols)
    6 + S + i                merge i of the BPE model: the concatenation of its two parts

and the lossless set-up (`variant.py`): `models.BPE` with unk `<unk>`, no byte fallback, dropout,
prefix or suffix; no normalizer; the variant's pre-tokenizer; `decoders.Fuse()`; the
`<bos> <audio_start> $A <audio_end> <eos>` template; no added tokens but the specials.

`check_backend` compares a loaded `tokenizers.Tokenizer` with that, through its JSON form: the
normalizer, pre-tokenizer, post-processor, decoder and the model's options must equal those of a
tokenizer built afresh for the variant in `codec_meta` (`expected_setup`), and every id must hold
the token the layout puts there. A tokenizer.json edited by hand (two base symbols swapped, a
normalizer added, a merge reordered) would otherwise load and decode ids to other codes; here it
is refused with the first difference.
"""

from __future__ import annotations

import json

from tokenizers import Tokenizer, decoders, processors

from snac_hf.bpe.alphabet import (
    AUDIO_END_TOKEN,
    AUDIO_START_TOKEN,
    BOS_TOKEN,
    EOS_TOKEN,
    SPECIAL_TOKENS,
)
from snac_hf.bpe.variant import Variant

#: Parts of tokenizer.json that decide how symbols become ids and back.
SETUP_PARTS = ("normalizer", "pre_tokenizer", "post_processor", "decoder")


def finish_backend(backend: Tokenizer, special_ids: dict[str, int]) -> None:
    """Set the lossless decoder and the special-token template on a trained tokenizer."""
    backend.decoder = decoders.Fuse()  # without a decoder, decode() joins tokens with spaces
    backend.post_processor = processors.TemplateProcessing(
        single=f"{BOS_TOKEN} {AUDIO_START_TOKEN} $A {AUDIO_END_TOKEN} {EOS_TOKEN}",
        pair=f"{BOS_TOKEN} {AUDIO_START_TOKEN} $A {AUDIO_END_TOKEN} {AUDIO_START_TOKEN} $B {AUDIO_END_TOKEN} "
        f"{EOS_TOKEN}",
        special_tokens=[
            (t, special_ids[t]) for t in (BOS_TOKEN, EOS_TOKEN, AUDIO_START_TOKEN, AUDIO_END_TOKEN)
        ],
    )


def expected_setup(variant: Variant) -> dict:
    """tokenizer.json's set-up parts and model options for `variant`, as training writes them."""
    backend = variant.new_tokenizer()
    finish_backend(backend, {token: i for i, token in enumerate(SPECIAL_TOKENS)})
    return _setup(json.loads(backend.to_str()))


def _setup(data: dict) -> dict:
    setup = {part: data.get(part) for part in SETUP_PARTS}
    setup["model"] = {k: v for k, v in data["model"].items() if k not in ("vocab", "merges")}
    return setup


def check_backend(backend: Tokenizer, variant: Variant) -> str | None:
    """The first way `backend` departs from the documented layout and set-up, or None."""
    data = json.loads(backend.to_str())
    if data.get("model", {}).get("type") != "BPE":
        return f"the model is {data.get('model', {}).get('type')!r}, not BPE"
    found, expected = _setup(data), expected_setup(variant)
    for part in (*SETUP_PARTS, "model"):
        if found[part] != expected[part]:
            return f"its {part} is {_short(found[part])}, expected {_short(expected[part])}"
    added = [(t["id"], t["content"]) for t in data.get("added_tokens", [])]
    if added != list(enumerate(SPECIAL_TOKENS)):
        return f"added tokens {_short(added)}, expected only the specials {list(enumerate(SPECIAL_TOKENS))}"
    return _vocabulary_problem(data["model"], variant)


def _vocabulary_problem(model: dict, variant: Variant) -> str | None:
    vocab, merges = model["vocab"], model.get("merges", [])
    tokens = sorted(vocab, key=vocab.get)
    if [vocab[t] for t in tokens] != list(range(len(tokens))):
        return "its token ids are not 0..vocab_size-1"
    base = variant.alphabet.initial_alphabet()
    n_fixed = len(SPECIAL_TOKENS) + len(base)
    expected = list(SPECIAL_TOKENS) + base + ["".join(_parts(m)) for m in merges]
    if len(tokens) != len(expected):
        parts = f"{len(SPECIAL_TOKENS)} specials + {len(base)} base symbols + {len(merges)} merges"
        return f"{len(tokens)} tokens, but {parts}"
    if tokens != expected:
        i = next(i for i, (a, b) in enumerate(zip(tokens, expected, strict=True)) if a != b)
        kind = "special token" if i < len(SPECIAL_TOKENS) else "base symbol" if i < n_fixed else "merge"
        documented = f"the documented layout puts the {kind} {_spell(expected[i])} there"
        return f"id {i} is {_spell(tokens[i])}, but {documented}"
    return None


def _parts(merge: str | list) -> list[str]:
    """A merge as its two parts (tokenizers writes `[a, b]`, older versions `"a b"`)."""
    return merge.split(" ") if isinstance(merge, str) else list(merge)


def _spell(token: str) -> str:
    return token if token in SPECIAL_TOKENS else " ".join(f"U+{ord(c):X}" for c in token)


def _short(value: object, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."
