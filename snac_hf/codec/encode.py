"""Audio samples -> SNAC codes, batched without changing a single code.

The reference for every file is SNAC's own `encode` of that file alone. Four rules keep the
batched pipeline equal to it:

1. **Segments.** A file longer than `segment_samples` (a multiple of the padding multiple, so of
   every scale's code period) is cut into consecutive segments; the codes of a file are the
   concatenation of its segments' codes. A file shorter than one segment is one segment, encoded
   exactly as alone. (Cutting changes a few codes next to each cut: measured in the README.)
2. **Buckets.** SNAC right-pads every input to a multiple of `pad_multiple`; a batch only holds
   segments of the same padded length, zero-padded exactly as `preprocess` would pad each alone.
   Batching items of different padded lengths would change the last codes of the shorter ones.
3. **Per-item arithmetic in the quantizer.** SNAC's quantizer is not batch-invariant: torch picks
   the algorithm of its 1x1 convolutions `in_proj`/`out_proj` by batch size (on CPU with one
   thread: a GEMM below 16 items, oneDNN from 16), and `VectorQuantize.decode_latents` flattens a
   batch to `(b t) d` rows (a copy with another memory layout) for one distance matmul over all
   rows, a GEMM free to block its sums by row count. The rounding then changes with the batch,
   which flips codes that sit near a tie. (On CPU with one thread the convolutions' switch is
   what was seen to change z_q; the flattened distance gave the same bits there.) `quantize`
   below re-implements `ResidualVectorQuantize.forward` op for op, with every product a batched
   matmul whose per-item slices have the shape and memory layout of the one-item call, so that
   each item gets its own GEMM, made as the one-item call makes it; a bucket takes the same
   number of calls whatever its size. Established on CPU (tests/test_encode.py: bundled speech,
   fitted model, batches of 1, 2, 5, 7, 16 and 25 items, in order and permuted): codes and
   quantized latents equal SNAC's one-item quantizer bit for bit in float32 with one thread and
   in float64 with one and two threads. Not in float32 with two threads: there torch sends a
   one-item convolution of more than 20480 input values (`in_proj` of 768 channels x 27 frames
   or more: at 24 kHz, every segment longer than 0.51 s) to oneDNN, whose sums differ from the
   GEMM's in the last bits (up to 3e-6 measured); on the 11 whole 4 s segments of the bundled
   speech that flips 12 of 3619 codes. So on CPU `quantize` runs with one thread or with
   `exact`; in float32 with more threads each item goes through SNAC's own quantizer alone, one
   call per item (cheap there: ~1% of the encoder's time for a 4 s segment, measured).
4. **Per-item encoder on CPU.** With more than one thread, a CPU convolution over a batch splits
   its work differently than over one item: outputs differ by ~1e-6 (measured: 6e-7 to 1e-6 for
   batches of 2-8, 0 with one thread), enough to flip codes. On CPU each item therefore goes
   through the encoder alone, which is also the fastest way there (SNAC on CPU is memory-bound:
   1 x 4 s runs about twice the audio-seconds per second of 4 x 4 s). On other devices the
   encoder runs on the whole bucket, where batching is what makes a GPU fast.
5. **Quiet segments in float64.** A segment whose samples all stay below `QUIET_PEAK` (0.01,
   -40 dBFS: silence, dither, room tone) is encoded and quantized in float64, as `exact=True`
   would, in buckets of its own. On near-silence the latents barely move (the offline codec's
   `in_proj` outputs vary by ~7e-7 over 3 s of dither), and a codebook may hold near-duplicate
   codewords there (the offline codec's k-means placed dozens within 1e-4 of each other on the
   quiet frames it was fit on): the nearest of them is then decided by differences below float32's
   rounding, and float32 codes scatter over the cluster where float64 keeps one code (measured on
   the two silence recordings of tests/data/speech: 22.5% of float32 codes equal --exact's; noise
   at peak 0.01: 54%, at 0.03: 87%; the seeded-random offline codec, without such clusters,
   agrees 100%). Float64 costs ~2x on those segments only. So the default's codes of a quiet
   segment are `--exact`'s; a quiet stretch inside a louder segment is still float32's.

Codes of padding are trimmed per item: scale k keeps `ceil(n_samples / (hop * stride_k))` codes.

**On CUDA** a bucket is staged in pinned host memory and copied to the device asynchronously,
encoded in one call, quantized by `quantize`, and its codes (all scales of all items, one int16
tensor) come back to the host in one copy into pinned memory. `encode_files` launches the next
bucket before it waits for the previous bucket's codes, so the host's work of filling a bucket
overlaps the device's work on the last one.

**What is not known on GPUs.** Nothing in this module was measured on a GPU. The rules above are
established on CPU; on a GPU, whether a batched GEMM (cuBLAS) gives each item the numbers a
one-item GEMM gives, and whether the batched encoder's convolutions (cuDNN chooses its algorithm
per shape, batch size included) do, is unknown: the guarantee that codes do not depend on batch
size or composition is not established there: only `exact=True` is claimed batch- and
rank-independent on GPUs until it is measured. By default torch lets cuDNN convolutions use TF32
on GPUs that have it, which rounds inputs to 10 mantissa bits: every encode here runs inside
`precision.encoder_arithmetic`, which turns TF32 off unless `precision="tf32"` asks for it, and
keeps `cudnn.benchmark` off (its timed choice of algorithm could differ between runs and ranks).
`bench/gpu_check.py` measures, on
the machine it runs on, the agreement of GPU codes at batch size 1 vs N, of `quantize` vs SNAC's
one-item quantizer, and of the GPU's codes vs the CPU `--exact` reference.

`exact=True` computes in float64: codes then no longer depend on thread count, process count,
batching or resume (float32 results differ by ~1e-6 between thread counts, enough to flip codes).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from snac.vq import ResidualVectorQuantize

from snac_hf.codec.compile_choice import CompileChoice
from snac_hf.codec.compiled import compiled_encoder, folded_model
from snac_hf.codec.load import Codec
from snac_hf.codec.precision import autocast, check_precision, encoder_arithmetic

#: Rule 5: segments that peak below this are encoded in float64 (-40 dBFS).
QUIET_PEAK = 0.01


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


def core_length(segment: Segment, frame: int = 1) -> int:
    """The samples of a segment's core whose codes are kept, rounded up to a multiple of `frame`
    (1: the real audio; a coarse frame's samples: whole frames, padding codes included). Cores
    other than a file's last end on a frame boundary already."""
    return -(-(segment.core_stop - segment.core_start) // frame) * frame


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


def quantize(
    quantizer: ResidualVectorQuantize, latents: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """SNAC's `ResidualVectorQuantize.forward` on a batch, with each item's one-item arithmetic.

    `latents` (B, D, T) -> (z_q (B, D, T), codes: one (B, T / stride_k) tensor per scale k).
    Starting from residual r = latents and z_q = 0, for each scale (stride s, weight-normed 1x1
    convolutions in_proj D -> d and out_proj d -> D, codebook C of N x d):

    1. x = avg_pool1d(r, s, s) when s > 1, else r;
    2. z_e = in_proj(x) = b_in + W_in @ x[i] for each item i (`torch.baddbmm`);
    3. e = z_e transposed to (B, t, d) (a view: each item laid out as SNAC's `(b t) d` view of
       one item), L2-normalized over d; c = C L2-normalized over d;
    4. dist = sum_d e^2 - (2 e) @ c^T + (sum_d c^2)^T, one (t x d) @ (d x N) product per item
       (`torch.bmm`); code = index of the first maximum of -dist over N;
    5. q = z_e + (C[code]^T - z_e) (SNAC's straight-through expression, kept for its rounding);
    6. y = out_proj(q) as in 2, repeated s times along time when s > 1;
    7. z_q = z_q + y, r = r - y.
    """
    residual, z_q, codes = latents, 0, []
    for vq in quantizer.quantizers:
        x = F.avg_pool1d(residual, vq.stride, vq.stride) if vq.stride > 1 else residual
        z_e = _pointwise(vq.in_proj, x)
        indices = _nearest(z_e, vq.codebook.weight)
        q = z_e + (F.embedding(indices, vq.codebook.weight).transpose(1, 2) - z_e)
        y = _pointwise(vq.out_proj, q)
        if vq.stride > 1:
            y = y.repeat_interleave(vq.stride, dim=-1)
        z_q = z_q + y
        residual = residual - y
        codes.append(indices)
    return z_q, codes


def _pointwise(conv: torch.nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """A kernel-size-1 `conv(x)` as one GEMM per item, b + W @ x[i], with the operands a one-item
    convolution hands its GEMM (a contiguous input; bias in the output, then accumulated into)."""
    batch, _, time = x.shape
    weight = conv.weight[:, :, 0]
    return torch.baddbmm(
        conv.bias[:, None].expand(batch, -1, time), weight.expand(batch, -1, -1), x.contiguous()
    )


def _nearest(z_e: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Index of the nearest normalized codebook row for each (item, time): steps 3-4 of `quantize`."""
    encodings = F.normalize(z_e.transpose(1, 2), dim=-1)
    codebook = F.normalize(codebook)
    dist = (
        encodings.pow(2).sum(-1, keepdim=True)
        - torch.bmm(2 * encodings, codebook.t().expand(len(encodings), -1, -1))
        + codebook.pow(2).sum(1, keepdim=True).t()
    )
    return (-dist).max(-1)[1]


class NonFiniteLatentsError(ValueError):
    """Latents holding NaN or infinite values (an overflow): their codes would be meaningless."""


@dataclass
class _InFlight:
    """One launched bucket: its codes (B x all scales) and each item's count of non-finite latent
    values, on the host, ready once `done` has fired."""

    codes: torch.Tensor
    nonfinite: torch.Tensor
    done: torch.cuda.Event | None
    padded: int
    keep: list[tuple[int, int]]


class SnacEncoder:
    """Encodes lists of mono float32 arrays with a loaded `Codec` on one device ("cpu", "cuda:0").

    `precision` ("fp32", "bf16", "fp16": `snac_hf.codec.precision`) runs the encoder under
    autocast; `compile` runs a `torch.compile`d encoder (`snac_hf.codec.compiled`): True, False,
    or None for `snac_hf.codec.compile_choice`'s choice, made once `expected_files` files are
    known and enough of them are encoded to estimate the audio left.
    """

    def __init__(
        self,
        codec: Codec,
        device: str | torch.device = "cpu",
        exact: bool = False,
        precision: str = "fp32",
        compile: bool | None = False,
        expected_files: int | None = None,
        quiet_peak: float | None = QUIET_PEAK,
    ):
        self.layout = codec.layout
        self.device = torch.device(device)
        check_precision(precision, self.device, exact)
        self.precision = precision
        self.dtype = torch.float64 if exact else torch.float32
        self.model = folded_model(codec, self.device, self.dtype)  # weight norm computed once, here
        self.batch_encoder = self.device.type != "cpu"  # rule 4 of the module docstring
        self.cuda = self.device.type == "cuda"
        self._codec = codec
        self.encoder: torch.nn.Module = self.model.encoder
        self.compiled = False
        #: segments whose peak is below this are encoded in float64 (rule 5; None: never)
        self.quiet_peak = None if exact else quiet_peak
        self._quiet_model: torch.nn.Module | None = None
        self.choice = (
            CompileChoice(self.device, precision, exact, expected_files) if compile is None else None
        )
        if compile:
            self.use_compiled()

    def use_compiled(self) -> None:
        """Encode with the compiled encoder from now on (compiled on its first call)."""
        if not self.compiled:
            self.encoder = compiled_encoder(self._codec, self.device, self.dtype)
            self.compiled = True

    @property
    def batch_quantizer(self) -> bool:
        """Rule 3: `quantize` wherever it equals SNAC's one-item quantizer (read at each batch, as
        the thread count may change)."""
        return self.device.type != "cpu" or self.dtype == torch.float64 or torch.get_num_threads() == 1

    @property
    def quiet_model(self) -> torch.nn.Module:
        """The float64 model quiet segments go through (rule 5), folded on first use."""
        if self._quiet_model is None:
            self._quiet_model = folded_model(self._codec, self.device, torch.float64)
        return self._quiet_model

    def is_quiet(self, samples: np.ndarray) -> bool:
        """Rule 5: whether a segment's samples peak below `quiet_peak`."""
        return self.quiet_peak is not None and (
            len(samples) == 0 or float(np.abs(samples).max()) < self.quiet_peak
        )

    def encode_batch(
        self, inputs: Sequence[np.ndarray], keep: Sequence[tuple[int, int]] | None = None
    ) -> list[list[np.ndarray]]:
        """Codes per scale for inputs that share one padded length.

        `keep[i] = (offset, n_samples)`: return the codes of samples `offset:offset + n_samples`
        of input i (`offset` a multiple of the padding multiple); default the whole input.
        Raises `NonFiniteLatentsError` if an input's latents hold NaN or infinite values. All
        inputs go through the encoder's own precision: rule 5 (quiet segments in float64) is
        `encode_files`'.
        """
        results = self._collect(self._launch(inputs, keep))
        _refuse_nonfinite([count for _, count in results], "inputs")
        return [codes for codes, _ in results]

    def encode_files(
        self,
        files: Sequence[np.ndarray],
        segment_samples: int,
        batch_size: int,
        context_samples: int = 0,
        whole_frames: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[list[np.ndarray]]:
        """Codes per scale for each whole file: segments batched by padded length, reassembled.

        With `whole_frames`, each file's codes run on to the end of its last frame
        (`CodecLayout.frame_codes`): after the codes of the real audio come SNAC's codes over its
        own zero padding that complete that frame (a file's last segment is padded where the
        whole file is, so they are the whole file's).

        Raises `NonFiniteLatentsError` naming the files whose latents hold NaN or infinite values
        (`encode_counted` returns the counts instead, so that a job fails only those files).
        """
        codes, nonfinite = self.encode_counted(
            files, segment_samples, batch_size, context_samples, whole_frames, progress
        )
        _refuse_nonfinite(nonfinite, "files")
        return codes

    def encode_counted(
        self,
        files: Sequence[np.ndarray],
        segment_samples: int,
        batch_size: int,
        context_samples: int = 0,
        whole_frames: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[list[list[np.ndarray]], list[int]]:
        """`encode_files`' codes and, per file, the number of non-finite latent values (counted on
        the device, all its segments): a file with any has meaningless codes (an fp16/bf16
        overflow) and must fail, not be written.

        Bucket j+1 is launched before bucket j's codes are collected (see "On CUDA" above).
        `progress(files, samples)` is called as each bucket's codes arrive: the files whose last
        segment it held and the audio samples (segment cores) it encoded.
        """
        for name, value in (("segment", segment_samples), ("context", context_samples)):
            if value % self.layout.pad_multiple:
                raise ValueError(f"{name} of {value} samples is not a multiple of {self.layout.pad_multiple}")
        frame = self.layout.samples_per_code(0) if whole_frames else 1
        segments = [
            segment
            for index, samples in enumerate(files)
            for segment in plan_segments(index, len(samples), segment_samples, context_samples)
        ]
        codes: list[list[np.ndarray]] = [[] for _ in segments]
        nonfinite = [0] * len(files)
        lengths = [s.stop - s.start for s in segments]
        quiet = [self.is_quiet(files[s.file][s.start : s.stop]) for s in segments]
        left = np.bincount([s.file for s in segments], minlength=len(files))  # segments per file not done

        def store(members: list[int], batch: _InFlight) -> None:
            self._store(codes, nonfinite, segments, members, batch)
            if progress is not None:
                np.subtract.at(left, [segments[i].file for i in members], 1)
                done = len({segments[i].file for i in members if left[segments[i].file] == 0})
                progress(done, sum(segments[i].core_stop - segments[i].core_start for i in members))

        previous: tuple[list[int], _InFlight] | None = None
        for members, in_float64 in self._buckets(lengths, quiet, batch_size):
            inputs = [files[segments[i].file][segments[i].start : segments[i].stop] for i in members]
            keep = [
                (segments[i].core_start - segments[i].start, core_length(segments[i], frame)) for i in members
            ]
            launched = (members, self._launch(inputs, keep, in_float64))
            if previous is not None:
                store(*previous)
            previous = launched
        if previous is not None:
            store(*previous)
        if self.choice is not None and self.choice.observe(files, self.layout.sampling_rate):
            self.use_compiled()
        per_file: list[list[list[np.ndarray]]] = [[] for _ in files]
        for segment, segment_codes in zip(segments, codes):
            per_file[segment.file].append(segment_codes)
        whole = [
            [np.concatenate([part[k] for part in parts]) for k in range(self.layout.n_scales)]
            for parts in per_file
        ]
        return whole, nonfinite

    def _buckets(
        self, lengths: list[int], quiet: list[bool], batch_size: int
    ) -> Iterator[tuple[list[int], bool]]:
        """Buckets of one padded length, the loud segments' first, then the quiet ones' (float64)."""
        for in_float64 in (False, True):
            group = [i for i, q in enumerate(quiet) if q == in_float64]
            for members in length_buckets([lengths[i] for i in group], self.layout.pad_multiple, batch_size):
                yield [group[j] for j in members], in_float64

    def _store(
        self,
        codes: list[list[np.ndarray]],
        nonfinite: list[int],
        segments: list[Segment],
        members: list[int],
        batch: _InFlight,
    ) -> None:
        for index, (segment_codes, count) in zip(members, self._collect(batch)):
            codes[index] = segment_codes
            nonfinite[segments[index].file] += count

    @torch.inference_mode()
    def _launch(
        self, inputs: Sequence[np.ndarray], keep: Sequence[tuple[int, int]] | None, in_float64: bool = False
    ) -> _InFlight:
        """Stage, encode and quantize one bucket (`in_float64`: a bucket of quiet segments, rule 5);
        start the copy of its codes to the host."""
        padded = self.layout.padded_length(max(len(x) for x in inputs))
        model = self.quiet_model if in_float64 else self.model
        with encoder_arithmetic(self.precision):  # no silent TF32 (snac_hf.codec.precision)
            if in_float64:
                latents = self._encode(self._to_device(inputs, padded, torch.float64), model.encoder, "fp32")
            else:
                latents = self._encode(
                    self._to_device(inputs, padded, self.dtype), self.encoder, self.precision
                )
            if in_float64 or self.batch_quantizer:
                _, codes = quantize(model.quantizer, latents)
            else:
                per_item = [model.quantizer(item)[1] for item in torch.split(latents, 1)]
                codes = [torch.cat(scale) for scale in zip(*per_item)]
            # on the device, one reduction: an overflow must never become codes without notice
            nonfinite = latents.isfinite().logical_not().sum(dim=(1, 2))
        keep = list(keep) if keep is not None else [(0, len(x)) for x in inputs]
        host, nonfinite, done = self._to_host(torch.cat(codes, dim=1).to(torch.int16), nonfinite)
        return _InFlight(host, nonfinite, done, padded, keep)

    def _to_device(self, inputs: Sequence[np.ndarray], padded: int, dtype: torch.dtype) -> torch.Tensor:
        """The bucket as (B, 1, padded), zero-padded on the right; staged in pinned memory on CUDA
        so that the copy to the device is asynchronous."""
        host = torch.empty((len(inputs), 1, padded), dtype=torch.float32, pin_memory=self.cuda)
        for row, samples in zip(host.numpy(), inputs):
            row[0, : len(samples)] = samples
            row[0, len(samples) :] = 0
        return host.to(self.device, non_blocking=self.cuda).to(dtype)

    def _encode(self, audio: torch.Tensor, encoder: torch.nn.Module, precision: str) -> torch.Tensor:
        """Latents in the audio's dtype (cast back from autocast's dtype for the quantizer)."""
        with autocast(precision, self.device):
            if self.batch_encoder:
                latents = encoder(audio)
            else:
                latents = torch.cat([encoder(item) for item in torch.split(audio, 1)])
        return latents.to(audio.dtype)

    def _to_host(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.cuda.Event | None]:
        """Codes and counts on the host: on CUDA asynchronous copies into pinned memory and the
        event that marks their end; elsewhere plain copies."""
        if not self.cuda:
            return *(t.cpu() for t in tensors), None
        hosts = []
        for tensor in tensors:
            hosts.append(torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True))
            hosts[-1].copy_(tensor, non_blocking=True)
        done = torch.cuda.Event()
        done.record(torch.cuda.current_stream(self.device))
        return *hosts, done

    def _collect(self, batch: _InFlight) -> list[tuple[list[np.ndarray], int]]:
        """Wait for a launched bucket's codes; each item's kept codes and non-finite latent count."""
        if batch.done is not None:
            batch.done.synchronize()
        table = batch.codes.numpy()
        widths = [batch.padded // self.layout.samples_per_code(k) for k in range(self.layout.n_scales)]
        starts = np.cumsum([0, *widths[:-1]])
        results = []
        for row, (offset, n_samples), count in zip(table, batch.keep, batch.nonfinite.tolist()):
            kept = [
                row[start + offset // period : start + offset // period + n].copy()
                for start, n, period in zip(starts, self.layout.n_codes(n_samples), self._periods)
            ]
            results.append((kept, count))
        return results

    @property
    def _periods(self) -> list[int]:
        return [self.layout.samples_per_code(k) for k in range(self.layout.n_scales)]


def _refuse_nonfinite(counts: Sequence[int], what: str) -> None:
    bad = [i for i, count in enumerate(counts) if count]
    if bad:
        raise NonFiniteLatentsError(
            f"{what} {bad[:10]}: {sum(counts)} latent values are NaN or infinite (an overflow: use "
            "--precision fp32); their codes would be meaningless"
        )


def encode_alone(codec: Codec, samples: np.ndarray, exact: bool = False) -> list[np.ndarray]:
    """The reference: SNAC's own `encode` of one whole file, trimmed to the real audio."""
    dtype = torch.float64 if exact else torch.float32
    device = next(codec.model.parameters()).device
    model = model_on(codec, device, dtype)
    with torch.inference_mode(), encoder_arithmetic("fp32"):
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
