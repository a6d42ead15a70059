"""The bottom layer: how a SNAC codec lays its codes out in time, and the checks on codes that
follow from it. Needs only numpy; every other package may import it.

- `scales`: `CodecLayout` (strides, hop, codes per second, frames) and the known SNAC configs.
- `codes`: refusing code lists a codec could not have produced, and the flat batch layout the
  BPE variants serialize through.
- `windowed`: windowed scale order (per window of W frames: coarse, then middle, then fine codes),
  the serialization between frame order (W = 1) and scale order (W = the whole file) that streams.
- `orpheus`: the Orpheus frame order (which code sits at each position of a frame), shared by the
  Orpheus export and the evidence run's `orpheus` baseline.
- `tts_layouts`: the id layouts of the SNAC TTS models (orpheus, maya1, veena, vyvo_lfm2) as data:
  markers, speech offset, BOS / end of text, text template; the export's `--format`.

May import: nothing in snac_hf.
"""

from snac_hf.layout.scales import SNAC_CONFIGS, CodecLayout, layout_for

__all__ = ["SNAC_CONFIGS", "CodecLayout", "layout_for"]
