"""The text tokenizer of an export: a local folder or a Hub id, loaded with `AutoTokenizer`.

Orpheus reads text through Llama 3's tokenizer (`meta-llama/Llama-3.2-3B-Instruct`, or the copy in
an Orpheus checkpoint); any tokenizer whose ids stay below 128256 works with the layout (the ids
above are Orpheus' own). A local folder is what `save_pretrained` writes; a Hub id is asked for
once (`snac_hf.tokenset.hub.unreachable_reason`, seconds) and read from the local Hugging Face cache
when the Hub cannot be reached. Whatever fails is one line saying what to pass instead; a
tokenizer that cannot be read never starts an export. `AutoTokenizer` is imported only here and
only when called: it imports torch where torch is installed.

No folder's own code runs: a local folder whose `tokenizer_config.json` or `config.json` has an
`auto_map` (a tokenizer class in the folder's Python files) is refused before transformers sees it,
and every load passes `trust_remote_code=False`, so transformers refuses custom code of a Hub
repository instead of asking on the terminal whether to run it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from transformers import PreTrainedTokenizerBase

from snac_hf.layout.tts_layouts import TtsLayout
from snac_hf.tokenset.card import public_name
from snac_hf.tokenset.hub import HubUnreachableError, is_repo_id, unreachable_reason


def load_text_tokenizer(name: str) -> PreTrainedTokenizerBase:
    """`AutoTokenizer.from_pretrained(name)` for a local folder or a Hub id, or a one-line error
    (`ValueError` for a folder it cannot read, `FileNotFoundError` for a path that is not there,
    `HubUnreachableError` for a Hub id neither reachable nor cached)."""
    if os.path.isdir(name):
        return _from_folder(name)
    if os.path.exists(name):
        raise ValueError(
            f"--text_tokenizer {name} is a file; give a tokenizer folder (save_pretrained) or a Hub id"
        )
    if not is_repo_id(name) or name.startswith((".", "/", "~")):
        raise FileNotFoundError(f"--text_tokenizer {name}: no such folder, and not a Hub repository id")
    return _from_hub(name)


def check_no_custom_code(folder: str) -> None:
    """A ValueError when the folder's tokenizer_config.json or config.json names its own code
    (`auto_map`): snac_hf never runs a folder's Python."""
    for name in ("tokenizer_config.json", "config.json"):
        try:
            config = json.loads(Path(folder, name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # missing or damaged: AutoTokenizer's error says so
        if isinstance(config, dict) and config.get("auto_map"):
            raise ValueError(
                f"--text_tokenizer {folder}: its {name} names custom code (auto_map "
                f"{json.dumps(config['auto_map'])[:80]}), which snac_hf never runs; give a tokenizer folder "
                "that transformers reads on its own (no auto_map)"
            )


def _from_folder(folder: str) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    check_no_custom_code(folder)
    try:
        return AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    except Exception as error:  # whatever a damaged or foreign folder makes transformers raise: one line
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ValueError(
            f"--text_tokenizer {folder}: not a readable tokenizer folder ({type(error).__name__}: {first}); "
            "give the folder `tokenizer.save_pretrained(DIR)` writes (tokenizer.json, tokenizer_config.json)"
        ) from None


def _from_hub(repo_id: str) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    reason = unreachable_reason(repo_id, "model", "tokenizer_config.json")
    try:
        return AutoTokenizer.from_pretrained(
            repo_id, local_files_only=reason is not None, trust_remote_code=False
        )
    except Exception as error:  # offline and not cached, unknown or gated repository
        why = f"{reason}; not in the local Hub cache either" if reason else f"{type(error).__name__}: {error}"
        why = why.strip().splitlines()[0]
        raise HubUnreachableError(
            f"--text_tokenizer {repo_id}: could not load the tokenizer from the Hugging Face Hub ({why}). "
            f"Download it where the Hub is reachable (`hf download {repo_id} --local-dir DIR`) and pass "
            "--text_tokenizer DIR"
        ) from None


def describe_tokenizer(name: str, tokenizer: PreTrainedTokenizerBase) -> str:
    """How the card names the tokenizer: a Hub id as it is, a local folder by its name (no path),
    with its class and size: `tok (local folder; TokenizersBackend, 400 ids)`."""
    what = f"{type(tokenizer).__name__}, {len(tokenizer):,} ids"
    shown = public_name(name)
    return f"{shown[:-1]}; {what})" if shown.endswith(" (local folder)") else f"{shown} ({what})"


def text_tokenizer_problem(tokenizer: PreTrainedTokenizerBase, layout: TtsLayout) -> str | None:
    """What makes `tokenizer` another text tokenizer than the one `layout`'s base model reads, or
    None when it is that one (issue #31: a tokenizer whose BOS is 0 wrote rows a model misreads).

    Checked: the text vocabulary reaches `layout.text_vocab_size` ids and no further (`len` at least
    that, the base vocabulary at most that: Llama 3's 128,256, or an Orpheus checkpoint's copy with
    its own tokens added above); the BOS (`bos_from_tokenizer`: the tokenizer puts it first; else the
    layout writes it, and it must be the tokenizer's BOS); the end-of-text id, a special token of the
    tokenizer."""
    size, base = len(tokenizer), tokenizer.vocab_size
    if not base <= layout.text_vocab_size <= size:
        return f"it has {size:,} ids, and {layout.name} needs a text vocabulary of {layout.text_vocab_size:,}"
    if layout.bos is not None:
        if layout.bos_from_tokenizer:
            first = tokenizer("a", add_special_tokens=True)["input_ids"][:1]
            if first != [layout.bos]:
                return f"it starts a text with {first[0] if first else 'nothing'}, not the BOS {layout.bos}"
        elif tokenizer.bos_token_id != layout.bos:
            return f"its BOS is {tokenizer.bos_token_id}, not {layout.bos}"
    if layout.end_of_text is not None and layout.end_of_text not in tokenizer.added_tokens_decoder:
        return f"id {layout.end_of_text} (end of text) is not one of its special tokens"
    return None


def check_text_tokenizer(
    name: str, tokenizer: PreTrainedTokenizerBase, layout: TtsLayout, accept: bool
) -> str:
    """'passed', or with `accept` 'accepted with --text_tokenizer_ok: <problem>' (what the card
    records); a ValueError naming the problem otherwise."""
    problem = text_tokenizer_problem(tokenizer, layout)
    if problem is None:
        return "passed"
    if accept:
        return f"accepted with --text_tokenizer_ok: {problem}"
    raise ValueError(
        f"--text_tokenizer {public_name(name)}: not the text tokenizer --format {layout.name} reads: "
        f"{problem}; "
        "pass the base model's tokenizer, or --text_tokenizer_ok to write the rows anyway (the card says so)"
    )
