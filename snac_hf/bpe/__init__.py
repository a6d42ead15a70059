"""BPE over SNAC codes: six variants trained with `tokenizers`, saved as Hugging Face tokenizers.

    from snac_hf.bpe import train_tokenizer, load_tokenizer, VARIANTS
    folder = train_tokenizer("tokens/", variant="rl", num_merges=8000, output_dir="tok/")
    tok = load_tokenizer(folder)
    ids = tok.encode(codes_per_scale)        # list of 1-D int arrays, coarsest scale first
    codes = tok.decode(ids)                  # exact inverse

Modules: `alphabet` (symbols), `variant` (the common base) and one module
per variant (`plain`, `thresholded`, `rl`, `cross_scale`, `hierarchical`, `rl_cross_scale`),
`corpus` (reading token sets), `training`, `tokenizer` (the saved-tokenizer API), `compare`.
No torch anywhere: a downloaded token set is merged without it.

The names below are imported on first use (PEP 562), so a module such as `alphabet` loads without
`transformers`.

May import: `snac_hf.analysis` (`compare` judges the analysis's predictions), `snac_hf.tokenset`,
`snac_hf.layout`. No torch.
"""

from importlib import import_module

_HOMES = {
    "SPECIAL_TOKENS": "snac_hf.bpe.alphabet",
    "SymbolAlphabet": "snac_hf.bpe.alphabet",
    "AudioTokenizer": "snac_hf.bpe.tokenizer",
    "add_input_ids": "snac_hf.bpe.tokenizer",
    "load_tokenizer": "snac_hf.bpe.tokenizer",
    "train_tokenizer": "snac_hf.bpe.training",
    "VARIANTS": "snac_hf.bpe.variants",
    "make_variant": "snac_hf.bpe.variants",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module 'snac_hf.bpe' has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
