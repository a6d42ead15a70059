"""Train-ready data from a token set: the Orpheus-TTS (Llama + SNAC) layout exactly, and the other
SNAC TTS layouts (`snac_hf.layout.tts_layouts`: maya1, veena, vyvo_lfm2) through the same code.

- `orpheus`: the layout (SNAC 24 kHz codes <-> Orpheus ids, its markers), vectorized, and the way
  back from ids (training rows or raw LM output) to codes (`orpheus_ids_to_codes`).
- `rows`: training rows from one Arrow batch; `pack`: rows chained into fixed-length blocks, or
  multipacked (whole rows, position ids per row) for fine-tuning.
- `source`: the token set read shard by shard; `text_tokenizer`: the text tokenizer (AutoTokenizer)
  and its check against the layout.
- `writer`: one output shard, streamed; `folder`: the output folder and its ownership; `card`:
  README.md and export.json; `run`: `export_orpheus`, everything in order.

Needs numpy, pyarrow, datasets and transformers, not torch (`AutoTokenizer` imports torch where it
is installed, only when a tokenizer is loaded).

May import: `snac_hf.codec`, `snac_hf.sources`, `snac_hf.bpe`, `snac_hf.analysis`, `snac_hf.tokenset`,
`snac_hf.layout`. Never the CLI.
"""

from snac_hf.export.orpheus import OrpheusCodes, codes_to_orpheus_ids, orpheus_ids_to_codes
from snac_hf.export.run import ExportSettings, export_orpheus

__all__ = ["ExportSettings", "OrpheusCodes", "codes_to_orpheus_ids", "export_orpheus", "orpheus_ids_to_codes"]
