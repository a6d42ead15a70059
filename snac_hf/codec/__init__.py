"""The torch side: SNAC models and what runs them.

`model_folder` (a model folder's files; where offline models are cached), `load` (a Hub id, a
local folder or a fine-tuned checkpoint -> `Codec`), `encode` (audio -> codes, batched, exact
mode), `decode` (codes or tokenizer ids -> audio; long files in chunks, `chunked_decode`;
as a datasets folder, `audio_dataset`), `wav` (writing float WAV), `offline` and
`codebook_fit` (the offline stand-in models used where pretrained SNAC cannot be downloaded).

May import: `snac_hf.sources`, `snac_hf.analysis`, `snac_hf.bpe`, `snac_hf.tokenset`,
`snac_hf.layout.codes`, `snac_hf.layout`. Never the tokenize job, `lm`, `evidence`, `export` or the CLI.
Importing this package (not its modules) loads no torch.
"""
