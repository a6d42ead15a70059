#!/usr/bin/env bash
# One-time set-up of snac_hf on a fresh machine (idempotent; `make setup` runs it).
# - FFmpeg shared libraries (torchcodec decodes audio with them), espeak-ng and sox: apt as root,
#   otherwise a clear message.
# - torch: the one you have is kept (your CUDA build on a GPU machine). Only where torch is
#   missing is the CPU build torch==2.13.0 installed, so no multi-GB CUDA download happens.
# - torchcodec matched to the installed torch (0.13.* for torch 2.13; 0.14-0.16 do not load there).
set -euo pipefail
PYTHON=${PYTHON:-python3}

need_apt=()
ldconfig -p | grep -q 'libavcodec\.so' || need_apt+=(libavcodec59 libavformat59 libavutil57 libswresample4 libavfilter8 libswscale6 libavdevice59)
command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)
command -v sox >/dev/null || need_apt+=(sox)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "snac_hf setup: please install ${need_apt[*]} (FFmpeg shared libraries, espeak-ng, sox) and rerun" >&2
    exit 1
  fi
fi

if ! "$PYTHON" -c 'import torch' 2>/dev/null; then
  "$PYTHON" -m pip install -q torch==2.13.0
fi
if ! "$PYTHON" -c 'import torchcodec.decoders' 2>/dev/null; then
  torch_minor=$("$PYTHON" -c 'import torch; print(".".join(torch.__version__.split("+")[0].split(".")[:2]))')
  case "$torch_minor" in
    2.13) "$PYTHON" -m pip install -q "torchcodec==0.13.*" ;;
    *) "$PYTHON" -m pip install -q torchcodec ;;
  esac
  "$PYTHON" -c 'import torchcodec.decoders' || {
    echo "snac_hf setup: torchcodec does not load with torch $torch_minor; install the torchcodec release matched to your torch (see torchcodec's compatibility table)" >&2
    exit 1
  }
fi
# bench: codec-bpe (and psutil) for the tiny forms of every bench/ script that the suite runs
"$PYTHON" -m pip install -q -e ".[codec,dev,bench]"
# The offline stand-in codecs: seeded encoder + committed codebooks, cached under ~/.cache/snac_hf (seconds).
"$PYTHON" scripts/make_offline_model.py
"$PYTHON" scripts/make_offline_model.py --random
