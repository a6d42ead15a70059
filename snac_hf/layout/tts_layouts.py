"""The id layouts of the Llama-style SNAC TTS models, as data: one `TtsLayout` per `--format`.

Every layout here writes one training row per audio file in the same five segments

    prompt start   text ids   prompt end   speech ids   row end

with markers and speech ids placed after the text vocabulary of its base model. What differs is
data: where the markers start (`marker_base`: start of speech = base + 1, end of speech + 2,
start of human + 3, end of human + 4, start of AI + 5, end of AI + 6, pad + 7), where speech
starts (`speech_base`: the id of code 0 at frame position 0; position p's codes at
`speech_base + p * 4096`), whether the row carries a BOS (from the text tokenizer or written
explicitly) and an end-of-text id, and how the transcript and the speaker (or voice description)
make the text (`template`). The frame order is Orpheus' (`snac_hf.layout.orpheus`).

Sources (read from upstream, not copied):

- `orpheus`: Canopy Labs' Orpheus-TTS fine-tuning data prep: `[start of human] +
  tokenizer(text).input_ids (Llama 3, BOS 128000 first) + [128009, end of human, start of AI,
  start of speech] + speech + [end of speech, end of AI]`, text `"{speaker}: {text}"` for
  multi-speaker sets.
- `maya1`: maya-research/maya1's model card: prompt `[128259, 128000] +
  encode('<description="{d}"> {text}', add_special_tokens=False) + [128009, 128260, 128261,
  128257]`; generation stops at end of speech (`eos_token_id=128258`), and its decoder reads the
  speech up to 128258. The row ends `[128258, 128262]` as Orpheus' (the card's decoder never reads
  past 128258).
- `veena`: maya-research/veena's card: `[128259] + encode(f"<spk_{speaker}> {text}",
  add_special_tokens=False) + [128260, 128261, 128257]`, no BOS, no 128009; generation stops at
  128258 or 128262.
- `vyvo_lfm2`: Vyvo-Labs/VyvoTTS, LFM2 config: `TOKENIZER_LENGTH` 64,400, `START_OF_TEXT` 1,
  `END_OF_TEXT` 7, markers at +1..+7, `AUDIO_TOKENS_START` +10; rows `[start of human] +
  tokenizer.encode(text, add_special_tokens=True) + [7, end of human, start of AI, start of
  speech] + speech + [end of speech, end of AI]`, text `"{source}: {text}"` for multi-speaker.

Needs nothing but the standard library and numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snac_hf.layout.orpheus import FRAME_CODES

CODEBOOK_SIZE = 4096


@dataclass(frozen=True)
class TtsLayout:
    """One SNAC TTS id layout (module docstring). `text_vocab_size`: the base model's text ids
    end here (Llama 3: 128,256; LFM2: 64,400); `marker_base`: start of speech is `marker_base + 1`;
    `speech_base`: the id of code 0 at frame position 0; `bos`: the BOS the row starts its text
    with (None: none); `bos_from_tokenizer`: the text tokenizer puts it (`add_special_tokens=True`)
    rather than the layout writing it; `end_of_text`: the id after the text (None: none);
    `template` / `speaker_template`: the text without / with a speaker (None: a speaker is
    required); `speaker_means`: what the speaker column holds for this layout."""

    name: str
    text_vocab_size: int
    marker_base: int
    speech_base: int
    bos: int | None
    bos_from_tokenizer: bool
    end_of_text: int | None
    template: str | None
    speaker_template: str
    speaker_means: str
    source: str

    @property
    def start_of_speech(self) -> int:
        return self.marker_base + 1

    @property
    def end_of_speech(self) -> int:
        return self.marker_base + 2

    @property
    def start_of_human(self) -> int:
        return self.marker_base + 3

    @property
    def end_of_human(self) -> int:
        return self.marker_base + 4

    @property
    def start_of_ai(self) -> int:
        return self.marker_base + 5

    @property
    def end_of_ai(self) -> int:
        return self.marker_base + 6

    @property
    def pad(self) -> int:
        return self.marker_base + 7

    @property
    def speech_end(self) -> int:
        """One past the largest speech id."""
        return self.speech_base + FRAME_CODES * CODEBOOK_SIZE

    @property
    def prompt_start(self) -> tuple[int, ...]:
        """Ids before the text ids: start of human, and the BOS where the layout writes it."""
        explicit_bos = (self.bos,) if self.bos is not None and not self.bos_from_tokenizer else ()
        return (self.start_of_human, *explicit_bos)

    @property
    def prompt_end(self) -> tuple[int, ...]:
        """Ids between the text and the speech."""
        eot = (self.end_of_text,) if self.end_of_text is not None else ()
        return (*eot, self.end_of_human, self.start_of_ai, self.start_of_speech)

    @property
    def row_end(self) -> tuple[int, ...]:
        return (self.end_of_speech, self.end_of_ai)

    @property
    def marker_ids(self) -> int:
        """Ids a row holds besides its text and speech ids."""
        return len(self.prompt_start) + len(self.prompt_end) + len(self.row_end)

    @property
    def position_offsets(self) -> np.ndarray:
        """The id offset of each frame position (int64)."""
        return self.speech_base + CODEBOOK_SIZE * np.arange(FRAME_CODES, dtype=np.int64)

    def prompt_text(self, text: str, speaker: str | None) -> str:
        """The text the tokenizer reads: `speaker_template` with a non-empty speaker, else `template`
        (a ValueError when the layout needs a speaker)."""
        if speaker is not None and str(speaker).strip():
            return self.speaker_template.format(speaker=speaker, text=text)
        if self.template is None:
            raise ValueError(f"--format {self.name} needs a {self.speaker_means} for every row")
        return self.template.format(text=text)


def _llama(name: str, **fields) -> TtsLayout:
    """A layout on Llama 3's ids: text below 128,256, markers from 128,256, speech from 128,266."""
    return TtsLayout(name=name, text_vocab_size=128_256, marker_base=128_256, speech_base=128_266, **fields)


