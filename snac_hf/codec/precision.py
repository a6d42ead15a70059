"""The encoder's arithmetic: fp32 (default), or tf32/bf16/fp16 where the device computes them.

`--precision bf16|fp16` runs SNAC's *encoder* under `torch.autocast` on the device; its latents
are cast back to float32 before the quantizer, so the nearest-code search (a difference of
squared norms, where half precision would round most ties away) stays in float32. Reduced
precision changes codes (the agreement with float32 is measured in BENCHMARKS.md, "Encoder
options", and stated in every token set made with it), so it is never the default.

A reduced precision is refused where the device has no native arithmetic for it: emulated, it
is slower than float32 and still changes codes, so nothing would be gained. `--exact` (float64)
is a precision of its own and does not combine with autocast.

**TF32.** torch lets cuDNN convolutions use TF32 by default on GPUs that have it (Ampere and
later), which rounds their inputs to 10 mantissa bits: about fp16's precision, silently, under
a setting called fp32. So every encode runs inside `encoder_arithmetic`, which sets torch's
float32 settings for its duration and restores them after: full IEEE float32 for cuDNN
convolutions and cuBLAS matmuls (and oneDNN's on CPU) in every mode but `--precision tf32`,
which asks for TF32 explicitly (CUDA only: it changes codes, so it is a precision of its own,
recorded as such). `cudnn.benchmark` is kept off there: it picks algorithms by timing them, so
its choice, and the rounding, could change from one run (or one rank) to the next.
`cudnn.deterministic` is left as the user set it and recorded in the fingerprint.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

#: `--precision` values -> the autocast dtype (None: no autocast).
PRECISIONS: dict[str, torch.dtype | None] = {
    "fp32": None,
    "tf32": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}


#: Agreement of reduced-precision codes with float32 and with --exact codes, measured by
#: bench/encoder_options.py (BENCHMARKS.md, "Encoder options"); on other machines it may differ.
MEASURED_AGREEMENT: dict[str, str] = {
    "bf16": "68.63% of codes equal float32's, 68.63% equal --exact's (43.4 s of bundled speech, "
    "a 2-core Xeon, 1 thread; BENCHMARKS.md 'Encoder options')",
    "fp16": "98.66% of codes equal float32's, 98.69% equal --exact's (43.4 s of bundled speech, "
    "a 2-core Xeon, 1 thread; BENCHMARKS.md 'Encoder options')",
    "tf32": "not measured (no GPU run yet; bench/gpu_check.py measures it). TF32 keeps 10 mantissa "
    "bits like fp16, whose codes agree with float32's 98.66% on CPU",
}


class PrecisionError(ValueError):
    """A `--precision` this device cannot compute, or one that contradicts `--exact`."""


def precision_name(precision: str, exact: bool) -> str:
    """What metadata.json and the run fingerprint call the encoder's arithmetic.

    fp32 and exact keep the names older token sets recorded ("float32", "float64"), so their
    folders still resume.
    """
    if exact:
        return "float64"
    return {
        "fp32": "float32",
        "tf32": "float32-tf32",
        "bf16": "bfloat16-autocast",
        "fp16": "float16-autocast",
    }[precision]


def precision_settings(precision: str, exact: bool) -> dict:
    """What metadata.json records about the encoder's arithmetic: its name and, for a reduced
    precision, its measured agreement with float32 codes (the card repeats it)."""
    settings: dict = {"precision": precision_name(precision, exact)}
    if precision in MEASURED_AGREEMENT:
        settings["code_agreement"] = MEASURED_AGREEMENT[precision]
    return settings


def check_precision(precision: str, device: str | torch.device, exact: bool = False) -> None:
    """Raise `PrecisionError` (one line naming the flag and what to do) unless `device` can run
    the encoder in `precision`."""
    if precision not in PRECISIONS:
        raise PrecisionError(f"--precision {precision}: unknown (use one of {', '.join(PRECISIONS)})")
    if precision == "fp32":
        return
    if exact:
        raise PrecisionError(
            f"--precision {precision} with --exact: --exact computes in float64; drop one of the two"
        )
    device = torch.device(device)
    if precision == "tf32" and not native(precision, device):
        raise PrecisionError(
            f"--precision tf32: {device} has no TF32 arithmetic (CUDA GPUs from Ampere, compute "
            "capability 8.0, have it); use --precision fp32"
        )
    if not native(precision, device):
        raise PrecisionError(
            f"--precision {precision}: {device} has no native {precision} arithmetic (emulated it is "
            "slower than fp32 and still changes codes); use --precision fp32"
        )


def native(precision: str, device: torch.device) -> bool:
    """Whether `device` computes `precision` in hardware (oneDNN's check on CPU, the compute
    capability on CUDA: fp16 from 5.3, tf32 from 8.0, bf16 as `torch.cuda.is_bf16_supported` without
    emulation). TF32 is CUDA's alone here."""
    if precision == "tf32":
        return device.type == "cuda" and torch.cuda.get_device_capability(device) >= (8, 0)
    if device.type == "cuda":
        if precision == "bf16":
            return torch.cuda.is_bf16_supported(including_emulation=False)
        return torch.cuda.get_device_capability(device) >= (5, 3)
    if device.type == "cpu":
        probe = {"bf16": "_is_mkldnn_bf16_supported", "fp16": "_is_mkldnn_fp16_supported"}[precision]
        try:  # private in torch 2.x: absent means unknown, so not native
            return bool(torch.backends.mkldnn.is_available() and getattr(torch.ops.mkldnn, probe)())
        except (AttributeError, RuntimeError):
            return False
    return False


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The context the encoder runs in: autocast to `precision`'s dtype, or nothing for fp32."""
    dtype = PRECISIONS[precision]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def _fp32_backends() -> dict[str, object]:
    """The backends whose float32 arithmetic `encoder_arithmetic` sets. From torch 2.9 each has an
    `fp32_precision` ("ieee" or "tf32"); older torch has only the `allow_tf32` flags. One API is
    used, never both: torch refuses to read settings made through a mix of them."""
    backends = torch.backends
    return {
        "cudnn_conv": getattr(backends.cudnn, "conv", None),
        "cuda_matmul": backends.cuda.matmul,
        "mkldnn_conv": getattr(backends.mkldnn, "conv", None),
        "mkldnn_matmul": getattr(backends.mkldnn, "matmul", None),
    }


