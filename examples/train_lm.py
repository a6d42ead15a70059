"""Train a causal LM on a token set with `AutoTokenizer`, `Trainer` and `DataCollatorForLanguageModeling`.

    python examples/train_lm.py --tokens TOKEN_SET --tokenizer TOK_DIR --output_dir lm/ --max_steps 200

The starting point a user would write: the audio tokenizer folder loads with `AutoTokenizer`,
`add_input_ids` turns each file's codes into `<bos> <audio_start> ... <audio_end> <eos>` ids, the
ids are packed into blocks of `--block_size` tokens, and a small Llama learns them with the
standard `Trainer` (`accelerate launch examples/train_lm.py ...` for GPUs). Without --tokenizer,
a cross_scale tokenizer with 500 merges is trained on the token set first.
"""

from __future__ import annotations

import argparse
import os

from transformers import (
    AutoTokenizer,
    DataCollatorForLanguageModeling,
    LlamaConfig,
    LlamaForCausalLM,
    Trainer,
    TrainingArguments,
)

from snac_hf.bpe import add_input_ids, train_tokenizer
from snac_hf.tokenset.load import open_token_set


def pack(batch: dict, block_size: int) -> dict:
    """Concatenate the batch's sequences and cut them into blocks of `block_size` (the rest is dropped)."""
    flat = [i for ids in batch["input_ids"] for i in ids]
    usable = len(flat) // block_size * block_size
    return {"input_ids": [flat[i : i + block_size] for i in range(0, usable, block_size)]}


def loss_summary(steps: int, mean_loss: float, log_history: list[dict]) -> str:
    """What training reached: `Trainer`'s `training_loss` is the mean over *all* steps, so the loss
    at the end is the last logged one (the mean over the steps since the log before it)."""
    logged = [(entry["step"], entry["loss"]) for entry in log_history if "loss" in entry]
    text = f"trained {steps} steps; mean train loss over all steps {mean_loss:.3f}"
    if logged:
        previous = logged[-2][0] if len(logged) > 1 else 0
        text += f"; last logged train loss {logged[-1][1]:.3f} (mean of steps {previous + 1}-{logged[-1][0]})"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", required=True, help="token-set folder or load_dataset source")
    parser.add_argument("--tokenizer", help="audio tokenizer folder (default: train one)")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--max_steps", type=int, default=200)
    parser.add_argument("--block_size", type=int, default=256)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--hidden_size", type=int, default=128)
    parser.add_argument("--num_layers", type=int, default=4)
    args = parser.parse_args(argv)

    tokenizer_dir = args.tokenizer or train_tokenizer(
        args.tokens, "cross_scale", 500, output_dir=os.path.join(args.output_dir, "tokenizer")
    )
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir), trust_remote_code=False)

    dataset = open_token_set(args.tokens)
    ids = dataset.map(
        add_input_ids,
        batched=True,
        fn_kwargs={"tokenizer": str(tokenizer_dir)},
        remove_columns=dataset.column_names,
    )
    blocks = ids.map(pack, batched=True, fn_kwargs={"block_size": args.block_size})
    print(f"{len(dataset)} files -> {len(blocks)} blocks of {args.block_size} tokens; vocab {len(tokenizer)}")

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=args.hidden_size,
        intermediate_size=4 * args.hidden_size,
        num_hidden_layers=args.num_layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=args.block_size,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    training = TrainingArguments(
        output_dir=args.output_dir,
        max_steps=args.max_steps,
        per_device_train_batch_size=args.batch_size,
        learning_rate=1e-3,
        lr_scheduler_type="cosine",
        warmup_steps=max(1, args.max_steps // 10),
        logging_steps=max(1, args.max_steps // 10),
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
    )
    trainer = Trainer(
        model=model,
        args=training,
        train_dataset=blocks,
        data_collator=DataCollatorForLanguageModeling(tokenizer=tokenizer, mlm=False),
    )
    result = trainer.train()
    print(loss_summary(result.global_step, result.training_loss, trainer.state.log_history))
    trainer.save_model(os.path.join(args.output_dir, "model"))
    tokenizer.save_pretrained(os.path.join(args.output_dir, "model"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
