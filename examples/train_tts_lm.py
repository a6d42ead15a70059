"""Train a tiny TTS-style LM on a token set with transcripts: the text conditions, the audio is learned.

    python scripts/tokenize.py --input_dir AUDIO --output_dir TOKENS --model MODEL \
        --keep_columns transcription     # AUDIO/metadata.csv: file_name,transcription
    python examples/train_tts_lm.py --tokens TOKENS --text_column transcription --output_dir tts/ \
        [--steps 30] [--num_merges 10 | --audio_tokenizer TOK_DIR] [--model MODEL]

Each file with a non-empty transcript becomes one sequence, laid out as in
examples/text_and_audio.py (whose text tokenizer and joint id space are imported from there):

    text ids of the transcript, <audio_start>, audio ids, <audio_end>

The text tokenizer is a byte-level BPE trained on the training files' transcripts (nothing is
downloaded); the audio tokenizer is a snac_hf BPE (`--variant`, `--num_merges`) trained on the
training files' codes, or `--audio_tokenizer`. Files are split into train / held-out by a hash of
their id (deterministic; at least one file is held out). A small Llama (`--num_layers`,
`--hidden_size`) trains `--steps` AdamW steps on random batches of whole training sequences; the
loss counts only the audio ids and `<audio_end>` (text ids and `<audio_start>` are the condition,
label -100). The held-out audio loss per token (nats, same positions) is measured before training
and after it. Then the model continues one held-out transcript after `<audio_start>` (sampled
under `--seed`, or `--greedy`; text ids and the audio tokenizer's other special tokens are
suppressed; `<audio_end>` stops it), the ids are decoded to codes per scale and cut to whole
frames. With `--model` those codes are decoded to `generated.wav`.

The defaults are sized for tens of seconds of speech such as the bundled recordings. Measured on
their 10 shortest (18.7 s; 8 files train, 2 held out; fitted offline model): 30 steps at 1e-3 with
10 merges took the held-out loss from 9.46 to 9.40 nats per token (uniform over the 12,604 ids:
9.44); with 50 merges it went to 9.42, with 0 merges to 9.33, and with 50 merges and a learning
rate of 2e-3 or 3e-3, or 60 steps, it rose (to 9.52-9.76). Only 12-17% of the held-out audio
tokens occur at all in so little training audio (the stand-in codec spreads speech over its codes
almost uniformly), so the model gains little beyond those and soon overfits them.

Written to --output_dir: `text_tokenizer.json`, `audio_tokenizer/` (when trained here) and
`summary.json` (data sizes, losses, the generated codes per scale). The offline stand-in models
(`scripts/make_offline_model.py`) have untrained decoders: their wav is noise whatever the codes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset

# examples/ is on sys.path when this file runs as a script: reuse the joint text + audio id space.
from text_and_audio import TextAndAudio, train_text_tokenizer

from snac_hf.bpe import AudioTokenizer, load_tokenizer, train_tokenizer
from snac_hf.bpe.corpus import file_ids, id_fractions, iter_batches, resolve_layout
from snac_hf.codec.decode import check_same_layout, codes_to_audio, whole_frames, write_audio
from snac_hf.codec.load import load_codec
from snac_hf.layout import CodecLayout
from snac_hf.lm.measure import held_out_nll
from snac_hf.lm.model import build_model
from snac_hf.lm.settings import ModelSettings
from snac_hf.lm.train import Budget, learning_rate_at
from snac_hf.tokenset.load import open_token_set

#: Labels of the positions the loss ignores (the transformers convention).
IGNORE = -100


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", required=True, help="token-set folder with a transcript column")
    parser.add_argument("--text_column", default="transcription", help="column holding each file's text")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--audio_tokenizer", help="snac_hf audio tokenizer folder (default: train one)")
    parser.add_argument("--variant", default="cross_scale", help="BPE variant trained here")
    parser.add_argument("--num_merges", type=int, default=10, help="merges of the audio BPE trained here")
    parser.add_argument("--text_vocab", type=int, default=300, help="byte-level BPE vocabulary size")
    parser.add_argument("--holdout", type=float, default=0.2, help="share of files held out")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch_size", type=int, default=4, help="whole sequences per step")
    # 1e-3, not snac_hf.lm's 3e-3: on 15 s of speech, 30 steps at 3e-3 raised the held-out loss (overfit).
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--num_layers", type=int, default=2)
    parser.add_argument("--hidden_size", type=int, default=64)
    parser.add_argument("--max_new_tokens", type=int, help="default: the held-out file's own audio tokens")
    parser.add_argument("--greedy", action="store_true", help="greedy decoding instead of sampling")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", help="SNAC model folder or Hub id: decode the generated codes to a wav")
    return parser.parse_args(argv)


def held_out_rows(ids: list[str], share: float) -> np.ndarray:
    """Row indices held out: the `max(1, round(share * n))` files with the smallest id hash."""
    if len(ids) < 2:
        raise ValueError(
            f"{len(ids)} file(s) with a transcript: need at least 2 (one to train, one to hold out)"
        )
    n_held = min(len(ids) - 1, max(1, round(share * len(ids))))
    return np.sort(np.argsort(id_fractions(ids, "snac_hf.examples.tts"), kind="stable")[:n_held])


def encode_sequences(
    joint: TextAndAudio, texts: list[str], dataset: Dataset, layout: CodecLayout
) -> list[np.ndarray]:
    """One `TextAndAudio.encode` sequence per row of `dataset` (int64), in row order."""
    sequences = []
    for _, files in iter_batches(dataset, layout.n_scales):
        for codes in files:
            sequences.append(np.asarray(joint.encode(texts[len(sequences)], codes), dtype=np.int64))
    return sequences


def condition_length(joint: TextAndAudio, sequence: np.ndarray) -> int:
    """Tokens before the first audio id: the text ids and `<audio_start>` (never scored)."""
    return int(np.flatnonzero(sequence == joint.audio_start)[0]) + 1


def pad_batch(joint: TextAndAudio, sequences: list[np.ndarray], pad_id: int) -> dict[str, torch.Tensor]:
    """input_ids / attention_mask / labels, right-padded; labels are IGNORE on the condition and pads."""
    width = max(len(s) for s in sequences)
    ids = np.full((len(sequences), width), pad_id, dtype=np.int64)
    labels = np.full_like(ids, IGNORE)
    mask = np.zeros_like(ids)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = sequence
        mask[row, : len(sequence)] = 1
        start = condition_length(joint, sequence)
        labels[row, start : len(sequence)] = sequence[start:]
    return {
        name: torch.from_numpy(a)
        for name, a in (("input_ids", ids), ("attention_mask", mask), ("labels", labels))
    }


def audio_loss(
    model: torch.nn.Module, joint: TextAndAudio, sequences: list[np.ndarray], pad_id: int
) -> float:
    """Mean NLL (nats) per audio token of `sequences`: each audio id and `<audio_end>`, given its prefix."""
    nats, tokens = 0.0, 0
    for sequence in sequences:
        # One window per sequence (window = its length), so every token sees its whole prefix.
        scored = held_out_nll(
            model,
            [sequence],
            len(sequence),
            pad_id,
            first_scored=condition_length(joint, sequence),
            last_unscored=0,
        )
        nats, tokens = nats + scored["nats"], tokens + scored["tokens"]
    return nats / tokens


def train(
    model: torch.nn.Module,
    joint: TextAndAudio,
    sequences: list[np.ndarray],
    args: argparse.Namespace,
    pad_id: int,
) -> list[float]:
    """`args.steps` AdamW steps (lr schedule of snac_hf.lm.train) on random batches; the batch losses."""
    # learning_rate_at reads steps, warmup and learning_rate only: whole sequences here, no window.
    budget = Budget(args.steps, args.batch_size, window=0, learning_rate=args.learning_rate)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=args.learning_rate, betas=(0.9, 0.95), weight_decay=0.1
    )
    rng = np.random.default_rng(args.seed)
    losses = []
    model.train()
    for step in range(args.steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step, budget)
        chosen = rng.choice(len(sequences), size=min(args.batch_size, len(sequences)), replace=False)
        loss = model(**pad_batch(joint, [sequences[i] for i in chosen], pad_id)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    model.eval()
    return losses


def generate_codes(
    model: torch.nn.Module,
    joint: TextAndAudio,
    transcript: str,
    max_new_tokens: int,
    args: argparse.Namespace,
) -> tuple[list[int], list[np.ndarray]]:
    """(audio ids generated after the transcript, their codes per scale as decoded: maybe mid-frame)."""
    prompt = torch.tensor([[*joint.text.encode(transcript).ids, joint.audio_start]])
    # Only audio ids and <audio_end> may follow: text ids and the audio specials are suppressed.
    audio_specials = [joint.offset + i for i in joint.audio.special_ids.values()]
    suppress = [*range(joint.offset), *(i for i in audio_specials if i != joint.audio_end)]
    sampling = {"do_sample": False} if args.greedy else {"do_sample": True, "top_k": 0}  # top_k 0: all ids
    with torch.inference_mode(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)
        out = model.generate(
            prompt,
            **sampling,
            max_new_tokens=max_new_tokens,
            suppress_tokens=suppress,
            eos_token_id=joint.audio_end,
            pad_token_id=model.config.pad_token_id,
        )
    new = out[0, prompt.shape[1] :].tolist()
    ids = [i - joint.offset for i in new if i != joint.audio_end]
    return ids, joint.audio.decode(ids, strict=False)  # strict=False: the model may stop mid-frame


def write_wav(model_source: str, tokenizer: AudioTokenizer, codes: list[np.ndarray], output_dir: str) -> str:
    """Decode `codes` with the SNAC model to `generated.wav`; says where, how long, and the model's notice."""
    codec = load_codec(model_source)
    check_same_layout(tokenizer.layout, codec.layout)
    audio = codes_to_audio(codec, codes)
    path = write_audio(os.path.join(output_dir, "generated.wav"), audio, codec.layout.sampling_rate)
    notice = f"note: {codec.notice}" if codec.notice else "decoded with the model's own decoder"
    return f"wrote {path} ({len(audio) / codec.layout.sampling_rate:.2f} s); {notice}"


