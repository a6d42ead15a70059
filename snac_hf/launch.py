"""Which process am I? accelerate's `PartialState` under `accelerate launch`/`torchrun`, else alone.

On a machine without CUDA, `PartialState()` under `accelerate launch --multi_gpu` makes every
process believe it is rank 0 of 1; `PartialState(cpu=True)` gives real ranks (gloo). With CUDA,
each process gets its own GPU (`cuda:local_index`).
"""

from __future__ import annotations

import os

import torch

from snac_hf.pipeline import Processes

LAUNCHER_VARIABLES = ("WORLD_SIZE", "ACCELERATE_DYNAMO_BACKEND", "LOCAL_RANK")


def current_processes() -> Processes:
    if not any(v in os.environ for v in LAUNCHER_VARIABLES):
        return Processes(device="cuda" if torch.cuda.is_available() else "cpu")
    from accelerate import PartialState

    state = PartialState(cpu=not torch.cuda.is_available())
    return Processes(
        index=state.process_index,
        count=state.num_processes,
        device=str(state.device),
        barrier=state.wait_for_everyone,
    )
