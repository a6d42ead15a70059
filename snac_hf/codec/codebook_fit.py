"""A realistic offline codec: SNAC's quantizer codebooks fit to real speech, fit once and committed.

Set-up does not fit: it builds the model folder from the portable seeded encoder
(`snac_hf.codec.offline.seeded_snac`, bit-identical on every machine) and the committed codebooks
`data/snac_24khz-fitted-codebooks-seed0.npy` (3 x 4096 x 8 float32, SHA-256 checked on every
build), in seconds. So the offline model's weights are the same on every machine
(`weights_sha256` in its `snac_hf.json`; a test pins it). What stays machine-dependent is the
float32 arithmetic of encoding (CPU type, thread count): `--exact` codes are float64.
`snac-hf offline-model --refit --out DIR --save_codebooks FILE` reruns the fit below (minutes).

Seeded-random SNAC weights collapse real speech onto a few dozen codes per scale, which makes
every token statistic and BPE figure meaningless. Without the pretrained weights, snac_hf keeps
SNAC's architecture and seeded-random encoder and fits each quantizer level's codebook
(`codebook_size` x `codebook_dim`, 4096 x 8) to data, so that codes spread like a real codec's.

The fit (deterministic for a given torch version and CPU type, whatever the core count):

1. Encode every fit recording alone, each in a single-threaded worker process (float32 results
   depend on how many threads split a convolution): latents `z` (latent_dim x T), one per hop.
   Everything after this step runs in float64.
2. Phases: for p in 0..vq_strides[0]-1 the sequence `z[:, p:]` is treated as one more
   sequence (≈ the latents of the same audio started p hops later; the encoder is shift-
   equivariant away from the edges). This gives the coarse level vq_strides[0] times more
   training vectors without more encoder time.
3. Level by level, as SNAC's residual quantizer computes it: the level's inputs are
   `in_proj(avg_pool(residual, stride))`; SNAC compares L2-normalised vectors, so the codebook
   is fit by *spherical k-means* (cosine assignment, centroid = normalised mean) with
   `iterations` Lloyd steps from `codebook_size` distinct seeded-random data points; a centroid
   left empty is moved to the point worst served by its centroid. Then the level's quantized
   output (with the new codebook, through SNAC's own code path) is subtracted from the residual.

What it leaves out: the encoder, projections and decoder stay random, so decoded audio is noise,
and the codes are not pretrained SNAC's (real SNAC is more skewed: about 57% of its codes used
and ~7.8 bits/token reported publicly; these codebooks spread more evenly). Token statistics made
with it approximate a real codec's behaviour; they do not equal pretrained SNAC's.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from snac import SNAC

from snac_hf.codec.model_folder import DEFAULT_MODEL, save_model_folder
from snac_hf.codec.offline import seeded_snac, weights_digest
from snac_hf.sources.audio import decode_audio
from snac_hf.sources.folder import find_audio_files

FITTED_NOTICE = (
    "Encoded with snac_hf's offline stand-in codec: SNAC's architecture with a seeded-random "
    "encoder and codebooks fit to real speech (no pretrained weights available offline). The "
    "decoder is untrained (decoded audio is noise), and token statistics approximate, but do not "
    "equal, pretrained SNAC's."
)

#: Texts synthesized with espeak-ng at set-up (written for this project), one list per voice.
SYNTHESIS_TEXTS = {
    "en-us": [
        "Every morning the baker opens the shop before the street lights go out.",
        "Seven small boats drifted slowly towards the harbour as the wind changed direction.",
        "Please remember to water the plants on the balcony while I am away next week.",
        "The museum will be closed on Monday, but the garden remains open to visitors.",
        "A quiet voice asked whether anyone had seen the yellow umbrella near the station.",
    ],
    "en-gb": [
        "The train to the northern coast leaves at a quarter past nine from platform four.",
        "She counted the steps twice, because the numbers on the map did not agree.",
        "Thunder rolled over the hills, and the dogs refused to leave the kitchen.",
        "We measured every sample carefully and wrote the results in a small notebook.",
    ],
    "de": [
        "Am Nachmittag regnete es, deshalb blieben die Kinder im Haus und lasen Bücher.",
        "Der alte Zug fährt langsam durch das Tal und hält an jedem kleinen Bahnhof.",
        "Bitte schließen Sie das Fenster, bevor Sie das Büro am Abend verlassen.",
    ],
    "fr": [
        "Le marché du samedi attire beaucoup de monde, surtout quand il fait beau.",
        "Nous avons traversé la rivière à pied, car le pont était fermé pour travaux.",
        "Elle a écrit une longue lettre à sa sœur qui habite de l'autre côté de la mer.",
    ],
    "es": [
        "Por la tarde caminamos hasta el faro y miramos cómo se ponía el sol.",
        "El profesor explicó la lección dos veces porque nadie la había entendido.",
        "Mañana compraremos pan, queso y fruta para el viaje en tren.",
    ],
    "it": [
        "La biblioteca apre alle nove e chiude dopo il tramonto ogni giorno feriale.",
        "Abbiamo cucinato insieme una cena semplice con verdure dell'orto.",
    ],
    "pt": [
        "O vento forte levou as folhas secas pela praça durante toda a manhã.",
        "Os músicos tocaram até tarde e ninguém quis voltar para casa cedo.",
    ],
    "nl": [
        "Op zondag fietsen we langs het kanaal naar het dorp aan de overkant.",
        "De kat sliep de hele middag in de zon op de vensterbank.",
    ],
    "pl": [
        "Wieczorem cała rodzina usiadła przy stole i rozmawiała o podróży.",
        "Na rynku sprzedawano świeże owoce, chleb i kwiaty z pobliskiej wsi.",
    ],
    "ru": [
        "Утром мы пошли в парк и долго гуляли вдоль реки.",
        "Поезд опоздал на десять минут из-за сильного снегопада.",
    ],
}
#: Voice variants (espeak-ng `+variant`), speaking rates (words/min) and pitches, cycled per text.
SYNTHESIS_VARIANTS = ("m1", "f2", "m3", "f4", "m7")
SYNTHESIS_RATES = (135, 160, 185)
SYNTHESIS_PITCHES = (35, 50, 65)


def synthesize_speech(out_dir: str | os.PathLike, repeats: int = 2) -> list[Path]:
    """Write espeak-ng renderings of `SYNTHESIS_TEXTS` (several voices, rates, pitches) as wav."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is needed to synthesize fit speech: apt-get install espeak-ng")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths, n = [], 0
    for language, texts in SYNTHESIS_TEXTS.items():
        for text in texts:
            for _ in range(repeats):
                voice = f"{language}+{SYNTHESIS_VARIANTS[n % len(SYNTHESIS_VARIANTS)]}"
                rate, pitch = SYNTHESIS_RATES[n % 3], SYNTHESIS_PITCHES[(n // 3) % 3]
                path = out_dir / f"{n:04d}_{language}.wav"
                cmd = ["espeak-ng", "-v", voice, "-s", str(rate), "-p", str(pitch), "-w", str(path), text]
                subprocess.run(cmd, check=True, capture_output=True)
                paths.append(path)
                n += 1
    return paths


def spherical_kmeans(vectors: torch.Tensor, k: int, iterations: int, seed: int) -> torch.Tensor:
    """`k` unit centroids of unit `vectors` (N x d) by cosine Lloyd steps; see module docstring."""
    if len(vectors) < k:
        raise ValueError(f"{len(vectors)} training vectors cannot fit {k} codes: add more audio")
    generator = torch.Generator().manual_seed(seed)
    centroids = vectors[torch.randperm(len(vectors), generator=generator)[:k]].clone()
    for _ in range(iterations):
        similarity, assignment = _assign(vectors, centroids)
        sums = torch.zeros_like(centroids).index_add_(0, assignment, vectors)
        counts = torch.bincount(assignment, minlength=k)
        empty = torch.nonzero(counts == 0).flatten()
        centroids = F.normalize(sums, dim=1)
        if len(empty):  # reseed empty codes at the points worst served by their centroid
            worst = torch.argsort(similarity)[: len(empty)]
            centroids[empty] = vectors[worst]
    return centroids


def _assign(
    vectors: torch.Tensor, centroids: torch.Tensor, rows: int = 8192
) -> tuple[torch.Tensor, torch.Tensor]:
    """Best cosine similarity and centroid index per vector, in row blocks to bound memory."""
    best = [torch.max(block @ centroids.T, dim=1) for block in torch.split(vectors, rows)]
    return torch.cat([b.values for b in best]), torch.cat([b.indices for b in best])


def encoder_latents(
    model: str, seed: int, recordings: Sequence[np.ndarray], workers: int
) -> list[torch.Tensor]:
    """Encoder outputs (1 x latent_dim x T, float32) of each recording encoded alone.

    Each recording is encoded by a single-threaded process: a float32 convolution's result depends
    on how many threads split it, so a fixed single thread keeps the fit independent of the
    machine's core count, and `workers` processes still use every core.
    """
    chunks = [recordings[i::workers] for i in range(workers)]
    context = multiprocessing.get_context("spawn")  # fork after torch's thread pools started can hang
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        parts = list(pool.map(_encode_alone_single_thread, [model] * workers, [seed] * workers, chunks))
    latents: list[torch.Tensor | None] = [None] * len(recordings)
    for i, part in enumerate(parts):
        latents[i::workers] = [torch.from_numpy(z) for z in part]
    return latents


def _encode_alone_single_thread(model: str, seed: int, recordings: Sequence[np.ndarray]) -> list[np.ndarray]:
    torch.set_num_threads(1)
    snac, _ = seeded_snac(model, seed)
    with torch.inference_mode():
        return [snac.encoder(snac.preprocess(torch.from_numpy(r).view(1, 1, -1))).numpy() for r in recordings]


@torch.inference_mode()
def fit_codebooks(snac: SNAC, latents: Sequence[torch.Tensor], iterations: int = 25, seed: int = 0) -> None:
    """Replace each quantizer's codebook in `snac` by one fit to encoder `latents` (see module doc)."""
    model = snac.to(torch.float64)
    whole = model.vq_strides[0]  # keep each phase a whole number of coarse frames
    residuals = [
        z[..., p : p + (z.shape[-1] - p) // whole * whole].to(torch.float64)
        for z in latents
        for p in range(whole)
    ]
    for level, quantizer in enumerate(model.quantizer.quantizers):
        inputs = [quantizer.in_proj(_pool(r, quantizer.stride)) for r in residuals]
        vectors = F.normalize(torch.cat([x[0].T for x in inputs]), dim=1)
        centroids = spherical_kmeans(vectors, quantizer.codebook_size, iterations, seed + level)
        quantizer.codebook.weight.copy_(centroids)
        residuals = [r - quantizer(r)[0] for r in residuals]
    snac.to(torch.float32)


def _pool(residual: torch.Tensor, stride: int) -> torch.Tensor:
    return F.avg_pool1d(residual, stride, stride) if stride > 1 else residual


#: The committed codebooks of the default offline model (fit with `build_fitted_model`, seed 0).
CODEBOOKS_FILE = Path(__file__).with_name("data") / "snac_24khz-fitted-codebooks-seed0.npy"
#: SHA-256 of CODEBOOKS_FILE's bytes; a build refuses a file that does not match.
CODEBOOKS_SHA256 = "a522da8d057c995f83446a91791885f4780c8d124f4d72e49df7407bc1238815"
#: What the committed fit was made from (recorded in every model folder built from it).
CODEBOOKS_FIT = {
    "fit_audio_seconds": 383.61,
    "fit_files": 96,
    "fit_iterations": 25,
    "fit_torch": "2.13.0+cpu",
}


def save_codebooks(model_folder: str | os.PathLike, path: str | os.PathLike) -> str:
    """Write the codebooks of a fitted model folder as one (levels x size x dim) float32 .npy; its SHA-256."""
    from snac_hf.codec.load import load_codec

    snac = load_codec(str(model_folder)).model
    codebooks = np.stack([q.codebook.weight.detach().cpu().numpy() for q in snac.quantizer.quantizers])
    np.save(path, codebooks.astype(np.float32), allow_pickle=False)
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def committed_codebooks() -> np.ndarray:
    """The committed codebooks, after checking their digest (a damaged checkout is one clear error)."""
    data = CODEBOOKS_FILE.read_bytes() if CODEBOOKS_FILE.is_file() else b""
    if hashlib.sha256(data).hexdigest() != CODEBOOKS_SHA256:
        raise ValueError(
            f"{CODEBOOKS_FILE}: missing or not the committed codebooks (SHA-256 differs); "
            "restore it from the snac_hf repository (git checkout -- snac_hf/codec/data)"
        )
    return np.load(CODEBOOKS_FILE, allow_pickle=False)


def build_committed_model(out: str | os.PathLike) -> Path:
    """Write the default offline model: the seeded encoder (seed 0) and the committed codebooks."""
    snac, config = seeded_snac(DEFAULT_MODEL, 0)
    codebooks = committed_codebooks()
    with torch.no_grad():
        for quantizer, codebook in zip(snac.quantizer.quantizers, codebooks, strict=True):
            quantizer.codebook.weight.copy_(torch.from_numpy(codebook))
    marker = {
        "weights": "seeded-encoder+fitted-codebooks",
        "architecture": DEFAULT_MODEL,
        "seed": 0,
        "codebooks_file": CODEBOOKS_FILE.name,
        "codebooks_file_sha256": CODEBOOKS_SHA256,
        "weights_sha256": weights_digest(snac),
        **CODEBOOKS_FIT,
        "notice": FITTED_NOTICE,
    }
    save_model_folder(snac, config, out, marker)
    return Path(out)


def build_fitted_model(
    out: str | os.PathLike,
    audio_files: Sequence[str | os.PathLike] = (),
    synthesize: bool = True,
    model: str = DEFAULT_MODEL,
    seed: int = 0,
    iterations: int = 25,
) -> Path:
    """Write a model folder with codebooks fit to `audio_files` plus synthesized speech."""
    snac, config = seeded_snac(model, seed)
    files = [Path(f) for f in audio_files]
    with tempfile.TemporaryDirectory() as tmp:
        if synthesize:
            files += synthesize_speech(tmp)
        recordings = [decode_audio({"path": str(f), "bytes": None}, config["sampling_rate"]) for f in files]
    workers = max(1, min(os.cpu_count() or 1, 8))
    fit_codebooks(snac, encoder_latents(model, seed, recordings, workers), iterations, seed)
    marker = {
        "weights": "seeded-encoder+fitted-codebooks",
        "architecture": model,
        "seed": seed,
        "iterations": iterations,
        "torch": torch.__version__,
        "codebooks_sha256": _codebooks_digest(snac),
        "weights_sha256": weights_digest(snac),
        "fit_audio_seconds": round(sum(len(r) for r in recordings) / config["sampling_rate"], 2),
        "fit_files": len(recordings),
        "notice": FITTED_NOTICE,
    }
    save_model_folder(snac, config, out, marker)
    return Path(out)


def _codebooks_digest(snac: SNAC) -> str:
    digest = hashlib.sha256()
    for quantizer in snac.quantizer.quantizers:
        digest.update(quantizer.codebook.weight.detach().numpy().tobytes())
    return digest.hexdigest()


def bundled_speech_files(folder: str | os.PathLike) -> list[str]:
    """The real speech recordings a fit starts from (every audio file under `folder`)."""
    return find_audio_files(str(folder))


def ensure_offline_model(
    kind: str = "fitted", audio_dir: str | os.PathLike | None = None, seed: int = 0
) -> Path:
    """The cached offline model folder, built on first use (into a temporary folder, then renamed).

    The fitted model of seed 0 comes from the committed codebooks (seconds, no audio needed);
    another seed is fit to `audio_dir` (minutes)."""
    from snac_hf.codec.model_folder import cached_model_dir
    from snac_hf.codec.offline import build_random_model

    target = cached_model_dir(kind, seed=seed)
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    if kind == "random":
        build_random_model(staging, seed=seed)
    elif kind == "fitted" and seed == 0:
        build_committed_model(staging)
    elif kind == "fitted":
        if audio_dir is None:
            raise ValueError("building the fitted model needs real speech: pass audio_dir")
        build_fitted_model(staging, bundled_speech_files(audio_dir), seed=seed)
    else:
        raise ValueError(f"unknown offline model kind {kind!r} (fitted or random)")
    try:
        staging.rename(target)
    except OSError:  # another process built it meanwhile
        shutil.rmtree(staging, ignore_errors=True)
    return target