def load_transcribed(tokens: str, text_column: str) -> tuple[Dataset, list[str], int]:
    """(rows with a non-empty transcript, their transcripts, rows skipped for lacking one)."""
    dataset = open_token_set(tokens)
    if text_column not in dataset.column_names:
        raise SystemExit(
            f"{tokens} has no column {text_column!r} (columns: {dataset.column_names}); "
            "tokenize with --keep_columns to carry transcripts into the token set"
        )
    texts = ["" if t is None else str(t).strip() for t in dataset[text_column]]
    rows = [i for i, t in enumerate(texts) if t]
    return dataset.select(rows), [texts[i] for i in rows], len(texts) - len(rows)


def joint_tokenizer(
    args: argparse.Namespace, train_set: Dataset, texts: list[str], layout: CodecLayout
) -> TextAndAudio:
    """Byte-level BPE on the training transcripts + the audio tokenizer (given, or trained on train_set)."""
    text = train_text_tokenizer(texts, args.text_vocab)
    text.save(os.path.join(args.output_dir, "text_tokenizer.json"))
    folder = args.audio_tokenizer or train_tokenizer(
        train_set,
        args.variant,
        args.num_merges,
        output_dir=os.path.join(args.output_dir, "audio_tokenizer"),
        layout=layout,
    )
    return TextAndAudio(text, load_tokenizer(folder))


