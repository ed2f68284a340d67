"""The secrets this process knows, and :func:`scrub`, which masks them in any text we show or write.

Why: a provider's error can echo the credential it was sent (proxies, local servers and some
gateways put the ``Authorization`` header or an upstream key in the body), and that text travels on
into error events, frames, reports, sweep files, logs and saved notebook outputs. Keys come in many
shapes (OpenAI ``sk-...``, Azure, a local server's token), so a pattern alone misses most; we mask

* every key given to our components (:func:`register`, called by the OpenAI components),
* the values (8 characters or more) of environment variables named ``*_API_KEY``, ``*_SECRET``,
  ``*_TOKEN`` or ``*_PASSWORD``, read when scrubbing (so a key set later is covered too),
* anything shaped like an OpenAI key (a word starting ``sk-``, then 8 or more key characters).

Example::

    register("my-team-key-123")
    scrub("401: bad key my-team-key-123")      # '401: bad key ***'
"""

from __future__ import annotations

import os
import re
import threading

__all__ = ["register", "scrub"]

MASK = "***"
#: Shorter values are not treated as secrets: masking them would garble ordinary text.
MIN_LENGTH = 8
_ENV_SUFFIXES = ("_API_KEY", "_SECRET", "_TOKEN", "_PASSWORD")
_OPENAI_SHAPE = r"\bsk-[A-Za-z0-9_\-]{8,}"

_known: set[str] = set()
_lock = threading.Lock()


def register(secret: str | None) -> None:
    """Remember ``secret`` (e.g. an API key passed to a component) so :func:`scrub` masks it."""
    if isinstance(secret, str) and len(secret) >= MIN_LENGTH:
        with _lock:
            _known.add(secret)


def scrub(text: str) -> str:
    """``text`` with every known secret and ``sk-...`` key replaced by ``***``."""
    with _lock:
        secrets = set(_known)
    secrets.update(value for name, value in os.environ.items() if ("_" + name.upper()).endswith(_ENV_SUFFIXES) and len(value) >= MIN_LENGTH)
    # Longest first, so a secret that contains another is masked whole.
    alternatives = [re.escape(s) for s in sorted(secrets, key=len, reverse=True)] + [_OPENAI_SHAPE]
    return re.sub("|".join(alternatives), MASK, text)
