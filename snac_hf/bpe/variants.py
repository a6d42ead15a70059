"""The BPE variants by name (`VARIANTS`), and building one from its saved name and options."""

from __future__ import annotations

from snac_hf.bpe.cross_scale import CrossScaleBPE
from snac_hf.bpe.hierarchical import HierarchicalBPE
from snac_hf.bpe.plain import PlainBPE
from snac_hf.bpe.rl import RunLengthBPE
from snac_hf.bpe.rl_cross_scale import RunLengthCrossScaleBPE
from snac_hf.bpe.thresholded import ThresholdedBPE
from snac_hf.bpe.variant import Variant
from snac_hf.layout import CodecLayout

#: Variant name -> class, in the order the comparison reports them.
VARIANTS: dict[str, type[Variant]] = {
    cls.name: cls
    for cls in (
        PlainBPE,
        ThresholdedBPE,
        RunLengthBPE,
        CrossScaleBPE,
        HierarchicalBPE,
        RunLengthCrossScaleBPE,
    )
}


def make_variant(
    name: str,
    layout: CodecLayout,
    max_run: int | None = None,
    span_frames: bool | None = None,
    window_frames: int | None = None,
) -> Variant:
    """The variant `name` for `layout`; options that do not apply to it are an error."""
    if name not in VARIANTS:
        raise ValueError(f"unknown BPE variant {name!r}; known: {', '.join(VARIANTS)}")
    if window_frames is not None:  # only the windowed variants take it (the others' signature lacks it)
        if not VARIANTS[name].windowed:
            raise ValueError(
                f"variant {name!r} has no windowed order: window_frames applies to plain, thresholded"
            )
        return VARIANTS[name](layout, max_run=max_run, span_frames=span_frames, window_frames=window_frames)
    return VARIANTS[name](layout, max_run=max_run, span_frames=span_frames)
