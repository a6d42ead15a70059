"""snac_hf: audio collections -> SNAC codec tokens, their statistics, BPE over them, and the data
audio language models train on.

    import snac_hf
    stats = snac_hf.analyze("tokens/")                       # per-scale statistics, no torch
    tok = snac_hf.load_tokenizer("tok/")                     # a trained BPE tokenizer
    ids = tok.encode(codes_per_scale); codes = tok.decode(ids)

Every name below is imported on first use (PEP 562): `import snac_hf` loads nothing heavy, and the
torch-free parts (analysis, BPE, token sets) never load torch. The packages, bottom to top:
`layout`, `tokenset`, `analysis`/`bpe`, `codec`/`sources`, `job`/`lm`/`evidence`/`export`, `cli`.

May import: every package below, lazily. Nothing imports it back except `__main__`.
"""

from importlib import import_module

__version__ = "0.1.0"

_HOMES = {
    # layout
    "CodecLayout": "snac_hf.layout",
    "layout_for": "snac_hf.layout",
    # token sets
    "open_token_set": "snac_hf.tokenset.load",
    "check_token_set": "snac_hf.tokenset.integrity",
    "DamagedInputError": "snac_hf.tokenset.json_files",
    # analysis
    "analyze": "snac_hf.analysis",
    "analyze_folder": "snac_hf.analysis",
    # bpe
    "VARIANTS": "snac_hf.bpe",
    "AudioTokenizer": "snac_hf.bpe",
    "train_tokenizer": "snac_hf.bpe",
    "load_tokenizer": "snac_hf.bpe",
    # codec (torch)
    "Codec": "snac_hf.codec.load",
    "load_codec": "snac_hf.codec.load",
    "codes_to_audio": "snac_hf.codec.decode",
    # train-ready data
    "ExportSettings": "snac_hf.export.run",
    "export_orpheus": "snac_hf.export.run",
    "orpheus_ids_to_codes": "snac_hf.export.orpheus",
    # tokenize job (torch)
    "TokenizeSettings": "snac_hf.job.pipeline",
    "tokenize_dataset": "snac_hf.job.pipeline",
}

__all__ = ["__version__", *sorted(_HOMES)]


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module 'snac_hf' has no attribute {name!r}")
    value = getattr(import_module(_HOMES[name]), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
