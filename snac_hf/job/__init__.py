"""The tokenize job: audio sources -> SNAC codes -> a token-set folder, on one or many processes.

`inputs` (map-style and streamed inputs cut into work `units`), `pipeline` (decode, encode,
write one shard per unit, resume), `launch` (accelerate processes and devices), and
`output_folder` (what may be written, replaced or resumed in the output folder).

May import: `snac_hf.codec`, `snac_hf.sources`, `snac_hf.analysis`, `snac_hf.bpe`,
`snac_hf.tokenset`, `snac_hf.layout.codes`, `snac_hf.layout`. Never the CLI.
"""
