r"""Fine-tune a (tiny) Orpheus-style Llama on an exported token set, then speak and decode back to codes.

    python scripts/tokenize.py --input_dir AUDIO --output_dir TOKENS --model MODEL \
        --keep_columns transcription                 # AUDIO/metadata.csv: file_name,transcription
    python examples/finetune_orpheus.py --tokens TOKENS --text_column transcription --output_dir ft/ \
        [--steps 20] [--model MODEL]                 # --model: also write generated.wav
    python examples/finetune_orpheus.py ... --multipack 2048   # train on multipacked blocks instead

1. A text tokenizer: Orpheus reads text with Llama 3's tokenizer; nothing is downloaded here, so a
   byte-level BPE is trained on the token set's transcripts and given Llama 3's shape (128,256 ids,
   BOS 128000 put first, `<|eot_id|>` 128009), which the export checks. With the real one, pass its
   folder or Hub id to `snac-hf export --text_tokenizer` instead.
2. The export (`snac_hf.export.export_orpheus`, what `snac-hf export --format orpheus` runs): one
   row per file, `[start of human] text [end of text, end of human, start of AI, start of speech]
   speech ids [end of speech, end of AI]`, in `OUT/orpheus/`.
3. Training exactly as Orpheus' fine-tuning script does it: `load_dataset(folder, split="train")`
   straight into `Trainer` (batch size 1, the default collator; `labels` are in the rows). The
   model is a tiny Llama whose vocabulary covers every Orpheus id (`vocab_size` 156,940, as in
   Orpheus' config). The mean loss over the rows is measured before and after training.
   `--multipack N`: the same rows are also exported multipacked (`snac-hf export --multipack N`:
   whole rows in blocks of at most N ids, `position_ids` restarting at each row, labels -100 at
   each row's first id, no attention mask), and training reads the blocks. The model's config has
   `use_cache=False`: transformers keeps packed rows apart by their position_ids only when it builds
   no cache (and is given no attention mask), with `sdpa` or `eager` attention (or flash attention).
4. Generation: the model continues one row's prompt after start-of-speech (greedy). By default
   each step may only pick an id of the frame position it is at, for as many frames as the row's
   own speech: a few steps of training cannot learn the layout, and the point here is the way back.
   `--unconstrained` samples from the whole vocabulary instead; frames holding an id outside its
   position's range are then dropped (`skip_invalid_frames`) and counted. The ids go back to SNAC
   codes with `snac_hf.export.orpheus_ids_to_codes`; with `--model` the codes are decoded to audio.

Written to --output_dir: `text_tokenizer/`, `orpheus/` (the exported dataset) and `summary.json`
(losses, the generated codes per scale). The offline stand-in models have untrained decoders:
their wav is noise whatever the codes.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch
from datasets import load_dataset
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    LogitsProcessor,
    LogitsProcessorList,
    PreTrainedTokenizerFast,
    Trainer,
    TrainingArguments,
)

from snac_hf.export import ExportSettings, export_orpheus, orpheus_ids_to_codes
from snac_hf.export.orpheus import (
    CODE_OFFSET,
    CODEBOOK_SIZE,
    END_OF_SPEECH,
    FRAME_CODES,
    MODEL_VOCAB_SIZE,
    PAD,
    START_OF_SPEECH,
)
from snac_hf.tokenset.load import open_token_set


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", required=True, help="SNAC 24 kHz token set with a transcript column")
    parser.add_argument("--text_column", default="transcription", help="column holding each file's text")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--learning_rate", type=float, default=2e-3)
    parser.add_argument("--hidden_size", type=int, default=64)
    parser.add_argument("--num_layers", type=int, default=2)
    parser.add_argument("--unconstrained", action="store_true", help="generate from the whole vocabulary")
    parser.add_argument(
        "--multipack",
        type=int,
        metavar="N",
        help="train on the rows multipacked into blocks of at most N ids",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--model", help="SNAC 24 kHz model folder or Hub id: decode the generated codes to a wav"
    )
    return parser.parse_args(argv)


def train_text_tokenizer(texts: list[str], folder: Path, vocab_size: int = 400) -> Path:
    """A byte-level BPE in Llama 3's shape: its merges, unused ids up to 128,000, then Llama 3's 256
    special tokens (`<|begin_of_text|>` 128000 put first, `<|eot_id|>` 128009); saved where
    AutoTokenizer reads it."""
    trained = Tokenizer(models.BPE())
    trained.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    trained.train_from_iterator(texts, trainer)
    model = json.loads(trained.to_str())["model"]
    vocab = dict(model["vocab"])
    vocab.update({f"<unused_{i}>": i for i in range(len(vocab), 128_000)})
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    names = {0: "<|begin_of_text|>", 1: "<|end_of_text|>", 9: "<|eot_id|>"}
    tokenizer.add_special_tokens([names.get(i, f"<|reserved_special_token_{i}|>") for i in range(256)])
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", 128_000)]
    )
    PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>"
    ).save_pretrained(str(folder))
    return folder


def tiny_orpheus(hidden_size: int, num_layers: int, max_positions: int) -> LlamaForCausalLM:
    """A small Llama over every Orpheus id (tied embeddings: 156,940 x hidden_size weights once)."""
    config = LlamaConfig(
        vocab_size=MODEL_VOCAB_SIZE,
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=max_positions,
        bos_token_id=0,
        eos_token_id=END_OF_SPEECH,
        pad_token_id=PAD,
        tie_word_embeddings=True,
        use_cache=False,  # with a cache, transformers ignores packed position_ids (--multipack)
        attn_implementation="sdpa",
    )
    return LlamaForCausalLM(config)


@torch.no_grad()
def mean_loss(model: LlamaForCausalLM, rows) -> float:
    """Mean next-id loss (nats) over every row, one row at a time."""
    model.eval()
    losses = [
        model(input_ids=torch.tensor([row["input_ids"]]), labels=torch.tensor([row["labels"]])).loss.item()
        for row in rows
    ]
    return float(np.mean(losses))


class FramePositions(LogitsProcessor):
    """Only the ids of the frame position each step is at (so every frame decodes)."""

    def __init__(self, prompt_length: int):
        self.prompt_length = prompt_length

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        position = (input_ids.shape[1] - self.prompt_length) % FRAME_CODES
        allowed = torch.full_like(scores, float("-inf"))
        low = CODE_OFFSET + position * CODEBOOK_SIZE
        allowed[:, low : low + CODEBOOK_SIZE] = 0
        return scores + allowed


def generate(model: LlamaForCausalLM, row: dict, constrained: bool) -> list[int]:
    """The row's prompt (through start-of-speech) and what the model generates after it."""
    ids = row["input_ids"]
    prompt = ids[: ids.index(START_OF_SPEECH) + 1]
    frames = (len(ids) - len(prompt) - 2) // FRAME_CODES
    model.eval()
    with torch.no_grad():
        out = model.generate(
            torch.tensor([prompt]),
            attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
            max_new_tokens=frames * FRAME_CODES + (0 if constrained else 1),
            do_sample=not constrained,
            logits_processor=LogitsProcessorList([FramePositions(len(prompt))]) if constrained else None,
            eos_token_id=END_OF_SPEECH,
            pad_token_id=PAD,
            use_cache=True,
        )
    return out[0].tolist()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)

    texts = [t for t in open_token_set(args.tokens)[args.text_column] if t and t.strip()]
    text_tokenizer = train_text_tokenizer(texts, out / "text_tokenizer")
    export_dir = out / "orpheus"
    settings = ExportSettings(args.text_column, str(text_tokenizer), overwrite=True)
    summary = export_orpheus(args.tokens, export_dir, settings)
    counts = summary["counts"]
    print(f"exported {counts['rows_written']} rows ({counts['ids_written']:,} ids) to {export_dir}")

    rows = load_dataset(str(export_dir), split="train")  # as Orpheus' finetune/train.py reads it
    longest = max(len(ids) for ids in rows["input_ids"])
    train_rows = rows
    if args.multipack:
        packed_dir = out / "multipacked"
        packed = ExportSettings(
            args.text_column, str(text_tokenizer), overwrite=True, multipack=args.multipack
        )
        packed_summary = export_orpheus(args.tokens, packed_dir, packed)
        train_rows = load_dataset(
            str(packed_dir), split="train"
        )  # id, input_ids, labels, position_ids, lengths
        longest = max(longest, args.multipack)
        print(f"multipacked {packed_summary['counts']['rows_written']} rows into {len(train_rows)} blocks")
    model = tiny_orpheus(args.hidden_size, args.num_layers, max_positions=max(longest, 64))
    before = mean_loss(model, rows)
    training = TrainingArguments(
        output_dir=str(out / "trainer"),
        max_steps=args.steps,
        per_device_train_batch_size=1,  # Orpheus' setting: rows of any length, no padding
        learning_rate=args.learning_rate,
        warmup_steps=max(1, args.steps // 10),
        logging_steps=max(1, args.steps // 5),
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        seed=args.seed,
        use_cpu=not torch.cuda.is_available(),
    )
    # Trainer drops the columns the model does not take (id, lengths; text): position_ids stay.
    Trainer(model=model, args=training, train_dataset=train_rows).train()
    after = mean_loss(model, rows)
    print(f"mean loss over the rows: {before:.3f} -> {after:.3f} nats per id after {args.steps} steps")

    row = rows[0]
    generated = generate(model, row, constrained=not args.unconstrained)
    found = orpheus_ids_to_codes(generated, skip_invalid_frames=True)
    frames = len(found.codes[0])
    print(
        f"generated {frames} frames for {row[args.text_column]!r} ({found.skipped_frames} skipped, "
        f"{found.trailing_ids} trailing ids); codes per scale {[len(c) for c in found.codes]}"
    )
    if args.model and frames:
        from snac_hf.codec.decode import codes_to_audio, write_audio
        from snac_hf.codec.load import load_codec

        codec = load_codec(args.model)
        write_audio(out / "generated.wav", codes_to_audio(codec, found.codes), codec.layout.sampling_rate)
        print(f"wrote {out / 'generated.wav'}" + (f" (note: {codec.notice})" if codec.notice else ""))
    result = {
        "rows": len(rows),
        "training_blocks": len(train_rows) if args.multipack else None,
        "vocab_size": model.config.vocab_size,
        "steps": args.steps,
        "loss_before": before,
        "loss_after": after,
        "generated_for": row[args.text_column],
        "generated_frames": frames,
        "skipped_frames": found.skipped_frames,
        "generated_codes": [c.tolist() for c in found.codes],
    }
    (out / "summary.json").write_text(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    raise SystemExit(main())
