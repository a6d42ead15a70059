"""The training loop: `steps` AdamW steps on random windows of the training stream.

Every step takes `batch_size` windows of `window` tokens, each starting at a uniformly random
position of the concatenated training sequences (`numpy.random.default_rng(seed + process index)`),
and minimises the mean next-token cross-entropy over the window. The learning rate warms up
linearly for `warmup` steps (default 10%) and then follows a cosine down to 10%. Gradients are
clipped to norm 1. One forward/backward pass before the timed loop (its gradient discarded) keeps
first-call costs out of the training wall time. `accelerate` places the model (CPU, one GPU, or
data-parallel under `accelerate launch`, where every process draws its own windows: audio seen
scales with the number of processes, and the report says so).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Budget:
    steps: int
    batch_size: int
    window: int  # tokens per training window
    learning_rate: float = 3e-3
    weight_decay: float = 0.1
    warmup: int | None = None


def make_accelerator():
    """accelerate's `Accelerator` for this process, told `cpu=True` on a machine without CUDA.

    Without it, processes that `accelerate launch --multi_gpu --num_processes N` starts on a
    CPU-only machine never join one process group: each trains alone, believing itself the main
    process (measured: accelerate 1.x reports NO distribution and writes every file N times)."""
    from accelerate import Accelerator

    return Accelerator(cpu=not torch.cuda.is_available())


def learning_rate_at(step: int, budget: Budget) -> float:
    warmup = budget.warmup if budget.warmup is not None else max(1, budget.steps // 10)
    if step < warmup:
        return budget.learning_rate * (step + 1) / warmup
    progress = (step - warmup) / max(1, budget.steps - warmup)
    return budget.learning_rate * (0.1 + 0.45 * (1 + math.cos(math.pi * progress)))


def train_model(
    model: torch.nn.Module,
    stream: np.ndarray,
    budget: Budget,
    seed: int = 0,
    accelerator=None,
    checkpoints: tuple[int, ...] = (),
    at_checkpoint: Callable[[int, torch.nn.Module, float], None] | None = None,
) -> dict:
    """Train in place; returns {"train_seconds", "final_loss" (mean of the last 10% of steps)}.

    After each step count in `checkpoints`, `at_checkpoint(steps, model, train_seconds)` is called
    with the unwrapped model in eval mode (training resumes after it; the learning-rate schedule
    is that of the whole `budget.steps`, so a checkpoint is a point on one training's curve, not
    a shorter training). Its time is not counted in `train_seconds`."""
    accelerator = accelerator or make_accelerator()
    if len(stream) <= budget.window:
        raise ValueError(
            f"training stream of {len(stream)} tokens is shorter than one window ({budget.window})"
        )
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=budget.learning_rate, betas=(0.9, 0.95), weight_decay=budget.weight_decay
    )
    model, optimizer = accelerator.prepare(model, optimizer)
    model.train()
    rng = np.random.default_rng(seed + accelerator.process_index)
    offsets = np.arange(budget.window)
    losses = []
    warm_up = torch.from_numpy(stream[None, : budget.window]).to(accelerator.device)
    accelerator.backward(model(input_ids=warm_up, labels=warm_up).loss)  # first-call costs, untimed
    optimizer.zero_grad(set_to_none=True)
    started, paused = time.perf_counter(), 0.0
    for step in range(budget.steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step, budget)
        starts = rng.integers(0, len(stream) - budget.window + 1, size=budget.batch_size)
        batch = torch.from_numpy(stream[starts[:, None] + offsets]).to(accelerator.device)
        loss = model(input_ids=batch, labels=batch).loss
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if at_checkpoint is not None and step + 1 in checkpoints:
            pause = time.perf_counter()
            model.eval()
            at_checkpoint(step + 1, accelerator.unwrap_model(model), pause - started - paused)
            model.train()
            paused += time.perf_counter() - pause
    seconds = time.perf_counter() - started - paused
    model.eval()
    model = accelerator.unwrap_model(model)
    accelerator.free_memory()  # drop the accelerator's references: one Accelerator trains many models
    tail = losses[-max(1, len(losses) // 10) :]
    return {
        "train_seconds": seconds,
        "final_loss": float(np.mean(tail)),
        "processes": accelerator.num_processes,
        "model": model,
    }