ORPHEUS = _llama(
    "orpheus",
    bos=128_000,
    bos_from_tokenizer=True,
    end_of_text=128_009,
    template="{text}",
    speaker_template="{speaker}: {text}",
    speaker_means="speaker",
    source="canopyai/Orpheus-TTS finetune/ data prep (and Unsloth's Orpheus notebook)",
)
MAYA1 = _llama(
    "maya1",
    bos=128_000,
    bos_from_tokenizer=False,
    end_of_text=128_009,
    template=None,
    speaker_template='<description="{speaker}"> {text}',
    speaker_means="voice description",
    source="maya-research/maya1 model card (build_prompt, eos_token_id 128258)",
)
VEENA = _llama(
    "veena",
    bos=None,
    bos_from_tokenizer=False,
    end_of_text=None,
    template=None,
    speaker_template="<spk_{speaker}> {text}",
    speaker_means="speaker name",
    source="maya-research/veena model card (prompt tokens, eos 128258/128262)",
)
VYVO_LFM2 = TtsLayout(
    name="vyvo_lfm2",
    text_vocab_size=64_400,
    marker_base=64_400,
    speech_base=64_410,
    bos=1,
    bos_from_tokenizer=True,
    end_of_text=7,
    template="{text}",
    speaker_template="{speaker}: {text}",
    speaker_means="speaker",
    source="Vyvo-Labs/VyvoTTS LFM2 config and audio_tokenizer.py",
)

#: Every layout, by its `--format` name.
TTS_LAYOUTS: dict[str, TtsLayout] = {layout.name: layout for layout in (ORPHEUS, MAYA1, VEENA, VYVO_LFM2)}


def tts_layout(name: str) -> TtsLayout:
    """The layout named `name`, or a ValueError listing the names."""
    if name not in TTS_LAYOUTS:
        raise ValueError(f"--format {name}: no such layout; choose one of {', '.join(TTS_LAYOUTS)}")
    return TTS_LAYOUTS[name]
