"""GPU conditions of the tokenize job made to happen on CPU (issue 27): a collective timeout as
short as NCCL's would be against the job, an out-of-memory in the middle of a window, and the
device of each process under `accelerate launch`."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
from conftest import run_script

from snac_hf.tokenset.schema import METADATA_FILE

#: Runs `snac-hf tokenize` as a launched process, with accelerate's process group given a
#: collective timeout of 3 s (NCCL's is 10 minutes; the waits stand in scale) and the encoder of
#: the process that has work made 6 s slow.
SHORT_COLLECTIVE_TIMEOUT = """
import sys, time
from datetime import timedelta

import snac_hf.job.launch as launch
import snac_hf.job.pipeline as pipeline

launched = launch.current_processes

def with_short_timeout(device=None):
    processes = launched(device)
    import torch.distributed as dist
    dist.distributed_c10d._set_pg_timeout(timedelta(seconds=3))
    return processes

launch.current_processes = with_short_timeout
encode_files = pipeline.SnacEncoder.encode_files

def slow_encode_files(self, *args, **kwargs):
    time.sleep(6)
    return encode_files(self, *args, **kwargs)

pipeline.SnacEncoder.encode_files = slow_encode_files
from snac_hf.cli.tokenize import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_process_without_work_outwaits_a_short_collective_timeout(tmp_path, short_speech_dir, fitted_model):
    """Two processes, one unit: process 1 has nothing to encode and waits at the end longer than
    the collective timeout of the default group; the job still finishes, merges, writes the
    metadata and the card."""
    script = tmp_path / "launched_tokenize.py"
    script.write_text(textwrap.dedent(SHORT_COLLECTIVE_TIMEOUT))
    out = tmp_path / "tokens"
    launcher = (sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2")
    launcher += ("--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no")
    result = run_script(
        str(script),
        "--no_analysis",
        "--no_progress",
        "--input_dir",
        str(short_speech_dir),
        "--model",
        str(fitted_model),
        "--files_per_shard",
        "64",
        "--output_dir",
        str(out),
        launcher=launcher,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    meta = json.loads((out / METADATA_FILE).read_text())
    assert meta["settings"]["num_processes"] == 2
    assert meta["files_processed"] == len(list(short_speech_dir.iterdir()))
    assert (out / "README.md").is_file()


def test_each_process_of_a_machine_gets_its_own_gpu():
    """`--device` under `accelerate launch`: `cuda` maps to each process's local GPU; `cuda:N` with
    several processes on the machine is refused in one line (it would put them all on GPU N)."""
    from snac_hf.job.launch import process_device

    assert process_device(None, "cuda:3", 3, 8) == "cuda:3"
    assert process_device("cuda", "cuda:3", 3, 8) == "cuda:3"
    assert process_device("cuda", "cuda:0", 0, 1) == "cuda"
    assert process_device("cuda:1", "cuda:0", 0, 1) == "cuda:1"
    assert process_device("cpu", "cuda:2", 2, 8) == "cpu"
    with pytest.raises(ValueError, match=r"--device cuda:1 with 8 processes .* on that one GPU") as refused:
        process_device("cuda:1", "cuda:5", 5, 8)
    assert "\n" not in str(refused.value)


def test_out_of_memory_splits_the_batch_and_keeps_every_code(
    tmp_path, capsys, monkeypatch, short_speech_dir, fitted_model
):
    """A bucket of more than 2 segments raises the device's out-of-memory error (injected: no GPU
    here): the job halves the batch size until it fits, says so on stderr and in metadata.json,
    and writes the codes of a run that never ran out of memory."""
    import torch
    from conftest import run_script_here
    from datasets import load_dataset

    from snac_hf.codec.encode import SnacEncoder

    args = [
        "--no_analysis",
        "--no_progress",
        "--input_dir",
        str(short_speech_dir),
        "--model",
        str(fitted_model),
    ]
    args += ["--batch_size", "8", "--segment_length", "1"]
    whole = run_script_here(capsys, "scripts/tokenize.py", *args, "--output_dir", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr
    launch = SnacEncoder._launch
    sizes = []

    def launch_that_runs_out_of_memory(self, inputs, keep, *rest):
        sizes.append(len(inputs))
        if len(inputs) > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")
        return launch(self, inputs, keep, *rest)

    monkeypatch.setattr(SnacEncoder, "_launch", launch_that_runs_out_of_memory)
    split = run_script_here(capsys, "scripts/tokenize.py", *args, "--output_dir", str(tmp_path / "split"))
    assert split.returncode == 0, split.stderr
    assert max(sizes) > 2 and "out of memory on cpu at batch size 8" in split.stderr
    meta = json.loads((tmp_path / "split" / METADATA_FILE).read_text())
    assert meta["out_of_memory_splits"] == [{"batch_size": 8, "to": 4}, {"batch_size": 4, "to": 2}]
    rows = {r["id"]: r for r in load_dataset(str(tmp_path / "split"), split="train")}
    reference = {r["id"]: r for r in load_dataset(str(tmp_path / "whole"), split="train")}
    assert rows.keys() == reference.keys() and len(rows) == meta["files_processed"]
    for name, row in rows.items():
        assert row == reference[name], name
