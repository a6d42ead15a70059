"""The encoder's arithmetic: fp32 (default), or bf16/fp16 autocast where the device computes them.

`--precision bf16|fp16` runs SNAC's *encoder* under `torch.autocast` on the device; its latents
are cast back to float32 before the quantizer, so the nearest-code search (a difference of
squared norms, where half precision would round most ties away) stays in float32. Reduced
precision changes codes (the agreement with float32 is measured in BENCHMARKS.md, "Encoder
options", and stated in every token set made with it), so it is never the default.

A reduced precision is refused where the device has no native arithmetic for it: emulated, it
is slower than float32 and still changes codes, so nothing would be gained. `--exact` (float64)
is a precision of its own and does not combine with autocast.
"""

from __future__ import annotations

import contextlib

import torch

#: `--precision` values -> the autocast dtype (None: no autocast).
PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


#: Agreement of reduced-precision codes with float32 and with --exact codes, measured by
#: bench/encoder_options.py (BENCHMARKS.md, "Encoder options"); on other machines it may differ.
MEASURED_AGREEMENT: dict[str, str] = {
    "bf16": "68.63% of codes equal float32's, 68.63% equal --exact's (43.4 s of bundled speech, "
    "a 2-core Xeon, 1 thread; BENCHMARKS.md 'Encoder options')",
    "fp16": "98.66% of codes equal float32's, 98.69% equal --exact's (43.4 s of bundled speech, "
    "a 2-core Xeon, 1 thread; BENCHMARKS.md 'Encoder options')",
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
    return {"fp32": "float32", "bf16": "bfloat16-autocast", "fp16": "float16-autocast"}[precision]


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
    if not native(precision, device):
        raise PrecisionError(
            f"--precision {precision}: {device} has no native {precision} arithmetic (emulated it is "
            "slower than fp32 and still changes codes); use --precision fp32"
        )


def native(precision: str, device: torch.device) -> bool:
    """Whether `device` computes `precision` in hardware (oneDNN's check on CPU, the compute
    capability on CUDA: fp16 from 5.3, bf16 as `torch.cuda.is_bf16_supported` without emulation)."""
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
