"""Audio folder -> tokens -> analysis -> a BPE tokenizer -> a few LM steps -> generate -> a wav file.

    python examples/end_to_end.py --input_dir AUDIO --model SNAC_MODEL --work_dir e2e/ [--lm_steps 30]

Every stage is one snac_hf call; the token set, the analysis report, the tokenizer and the
decoded wav land in --work_dir. With an offline stand-in model (`scripts/make_offline_model.py`,
or the default: the cached "fitted" model built from tests/data/speech) the decoder is untrained,
so the wav is noise: the example shows the plumbing, not audio quality. A few LM steps on a few
files do not make a speech model either.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import torch

from snac_hf.analysis.api import analyze_folder
from snac_hf.bpe import load_tokenizer, train_tokenizer
from snac_hf.codec.decode import codes_to_audio, whole_frames, write_audio
from snac_hf.codec.load import load_codec
from snac_hf.job.pipeline import TokenizeSettings, tokenize_dataset
from snac_hf.lm.model import build_model
from snac_hf.lm.sequences import encode_split
from snac_hf.lm.settings import ModelSettings
from snac_hf.lm.train import Budget, train_model
from snac_hf.sources.folder import folder_dataset
from snac_hf.tokenset.load import open_token_set

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def default_model() -> str:
    from snac_hf.codec.codebook_fit import ensure_offline_model

    return str(ensure_offline_model("fitted", os.path.join(REPO, "tests", "data", "speech")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input_dir", required=True, help="folder of audio files")
    parser.add_argument("--model", help="SNAC model folder or Hub id (default: the offline fitted model)")
    parser.add_argument("--work_dir", required=True)
    parser.add_argument("--variant", default="cross_scale")
    parser.add_argument("--num_merges", type=int, default=300)
    parser.add_argument("--lm_steps", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds of audio to generate")
    args = parser.parse_args(argv)
    torch.manual_seed(0)

    # 1. audio -> token set (Parquet shards + dataset card)
    codec = load_codec(args.model or default_model())
    tokens_dir = os.path.join(args.work_dir, "tokens")
    tokenize_dataset(folder_dataset(args.input_dir), codec, tokens_dir, TokenizeSettings(), progress=False)
    tokens = open_token_set(tokens_dir)
    print(f"1. tokenized {len(tokens)} files ({sum(tokens['duration']):.1f} s) into {tokens_dir}")

    # 2. analysis: statistics and the BPE-potential report, written next to the tokens
    analyze_folder(tokens_dir, plots=False, console=False)
    print(f"2. analysis report in {tokens_dir}")

    # 3. a BPE tokenizer (a Hugging Face tokenizer folder)
    tokenizer = load_tokenizer(
        train_tokenizer(
            tokens_dir, args.variant, args.num_merges, output_dir=os.path.join(args.work_dir, "tok")
        )
    )
    split = encode_split(tokenizer, tokens, codec.layout.n_scales)
    print(f"3. {tokenizer}: {split.tokens_per_second:.1f} tokens per audio-second")

    # 4. a few LM steps on the files' id sequences
    special = {"bos": tokenizer.bos_token_id, "eos": tokenizer.eos_token_id, "pad": tokenizer.pad_token_id}
    model = build_model(tokenizer.vocab_size, ModelSettings(num_layers=2, hidden_size=64), special)
    window = min(128, len(split.stream()) - 1)
    trained = train_model(model, split.stream(), Budget(args.lm_steps, 4, window))
    model = trained.pop("model")
    print(f"4. trained {args.lm_steps} steps, loss {trained['final_loss']:.2f}")

    # 5. generate audio tokens after <bos> <audio_start> (special tokens suppressed)
    new_tokens = max(8, round(args.seconds * split.tokens_per_second))
    prompt = torch.tensor([[tokenizer.bos_token_id, tokenizer.audio_start_token_id]])
    suppress = [tokenizer.special_ids[t] for t in tokenizer.special_ids]
    with torch.inference_mode():
        out = model.generate(
            prompt,
            do_sample=True,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            suppress_tokens=suppress,
        )
    ids = out[0, prompt.shape[1] :].tolist()
    codes = whole_frames(codec.layout, tokenizer.decode(ids, strict=False))
    print(f"5. generated {len(ids)} tokens -> {len(codes[0])} whole frames of codes")
    if len(codes[0]) == 0:
        print("   no whole frame generated; nothing to decode")
        return 1

    # 6. decode to a wav file at the codec's rate
    audio = codes_to_audio(codec, codes)
    path = write_audio(os.path.join(args.work_dir, "generated.wav"), audio, codec.layout.sampling_rate)
    print(
        f"6. wrote {path} ({len(audio) / codec.layout.sampling_rate:.2f} s, peak {np.abs(audio).max():.2f})"
    )
    if codec.notice:
        print(f"note: {codec.notice}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
