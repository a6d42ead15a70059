"""BPE over SNAC codes: six variants trained with `tokenizers`, saved as Hugging Face tokenizers.

    from snac_hf.bpe import train_tokenizer, load_tokenizer, VARIANTS
    folder = train_tokenizer("tokens/", variant="rl", num_merges=8000, output_dir="tok/")
    tok = load_tokenizer(folder)
    ids = tok.encode(codes_per_scale)        # list of 1-D int arrays, coarsest scale first
    codes = tok.decode(ids)                  # exact inverse

Modules: `alphabet` (symbols), `codes` (input checks), `variant` (the common base) and one module
per variant (`plain`, `thresholded`, `rl`, `cross_scale`, `hierarchical`, `rl_cross_scale`),
`corpus` (reading token sets), `training`, `tokenizer` (the saved-tokenizer API), `compare`.
No torch anywhere: a downloaded token set is merged without it.
"""

from snac_hf.bpe.alphabet import SPECIAL_TOKENS, SymbolAlphabet
from snac_hf.bpe.tokenizer import AudioTokenizer, add_input_ids, load_tokenizer
from snac_hf.bpe.training import train_tokenizer
from snac_hf.bpe.variants import VARIANTS, make_variant

__all__ = [
    "SPECIAL_TOKENS",
    "VARIANTS",
    "AudioTokenizer",
    "SymbolAlphabet",
    "add_input_ids",
    "load_tokenizer",
    "make_variant",
    "train_tokenizer",
]
