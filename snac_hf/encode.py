"""Audio samples -> SNAC codes, batched without changing a single code.

The reference for every file is SNAC's own `encode` of that file alone. Three rules keep the
batched pipeline equal to it:

1. **Segments.** A file longer than `segment_samples` (a multiple of the padding multiple, so of
   every scale's code period) is cut into consecutive segments; the codes of a file are the
   concatenation of its segments' codes. A file shorter than one segment is one segment, encoded
   exactly as alone. (Cutting changes a few codes next to each cut: measured in the README.)
2. **Buckets.** SNAC right-pads every input to a multiple of `pad_multiple`; a batch only holds
   segments of the same padded length, zero-padded exactly as `preprocess` would pad each alone.
   Batching items of different padded lengths would change the last codes of the shorter ones.
3. **Per-item quantization.** Each item's latents are quantized on their own: the quantizer's
   distance matmul over (batch x time) rows rounds differently with the batch's shape, which
   flips codes that sit near a tie. The quantizer is tiny next to the encoder, so this costs little.
4. **Per-item encoder on CPU.** With more than one thread, a CPU convolution over a batch splits
   its work differently than over one item: outputs differ by ~1e-6 (measured: 6e-7 to 1e-6 for
   batches of 2-8, 0 with one thread), enough to flip codes. On CPU each item therefore goes
   through the encoder alone, which is also the fastest way there (SNAC on CPU is memory-bound:
   1 x 4 s runs about twice the audio-seconds per second of 4 x 4 s). On CUDA the encoder runs
   on the whole bucket, where batching is what makes a GPU fast.

Codes of padding are trimmed per item: scale k keeps `ceil(n_samples / (hop * stride_k))` codes.

`exact=True` computes in float64: codes then no longer depend on thread count, process count,
batching or resume (float32 results differ by ~1e-6 between thread counts, enough to flip codes).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from snac_hf.codec import Codec


@dataclass(frozen=True)
class Segment:
    """Samples `start:stop` of file `file` are encoded; the codes of `core_start:core_stop` are kept."""

    file: int
    start: int
    stop: int
    core_start: int
    core_stop: int


def plan_segments(file: int, n_samples: int, segment_samples: int, context_samples: int = 0) -> list[Segment]:
    """Cut one file into consecutive cores of `segment_samples`, each widened by `context_samples`
    on both sides (clipped to the file). Both must be multiples of the padding multiple so that
    every core starts on a code boundary of every scale."""
    return [
        Segment(
            file,
            max(0, core - context_samples),
            min(n_samples, core + segment_samples + context_samples),
            core,
            min(n_samples, core + segment_samples),
        )
        for core in range(0, n_samples, segment_samples)
    ]


def length_buckets(lengths: Sequence[int], pad_multiple: int, batch_size: int) -> Iterator[list[int]]:
    """Indices grouped into batches whose items share one padded length (input order kept inside)."""
    buckets: dict[int, list[int]] = {}
    for index, length in enumerate(lengths):
        buckets.setdefault(-(-length // pad_multiple), []).append(index)
    for padded in sorted(buckets, reverse=True):
        members = buckets[padded]
        for start in range(0, len(members), batch_size):
            yield members[start : start + batch_size]


def model_on(codec: Codec, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    """The codec's model on `device` in `dtype`: itself if it already is, else a converted copy.

    Never converts `codec.model` in place, so encoders of different precisions (and the decode
    path) can share one loaded codec.
    """
    parameter = next(codec.model.parameters())
    if parameter.device == torch.device(device) and parameter.dtype == dtype:
        return codec.model.eval()
    return copy.deepcopy(codec.model).to(device=device, dtype=dtype).eval()


class SnacEncoder:
    """Encodes lists of mono float32 arrays with a loaded `Codec` on one device."""

    def __init__(self, codec: Codec, device: str | torch.device = "cpu", exact: bool = False):
        self.layout = codec.layout
        self.device = torch.device(device)
        self.dtype = torch.float64 if exact else torch.float32
        self.model = model_on(codec, self.device, self.dtype)
        self.batch_encoder = self.device.type != "cpu"  # rule 4 of the module docstring

    @torch.inference_mode()
    def encode_batch(
        self, inputs: Sequence[np.ndarray], keep: Sequence[tuple[int, int]] | None = None
    ) -> list[list[np.ndarray]]:
        """Codes per scale for inputs that share one padded length.

        `keep[i] = (offset, n_samples)`: return the codes of samples `offset:offset + n_samples`
        of input i (`offset` a multiple of the padding multiple); default the whole input.
        """
        padded = self.layout.padded_length(max(len(x) for x in inputs))
        batch = np.zeros((len(inputs), 1, padded), dtype=np.float32)
        for row, samples in zip(batch, inputs):
            row[0, : len(samples)] = samples
        audio = torch.from_numpy(batch).to(device=self.device, dtype=self.dtype)
        if self.batch_encoder:
            latents = list(torch.split(self.model.encoder(audio), 1))
        else:
            latents = [self.model.encoder(item) for item in torch.split(audio, 1)]
        results = []
        for item, samples in enumerate(inputs):
            _, codes = self.model.quantizer(latents[item])
            offset, n_samples = keep[item] if keep is not None else (0, len(samples))
            results.append(
                [
                    c[0, offset // period : offset // period + n].cpu().numpy().astype(np.int16)
                    for c, n, period in zip(codes, self.layout.n_codes(n_samples), self._periods)
                ]
            )
        return results

    @property
    def _periods(self) -> list[int]:
        return [self.layout.samples_per_code(k) for k in range(self.layout.n_scales)]

    def encode_files(
        self,
        files: Sequence[np.ndarray],
        segment_samples: int,
        batch_size: int,
        context_samples: int = 0,
    ) -> list[list[np.ndarray]]:
        """Codes per scale for each whole file: segments batched by padded length, reassembled."""
        for name, value in (("segment", segment_samples), ("context", context_samples)):
            if value % self.layout.pad_multiple:
                raise ValueError(f"{name} of {value} samples is not a multiple of {self.layout.pad_multiple}")
        segments = [
            segment
            for index, samples in enumerate(files)
            for segment in plan_segments(index, len(samples), segment_samples, context_samples)
        ]
        codes: list[list[np.ndarray]] = [[] for _ in segments]
        lengths = [s.stop - s.start for s in segments]
        for members in length_buckets(lengths, self.layout.pad_multiple, batch_size):
            inputs = [files[segments[i].file][segments[i].start : segments[i].stop] for i in members]
            keep = [
                (segments[i].core_start - segments[i].start, segments[i].core_stop - segments[i].core_start)
                for i in members
            ]
            for index, segment_codes in zip(members, self.encode_batch(inputs, keep)):
                codes[index] = segment_codes
        per_file: list[list[list[np.ndarray]]] = [[] for _ in files]
        for segment, segment_codes in zip(segments, codes):
            per_file[segment.file].append(segment_codes)
        return [
            [np.concatenate([part[k] for part in parts]) for k in range(self.layout.n_scales)]
            for parts in per_file
        ]


def encode_alone(codec: Codec, samples: np.ndarray, exact: bool = False) -> list[np.ndarray]:
    """The reference: SNAC's own `encode` of one whole file, trimmed to the real audio."""
    dtype = torch.float64 if exact else torch.float32
    device = next(codec.model.parameters()).device
    model = model_on(codec, device, dtype)
    with torch.inference_mode():
        audio = torch.from_numpy(np.asarray(samples, np.float32)).to(device=device, dtype=dtype)
        codes = model.encode(audio.view(1, 1, -1))
    keep = codec.layout.n_codes(len(samples))
    return [c[0, :n].cpu().numpy().astype(np.int16) for c, n in zip(codes, keep)]


def code_agreement(codes: Sequence[Sequence[np.ndarray]], reference: Sequence[Sequence[np.ndarray]]) -> float:
    """Fraction of codes (all files, all scales) equal to the reference at the same position."""
    equal = total = 0
    for file_codes, file_reference in zip(codes, reference, strict=True):
        for mine, theirs in zip(file_codes, file_reference, strict=True):
            if len(mine) != len(theirs):
                raise ValueError(f"code lengths differ: {len(mine)} vs {len(theirs)}")
            equal += int(np.count_nonzero(np.asarray(mine) == np.asarray(theirs)))
            total += len(mine)
    return equal / total if total else 1.0
