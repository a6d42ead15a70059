"""Waits between the job's processes that may last longer than a collective may.

accelerate's process group is NCCL on GPUs, and NCCL aborts a collective after its timeout (10
minutes by default), after which the launcher kills every process. The job's waits are not short
collectives: a process with no units left (a resume, uneven file lengths) waits at the end for
the others to encode theirs, and the other processes wait while the main one counts the rows of
a large streamed dataset. So every wait of the job is a barrier on a gloo group of its own,
made once at launch with a long timeout (`wait_timeout`): gloo runs on the host, whatever the
device, and its timeout is the job's, not the collective's.

`SNAC_HF_WAIT_TIMEOUT_S` sets that timeout in seconds (default: 7 days, longer than any wait a
job can have); tests make the default group's timeout a few seconds to stand for NCCL's.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta

WAIT_TIMEOUT_VARIABLE = "SNAC_HF_WAIT_TIMEOUT_S"
DEFAULT_WAIT_TIMEOUT = timedelta(days=7)


def wait_timeout() -> timedelta:
    """How long a process may wait for the others: `SNAC_HF_WAIT_TIMEOUT_S`, else 7 days."""
    value = os.environ.get(WAIT_TIMEOUT_VARIABLE)
    if not value:
        return DEFAULT_WAIT_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"{WAIT_TIMEOUT_VARIABLE}={value!r}: give the timeout in seconds") from None
    if seconds <= 0:
        raise ValueError(f"{WAIT_TIMEOUT_VARIABLE}={value!r}: give a positive number of seconds")
    return timedelta(seconds=seconds)


def long_wait_barrier() -> Callable[[], None]:
    """A barrier over all the job's processes on a new gloo group with `wait_timeout()`.

    Every process must call this once, at the same point (it makes a group: a collective)."""
    import torch.distributed as dist

    group = dist.new_group(backend="gloo", timeout=wait_timeout())
    return lambda: dist.barrier(group=group)