@dataclass
class Sequences:
    """The joint id space and each split's sequences, transcripts and audio seconds."""

    joint: TextAndAudio
    train: list[np.ndarray]
    held: list[np.ndarray]
    held_texts: list[str]
    train_seconds: float
    held_seconds: float
    skipped: int

    def seen_share(self) -> float:
        """Share of held-out audio tokens that occur in the training sequences' audio at all."""
        audio = [s[condition_length(self.joint, s) :] for s in self.train]
        held = np.concatenate([s[condition_length(self.joint, s) :] for s in self.held])
        return float(np.isin(held, np.concatenate(audio)).mean())


def prepare(args: argparse.Namespace) -> Sequences:
    """Read the token set, split it, train (or load) the tokenizers, encode both splits."""
    dataset, texts, skipped = load_transcribed(args.tokens, args.text_column)
    layout = resolve_layout(dataset, Path(args.tokens) if os.path.isdir(args.tokens) else None)
    held = held_out_rows(file_ids(dataset), args.holdout)
    train_rows = np.setdiff1d(np.arange(len(dataset)), held)
    train_set, held_set = dataset.select(train_rows), dataset.select(held)
    joint = joint_tokenizer(args, train_set, [texts[i] for i in train_rows], layout)
    check_same_layout(joint.audio.layout, layout)
    seconds = np.asarray(dataset["duration"], dtype=np.float64)
    return Sequences(
        joint,
        encode_sequences(joint, [texts[i] for i in train_rows], train_set, layout),
        encode_sequences(joint, [texts[i] for i in held], held_set, layout),
        [texts[i] for i in held],
        float(seconds[train_rows].sum()),
        float(seconds[held].sum()),
        skipped,
    )


