"""Which BPE variant serves an audio LM? The whole experiment behind one command, `snac-hf evidence`.

    from snac_hf.evidence.experiment import run_evidence
    from snac_hf.evidence.settings import preset
    report = run_evidence("tokens/", "evidence/", preset("cpu-small"))

Steps (each module one idea): `settings` (the experiment's sizes and its presets; no torch),
`plan` (the tokenizations of the merge curve: a raw row per serialization, every variant at every
budget, `orpheus`, the windowed orders), `splits` (train / held-out by a salted hash of the file
id, or of a column such as the speaker; and held-out voices), `compression` (every variant at
every merge budget, measured on held-out files; no torch), `runs` (one record per finished LM
training: what makes the experiment resumable; each checked against the codes and settings it
rests on, `fingerprint`, before it is reused), `arm` (one split's trainings, loaded from their
records or trained), `verdict` (what the spread over seeds supports; no torch), `learning`
(learning curves: each pair at every checkpoint, at equal training FLOPs, where the sign changes;
the windowed orders' kept gain; no torch), `curve` (each variant's best budget against its raw
codes), `confirm` (the best budget and 0 with more seeds, longer, on held-out voices), `costs`
(tokens, training FLOPs and time per audio-hour, generation speed; no torch), `estimate` (another
preset's FLOPs, priced with a run's token rates; no torch), `report` (evidence.md/.json),
`figures` (evidence.png) and `experiment` (everything in order). The LM itself is `snac_hf.lm`'s.

Import from the modules: this package imports nothing, so `settings` loads without torch.

May import: `snac_hf.lm` (the LM it measures with), `snac_hf.bpe`, `snac_hf.analysis`,
`snac_hf.tokenset`, `snac_hf.layout` (and `snac_hf.codec`/`snac_hf.sources`). Never the CLI.
"""
