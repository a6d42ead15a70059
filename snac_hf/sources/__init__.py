"""Audio sources: where the audio of a tokenize job comes from, decoded to the codec's rate.

A folder scan (`folder`, with `skipped` entries and `path_text` for names that are not UTF-8),
`load_dataset`/`save_to_disk`/streamed datasets (`dataset`), the user's kept columns (`columns`),
one file decoded to float32 at a rate (`audio`, with the length a PCM header declares from
`pcm_header`), and the decode worker processes that feed the
encoder in input order (`decoding`).

May import: `snac_hf.tokenset`, `snac_hf.layout.codes`, `snac_hf.layout` (and `analysis`/`bpe`, below it
in the stack). Never the tokenize job (`snac_hf.job`), the torch side (`snac_hf.codec`) or the CLI.
No torch is imported here: decoding goes through torchcodec in worker processes.
"""
