"""Does a language model model audio better or cheaper with BPE? Measured in bits per audio-second.

    from snac_hf.lm.experiment import evaluate_tokenizations
    from snac_hf.lm.settings import EvaluationSettings
    report = evaluate_tokenizations("tokens/", ["plain", "rl"], [2000], EvaluationSettings(), "lm_eval/")

Import from the modules (this package imports nothing, so `settings` loads without torch).

Modules: `settings` (the flags' dataclasses), `model` (the small Llama causal LM and its
parameter counts), `sequences` (token set -> train/held-out id sequences per tokenization, tokens
per audio-second), `orpheus_tokens` (the Orpheus layout as a tokenization: one id per frame position
and code, no merges), `train` (the training loop under a budget), `measure` (held-out bits per
audio-second, generation speed), `references` (uniform and unigram levels, no LM), `report`
(markdown, JSON, plot), `experiment` (everything for a list of variants). Needs torch and transformers.

May import: `snac_hf.bpe`, `snac_hf.analysis`, `snac_hf.tokenset`, `snac_hf.layout` (and
`snac_hf.codec`/`snac_hf.sources`, below it). Never the CLI.
"""
