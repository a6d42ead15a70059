"""The small causal LM every tokenization is measured with: a `LlamaForCausalLM` from a config.

Only the vocabulary differs between tokenizations; depth, width, heads and context are the same
(flags of scripts/evaluate_lm.py). Input and output embeddings are untied, so the parameter count
splits cleanly: *embedding* = input embedding + output projection (vocab_size x hidden each),
*non-embedding* = everything else (identical across tokenizations).
"""

from __future__ import annotations

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from snac_hf.lm.settings import ModelSettings


def build_model(
    vocab_size: int, settings: ModelSettings, special_ids: dict[str, int], seed: int = 0
) -> LlamaForCausalLM:
    """A freshly initialised LM (weights drawn under `torch.manual_seed(seed)`)."""
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=settings.hidden_size,
        intermediate_size=settings.intermediate_size or 4 * settings.hidden_size,
        num_hidden_layers=settings.num_layers,
        num_attention_heads=settings.num_heads,
        num_key_value_heads=settings.num_heads,
        max_position_embeddings=settings.max_positions,
        tie_word_embeddings=False,
        bos_token_id=special_ids["bos"],
        eos_token_id=special_ids["eos"],
        pad_token_id=special_ids["pad"],
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LlamaForCausalLM(config)


def parameter_counts(model: torch.nn.Module) -> dict[str, int]:
    """{"embedding": input + output embeddings, "non_embedding": the rest, "total"}."""
    total = sum(p.numel() for p in model.parameters())
    embedding = model.get_input_embeddings().weight.numel() + model.get_output_embeddings().weight.numel()
    return {"embedding": embedding, "non_embedding": total - embedding, "total": total}
