"""The token-set folder: what `snac-hf tokenize` writes and every other stage reads.

`schema` (file names, columns, Arrow/Parquet shards, metadata.json), `load` (a token set or any
dataset as a `datasets.Dataset`; push to the Hub), `integrity` (shards checked against metadata
and unit records, their digests), `row_checks` (durations and `n_tokens_scale_k` of every row
against its codes, for every reader), `ownership` (which files in a folder are ours to replace),
`card` (the dataset card and metadata figures), `sections` (rewritable sections of Markdown
files), and `hub` (Hub names and reachability).

May import: `snac_hf.layout` only (and `snac_hf.layout.codes`). No torch.
"""
