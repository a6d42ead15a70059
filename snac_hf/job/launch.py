"""Which process am I? accelerate's `PartialState` under `accelerate launch`/`torchrun`, else alone.

On a machine without CUDA, `PartialState()` under `accelerate launch --multi_gpu` makes every
process believe it is rank 0 of 1; `PartialState(cpu=True)` gives real ranks (gloo). With CUDA,
each process gets its own GPU (`cuda:local_index`); `--device cuda` does the same, and an
explicit `--device cuda:N` with several processes on a machine is refused (`process_device`):
it would put every process on GPU N. The job's waits go on a gloo group with a long timeout
(`snac_hf.job.barriers`), never on accelerate's group (NCCL, 10 minutes, on GPUs).
"""

from __future__ import annotations

import os

import torch

from snac_hf.job.barriers import long_wait_barrier
from snac_hf.job.pipeline import Processes

LAUNCHER_VARIABLES = ("WORLD_SIZE", "ACCELERATE_DYNAMO_BACKEND", "LOCAL_RANK")


def current_processes(device: str | None = None) -> Processes:
    """This process among the job's; `device` overrides accelerate's choice (e.g. "cpu" on a GPU
    machine, or "cuda:1")."""
    if not any(v in os.environ for v in LAUNCHER_VARIABLES):
        return Processes(device=device or ("cuda" if torch.cuda.is_available() else "cpu"))
    from accelerate import PartialState

    state = PartialState(cpu=not torch.cuda.is_available() or (device or "").startswith("cpu"))
    local_count = int(os.environ.get("LOCAL_WORLD_SIZE", state.num_processes))
    return Processes(
        index=state.process_index,
        count=state.num_processes,
        device=process_device(device, str(state.device), state.local_process_index, local_count),
        barrier=long_wait_barrier() if state.num_processes > 1 else None,
        local_count=local_count,
    )


def process_device(requested: str | None, launched: str, local_index: int, local_count: int) -> str:
    """The device of process `local_index` of the `local_count` on its machine: `requested`
    (`--device`), else `launched` (accelerate's choice). `cuda` without an index means each
    process's own GPU; `cuda:N` with several processes on the machine is refused, since it would
    put every one of them on GPU N."""
    if requested is None:
        return launched
    if requested == "cuda" and local_count > 1:
        return f"cuda:{local_index}"
    if requested.startswith("cuda:") and local_count > 1:
        raise ValueError(
            f"--device {requested} with {local_count} processes on this machine would put every "
            "process on that one GPU; leave --device out or give --device cuda (each process then "
            "takes the GPU of its local rank)"
        )
    return requested


def requested_processes() -> int | None:
    """`--num_processes N` of the `accelerate launch` that started this process, when that launch
    ran a single process (its simple launcher sets ACCELERATE_USE_CPU but no WORLD_SIZE).

    accelerate starts ONE process for `accelerate launch --num_processes 2 script.py` without
    `--multi_gpu` on a machine without GPUs, and tells the script nothing; the launcher's own
    command line (the parent process, Linux /proc) is the only trace of the request.
    """
    if "WORLD_SIZE" in os.environ or "ACCELERATE_USE_CPU" not in os.environ:
        return None
    try:
        with open(f"/proc/{os.getppid()}/cmdline", "rb") as f:
            words = f.read().decode(errors="replace").split("\0")
    except OSError:
        return None
    for flag, value in zip(words, words[1:]):
        if flag == "--num_processes" and value.isdigit():
            return int(value)
        if flag.startswith("--num_processes="):
            tail = flag.split("=", 1)[1]
            return int(tail) if tail.isdigit() else None
    return None


def single_process_warning() -> str | None:
    """A warning when `accelerate launch` was asked for several processes and started one."""
    requested = requested_processes()
    if requested is None or requested <= 1:
        return None
    return (
        f"warning: accelerate launch was asked for --num_processes {requested} but started 1 process "
        "(it does that without --multi_gpu); this run uses one process. Add --multi_gpu (also on CPU)."
    )


def check_device(device: str) -> None:
    """A clear error for a device this machine does not have (before any model is loaded)."""
    kind = device.split(":")[0]
    if kind not in ("cpu", "cuda", "mps", "xpu"):
        raise ValueError(f"--device {device}: unknown device type (use cpu, cuda or cuda:N)")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {device}: no CUDA device is available here (use --device cpu)")
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
