"""The time layout of a SNAC codec's codes, without torch.

SNAC quantizes one latent sequence (one vector per `hop_length` samples) with a stack of
residual quantizers. Quantizer k first average-pools the latents by `vq_strides[k]`, so scale k
emits one code per `hop_length * vq_strides[k]` samples: scale 0 is the coarsest. The 24 kHz model
has strides (4, 2, 1) and hop 512, i.e. 11.7 / 23.4 / 46.9 codes per second; the 32 and 44 kHz
models have four scales, strides (8, 4, 2, 1), hop 384.

A *frame* is one coarse code together with its children: `vq_strides[0] // vq_strides[k]`
codes of scale k (1 + 2 + 4 = 7 codes per frame at 24 kHz, 1 + 2 + 4 + 8 = 15 with four scales).

`preprocess` in SNAC right-pads audio to a multiple of `pad_multiple` samples
(`hop_length * lcm(vq_strides[0], attn_window_size or 1)`), so the codes it returns cover the
padded length. snac_hf keeps, for each scale, the codes whose time span starts inside the real
audio: `ceil(n_samples / (hop_length * vq_strides[k]))` of them (4.0 s at 24 kHz: 47/94/188).

Analysis and BPE only need this module, so they run without torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: The published SNAC configurations (config.json of each hub repository), so that the
#: architecture is known without a download (for example to load a fine-tuned `.pt` on top).
SNAC_CONFIGS: dict[str, dict] = {
    "hubertsiuzdak/snac_24khz": {
        "sampling_rate": 24000,
        "encoder_dim": 48,
        "encoder_rates": [2, 4, 8, 8],
        "decoder_dim": 1024,
        "decoder_rates": [8, 8, 4, 2],
        "attn_window_size": None,
        "codebook_size": 4096,
        "codebook_dim": 8,
        "vq_strides": [4, 2, 1],
        "noise": True,
        "depthwise": True,
    },
    "hubertsiuzdak/snac_32khz": {
        "sampling_rate": 32000,
        "encoder_dim": 64,
        "encoder_rates": [2, 3, 8, 8],
        "decoder_dim": 1536,
        "decoder_rates": [8, 8, 3, 2],
        "attn_window_size": 32,
        "codebook_size": 4096,
        "codebook_dim": 8,
        "vq_strides": [8, 4, 2, 1],
        "noise": True,
        "depthwise": True,
    },
    "hubertsiuzdak/snac_44khz": {
        "sampling_rate": 44100,
        "encoder_dim": 64,
        "encoder_rates": [2, 3, 8, 8],
        "decoder_dim": 1536,
        "decoder_rates": [8, 8, 3, 2],
        "attn_window_size": 32,
        "codebook_size": 4096,
        "codebook_dim": 8,
        "vq_strides": [8, 4, 2, 1],
        "noise": True,
        "depthwise": True,
    },
}


@dataclass(frozen=True)
class CodecLayout:
    """Where each scale's codes sit in time. Built from a SNAC config dict."""

    sampling_rate: int
    hop_length: int
    vq_strides: tuple[int, ...]
    attn_window_size: int | None = None
    codebook_size: int = 4096

    def __post_init__(self) -> None:
        # A config's values come from JSON files: `int()` would quietly turn 1.5 into 1 and true into 1.
        _positive_int(self.sampling_rate, "sampling_rate")
        _positive_int(self.hop_length, "hop_length (the product of encoder_rates)")
        _positive_int(self.codebook_size, "codebook_size")
        if self.attn_window_size is not None:
            _positive_int(self.attn_window_size, "attn_window_size")
        if not self.vq_strides:
            raise ValueError("vq_strides is empty: a SNAC codec has at least one scale")
        for stride in self.vq_strides:
            _positive_int(stride, f"vq_strides {list(self.vq_strides)}: each stride")

    @classmethod
    def from_snac_config(cls, config: dict) -> CodecLayout:
        rates = config["encoder_rates"]
        if not isinstance(rates, list) or not rates:
            raise ValueError(f"encoder_rates must be a non-empty list of positive integers, not {rates!r}")
        for rate in rates:
            _positive_int(rate, f"encoder_rates {rates}: each rate")
        return cls(
            sampling_rate=config["sampling_rate"],
            hop_length=math.prod(rates),
            vq_strides=_strides(config["vq_strides"]),
            attn_window_size=config.get("attn_window_size"),
            codebook_size=config.get("codebook_size", 4096),
        )

    @classmethod
    def from_dict(cls, d: dict) -> CodecLayout:
        """Inverse of `to_dict` (also accepts a full SNAC config)."""
        if "encoder_rates" in d:
            return cls.from_snac_config(d)
        return cls(
            sampling_rate=d["sampling_rate"],
            hop_length=d["hop_length"],
            vq_strides=_strides(d["vq_strides"]),
            attn_window_size=d.get("attn_window_size"),
            codebook_size=d.get("codebook_size", 4096),
        )

    def to_dict(self) -> dict:
        return {
            "sampling_rate": self.sampling_rate,
            "hop_length": self.hop_length,
            "vq_strides": list(self.vq_strides),
            "attn_window_size": self.attn_window_size,
            "codebook_size": self.codebook_size,
            "n_scales": self.n_scales,
            "pad_multiple": self.pad_multiple,
            "codes_per_second": [round(c, 6) for c in self.codes_per_second],
        }

    @property
    def n_scales(self) -> int:
        return len(self.vq_strides)

    @property
    def pad_multiple(self) -> int:
        """SNAC right-pads every input to a multiple of this many samples."""
        return self.hop_length * math.lcm(self.vq_strides[0], self.attn_window_size or 1)

    def samples_per_code(self, scale: int) -> int:
        return self.hop_length * self.vq_strides[scale]

    @property
    def codes_per_second(self) -> tuple[float, ...]:
        return tuple(self.sampling_rate / self.samples_per_code(k) for k in range(self.n_scales))

    @property
    def codes_per_frame(self) -> tuple[int, ...]:
        """Codes of each scale inside one coarse frame: (1, 2, 4) at 24 kHz."""
        return tuple(self.vq_strides[0] // s for s in self.vq_strides)

    def n_codes(self, n_samples: int) -> tuple[int, ...]:
        """Codes per scale that cover `n_samples` of real audio (padding codes excluded)."""
        return tuple(-(-n_samples // self.samples_per_code(k)) for k in range(self.n_scales))

    def frame_codes(self, n_samples: int) -> tuple[int, ...]:
        """Codes per scale of the whole frames that cover `n_samples`: `ceil(n_samples /
        samples_per_code(0))` frames of `codes_per_frame[k]` codes (24 kHz, 4.1 s: 49/98/196, of
        which 49/97/193 start inside the audio, `n_codes`; the rest are SNAC's codes over its zero
        padding, which a whole last frame needs)."""
        frames = -(-n_samples // self.samples_per_code(0))
        return tuple(frames * n for n in self.codes_per_frame)

    def padded_length(self, n_samples: int) -> int:
        return -(-n_samples // self.pad_multiple) * self.pad_multiple

    def segment_samples(self, seconds: float) -> int:
        """`seconds` of audio rounded to the nearest multiple of the padding (at least one)."""
        multiples = max(1, round(seconds * self.sampling_rate / self.pad_multiple))
        return multiples * self.pad_multiple


def _positive_int(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{what} must be a positive integer, not {value!r}")


def _strides(value: object) -> tuple:
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"vq_strides must be a list of positive integers, not {value!r}")
    return tuple(value)


def layout_for(model: str) -> CodecLayout:
    """The layout of a published model id (`hubertsiuzdak/snac_24khz` or `snac_24khz`)."""
    key = model if "/" in model else f"hubertsiuzdak/{model}"
    if key not in SNAC_CONFIGS:
        raise KeyError(f"unknown SNAC model {model!r}; known: {', '.join(SNAC_CONFIGS)}")
    return CodecLayout.from_snac_config(SNAC_CONFIGS[key])