def tf32_allowed(precision: str) -> bool:
    """Whether the encode lets cuDNN and cuBLAS round float32 inputs to TF32: only when asked."""
    return precision == "tf32"


def current_fp32_settings() -> dict[str, object]:
    """torch's float32 arithmetic settings now, as `encoder_arithmetic` sets them (for tests and
    for `bench/gpu_check.py`'s report)."""
    settings: dict[str, object] = {}
    for name, backend in _fp32_backends().items():
        if backend is not None and hasattr(backend, "fp32_precision"):
            settings[name] = backend.fp32_precision
    if not settings:  # torch < 2.9: the legacy flags
        settings = {
            "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "cuda_matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        }
    settings["cudnn_benchmark"] = torch.backends.cudnn.benchmark
    return settings


def arithmetic(
    device: str | torch.device, precision: str, compiled: bool, quiet_float64_below: float | None = None
) -> dict:
    """What the run fingerprint and metadata.json record about where and how codes are computed,
    beyond the precision's name: a resume that differs in any of these would mix codes.

    `device_type` ("cpu", "cuda"); `tf32`; `compiled`: a compiled encoder whose codes are not
    proven equal to eager's (compiled CUDA is its own arithmetic until measured equal); and on
    CUDA the cuDNN settings the encode runs with (None elsewhere: no cuDNN there);
    `quiet_float64_below`: the peak under which a segment is encoded in float64
    (`snac_hf.codec.encode`, rule 5; None: never, or everything is float64 already).
    """
    device = torch.device(device)
    cuda = device.type == "cuda"
    return {
        "device_type": device.type,
        "tf32": tf32_allowed(precision),
        "compiled": compiled,
        "cudnn_benchmark": False if cuda else None,  # `encoder_arithmetic` keeps it off
        "cudnn_deterministic": bool(torch.backends.cudnn.deterministic) if cuda else None,
        "quiet_float64_below": quiet_float64_below,
    }


@contextlib.contextmanager
def encoder_arithmetic(precision: str) -> Iterator[None]:
    """Run the encode with the float32 arithmetic `precision` names, then restore torch's settings.

    fp32, bf16, fp16 and --exact: IEEE float32 wherever float32 is computed (cuDNN convolutions,
    cuBLAS and oneDNN matmuls; autocast leaves the quantizer in float32); tf32: TF32 for cuDNN
    convolutions and cuBLAS matmuls. `cudnn.benchmark` off in every mode. The settings are
    process-wide: the encode is the only CUDA work in a snac_hf process while it runs.
    """
    mode = "tf32" if tf32_allowed(precision) else "ieee"
    backends = {n: b for n, b in _fp32_backends().items() if b is not None and hasattr(b, "fp32_precision")}
    wanted = {n: ("ieee" if n.startswith("mkldnn") else mode) for n in backends}
    before_benchmark = torch.backends.cudnn.benchmark
    if backends:
        before = {n: b.fp32_precision for n, b in backends.items()}
        restore = [(backends[n], v) for n, v in before.items()]
        for name, value in wanted.items():
            backends[name].fp32_precision = value
    else:  # torch < 2.9
        legacy = [(torch.backends.cudnn, "allow_tf32"), (torch.backends.cuda.matmul, "allow_tf32")]
        restore = [(obj, getattr(obj, attr)) for obj, attr in legacy]
        for obj, attr in legacy:
            setattr(obj, attr, mode == "tf32")
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before_benchmark
        for obj, value in restore:
            if backends:
                obj.fp32_precision = value
            else:
                obj.allow_tf32 = value