def train_and_measure(args: argparse.Namespace, data: Sequences) -> tuple[torch.nn.Module, dict]:
    """A fresh Llama trained on `data.train`; the held-out audio loss before and after, and baselines."""
    joint = data.joint
    pad_id = joint.offset + joint.audio.pad_token_id
    special = {"bos": joint.offset + joint.audio.bos_token_id, "eos": joint.audio_end, "pad": pad_id}
    longest = max(len(s) for s in data.train + data.held)
    settings = ModelSettings(args.num_layers, args.hidden_size, max_positions=max(4096, 2 * longest))
    model = build_model(joint.vocab_size, settings, special, seed=args.seed)
    before = audio_loss(model, joint, data.held, pad_id)
    losses = train(model, joint, data.train, args, pad_id)
    measured = {
        "held_out_audio_loss_before": before,
        "held_out_audio_loss_after": audio_loss(model, joint, data.held, pad_id),
        "uniform_loss": math.log(joint.vocab_size),
        "last_train_batch_loss": losses[-1],
        "held_out_tokens_seen_in_training": data.seen_share(),
    }
    return model, measured


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.makedirs(args.output_dir, exist_ok=True)
    data = prepare(args)
    joint, layout = data.joint, data.joint.audio.layout
    print(
        f"data: {len(data.train) + len(data.held)} files with a transcript "
        f"({data.train_seconds + data.held_seconds:.1f} s of audio; {data.skipped} without one skipped): "
        f"train {len(data.train)} files ({data.train_seconds:.1f} s), held out {len(data.held)} "
        f"({data.held_seconds:.1f} s)\n"
        f"ids: text 0..{joint.offset - 1}, audio {joint.offset}..{joint.vocab_size - 1} ({joint.audio})"
    )
    model, measured = train_and_measure(args, data)
    print(
        "held-out audio loss per token: {held_out_audio_loss_before:.3f} nats at step 0 -> "
        "{held_out_audio_loss_after:.3f} after {steps} steps (uniform over all ids: {uniform_loss:.3f}; last "
        "train batch {last_train_batch_loss:.3f}); {held_out_tokens_seen_in_training:.0%} of held-out audio "
        "tokens occur in the training audio".format(steps=args.steps, **measured)
    )

    new_tokens = args.max_new_tokens or len(data.held[0]) - condition_length(joint, data.held[0])
    ids, decoded = generate_codes(model, joint, data.held_texts[0], new_tokens, args)
    codes = whole_frames(layout, decoded)
    frames = len(codes[0]) // layout.codes_per_frame[0]
    print(
        f"generated {len(ids)} audio ids for {data.held_texts[0]!r}: {[len(c) for c in decoded]} codes per "
        f"scale, {frames} whole frames ({[len(c) for c in codes]} codes kept)"
    )
    summary = {
        "train_files": len(data.train),
        "held_out_files": len(data.held),
        "train_seconds": data.train_seconds,
        "held_out_seconds": data.held_seconds,
        "skipped_without_text": data.skipped,
        "steps": args.steps,
        **measured,
        "generated_for": data.held_texts[0],
        "generated_ids": len(ids),
        "generated_codes": [c.tolist() for c in codes],
    }
    with open(os.path.join(args.output_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    if not frames:
        print("no whole frame to decode: some scale got no codes (an undertrained model, greedy above all,")
        print("keeps to a few tokens and need not produce every scale)")
    elif args.model:
        print(write_wav(args.model, joint.audio, codes, args.output_dir))
    print(summary_text(summary, frames > 0))
    return 0 if frames else 1


def summary_text(summary: dict, decoded: bool) -> str:
    """The closing paragraph: what the run measured, what it shows and what it does not."""
    outcome = "its output decodes to valid codes" if decoded else "(this time) its output held no whole frame"
    return (
        "summary: {steps} steps on {train_seconds:.1f} s of audio took the held-out audio loss from "
        "{held_out_audio_loss_before:.2f} to {held_out_audio_loss_after:.2f} nats per token (uniform: "
        "{uniform_loss:.2f}). Shown: transcripts carried by --keep_columns condition a causal LM, the loss "
        "is on audio ids only, and {outcome}. Not shown: speech synthesis, nor that the text is used at all "
        "(no text-free baseline is measured). So little data and training learn which audio tokens occur, "
        "not how text sounds, and the offline stand-in models' decoders turn any codes into noise."
    ).format(outcome=outcome, **summary)


if __name__ == "__main__":
    raise SystemExit(main())
