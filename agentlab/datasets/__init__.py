"""Labelled turn datasets: load, check, inspect, import and save (format: ``datasets/README.md``).

A dataset is a folder: ``manifest.json``, one ``<id>.json`` of labels per conversation, and the
user channel's audio (``<id>.flac``) when there is any. :func:`load` reads one (a folder, or the
name of a bundled dataset, see :func:`list`) and checks every rule of the format, reporting all
problems at once in a :class:`DatasetError`. :func:`import_rttm` and :func:`import_csv` turn your
own calls into a dataset; :meth:`Dataset.save` writes one.

Example::

    import agentlab.datasets as ds

    ds.list()                                   # bundled datasets
    data = ds.load("dictation")
    data.frame().groupby("kind")["duration"].describe()
    run = ds.simulate_conversation(data[0], make_agent, {"llm": llm})
"""

from .convert import aligned_stt, simulate_conversation, user_speech, utterances
from .importers import LabelRules, import_csv, import_rttm
from .io import FRAME_COLUMNS, Dataset, DatasetError, Problem, datasets_root, load
from .io import list_datasets as list
from .model import (
    HOLD_MIN_SILENCE,
    SPAN_KINDS,
    AgentSpeech,
    Conversation,
    ExpectedToolCall,
    Overlap,
    Span,
    Turn,
    Word,
)

__all__ = [
    "FRAME_COLUMNS",
    "HOLD_MIN_SILENCE",
    "SPAN_KINDS",
    "AgentSpeech",
    "Conversation",
    "Dataset",
    "DatasetError",
    "ExpectedToolCall",
    "LabelRules",
    "Overlap",
    "Problem",
    "Span",
    "Turn",
    "Word",
    "aligned_stt",
    "datasets_root",
    "import_csv",
    "import_rttm",
    "list",
    "load",
    "simulate_conversation",
    "user_speech",
    "utterances",
]
