"""A content-addressed cache for audio analyses (VAD tracks, later STT words and turn probabilities).

Theory of operation
-------------------
Analysing audio is the expensive step of a simulation; replaying the result is cheap. So every
analysis is stored under a :class:`CacheKey`: the content hash of the audio, the kind of analysis,
the backend and its settings as a stable string. The same recording analysed with the same settings
is a hit whatever its file name; any change of content or settings is a different key, so stale
results cannot be served.

Values are JSON-able dicts (arrays travel as base64 strings inside them). Each entry is kept as its
JSON text: that is an immutable snapshot (a caller mutating a returned dict cannot change the cache),
and its length is the entry's exact size for the ``max_bytes`` limit. The in-memory store is an LRU
bounded both by entry count and by bytes; an entry larger than ``max_bytes`` by itself is not kept
in memory.

With a ``directory``, every entry is also written to ``<directory>/<sha256 of key>.json`` (temporary
file in the same folder, then ``os.replace``: readers never see half a file, and concurrent writers
of the same key both leave a complete one). A memory miss then looks on disk. A disk entry that does
not parse, or that belongs to another key, is ignored and counts as a miss: the caller recomputes and
the next ``put`` overwrites it. The disk store has no size limit; delete the folder to clear it.

The cache is thread-safe (sweeps may analyse from several threads). :func:`default_cache` is the
process-wide in-memory cache that ``analyze_vad`` uses unless told otherwise.

Example::

    cache = AnalysisCache("~/.cache/agentlab")          # memory + disk
    analyze_vad("call.wav", cache=cache)                # computed
    analyze_vad("call.wav", cache=cache)                # served from memory
    cache.stats                                         # CacheStats(hits=1, misses=1, ...)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .._frozen import frozen

__all__ = ["AnalysisCache", "CacheKey", "CacheStats", "default_cache"]


@frozen
class CacheKey:
    """What identifies one analysis: content hash, kind, backend and a stable settings string.

    Example::

        CacheKey("audio-sha256:9f2c...", "vad-segments", "silero", '{"activation_threshold": 0.5, ...}')
    """

    content: str
    kind: str
    backend: str
    settings: str

    @property
    def digest(self) -> str:
        """Hex SHA-256 of the four parts (the on-disk file name)."""
        joined = "\x1f".join((self.content, self.kind, self.backend, self.settings))
        return hashlib.sha256(joined.encode()).hexdigest()


@frozen
class CacheStats:
    """Counters of a cache: ``hits`` and ``misses`` of :meth:`AnalysisCache.get` (``disk_hits`` is the
    part of ``hits`` read from disk), ``entries`` and ``bytes`` held in memory, ``evictions`` from memory."""

    hits: int
    misses: int
    entries: int
    bytes: int
    disk_hits: int = 0
    evictions: int = 0


class AnalysisCache:
    """In-memory LRU (bounded by ``max_entries`` and ``max_bytes``) plus an optional on-disk store.

    Example::

        cache = AnalysisCache(max_entries=100, max_bytes=32 * 2**20)
        key = CacheKey("audio-sha256:abc", "vad-segments", "silero", "defaults")
        cache.get(key)                       # None (a miss)
        cache.put(key, {"segments": []})
        cache.get(key)                       # {'segments': []} (a hit)
    """

    def __init__(self, directory: str | os.PathLike | None = None, *, max_entries: int = 1024, max_bytes: int = 256 * 2**20) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 0:
            raise ValueError(f"AnalysisCache: max_entries must be an integer >= 0, got {max_entries!r}")
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
            raise ValueError(f"AnalysisCache: max_bytes must be an integer >= 0, got {max_bytes!r}")
        self.directory = Path(directory).expanduser() if directory is not None else None
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._mem: OrderedDict[str, str] = OrderedDict()  # digest -> JSON text, least recently used first
        self._bytes = 0
        self._hits = self._misses = self._disk_hits = self._evictions = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        where = f"directory={str(self.directory)!r}, " if self.directory else ""
        return f"AnalysisCache({where}max_entries={self.max_entries}, max_bytes={self.max_bytes})"

    def __len__(self) -> int:
        return len(self._mem)

    def __contains__(self, key: CacheKey) -> bool:
        """True if ``key`` is in memory or on disk (does not count as a hit or miss)."""
        with self._lock:
            if key.digest in self._mem:
                return True
        return self._read_disk(key) is not None

    @property
    def stats(self) -> CacheStats:
        """Current counters (a snapshot)."""
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._mem), self._bytes, self._disk_hits, self._evictions)

    def get(self, key: CacheKey) -> dict[str, Any] | None:
        """The stored value (a fresh dict) or None; a disk hit is promoted to memory."""
        digest = key.digest
        with self._lock:
            text = self._mem.get(digest)
            if text is not None:
                self._mem.move_to_end(digest)
                self._hits += 1
                return json.loads(text)
        text = self._read_disk(key)
        with self._lock:
            if text is None:
                self._misses += 1
                return None
            self._hits += 1
            self._disk_hits += 1
            self._remember(digest, text)
        return json.loads(text)

    def put(self, key: CacheKey, value: dict[str, Any]) -> None:
        """Store ``value`` (a JSON-able dict) in memory and, with a directory, on disk."""
        if not isinstance(value, dict):
            raise TypeError(f"AnalysisCache.put: value must be a dict, got {type(value).__name__}")
        text = json.dumps(value, separators=(",", ":"), allow_nan=True)
        with self._lock:
            self._remember(key.digest, text)
        if self.directory is not None:
            entry = json.dumps({"key": asdict(key), "value": value}, separators=(",", ":"))
            self._write_disk(key.digest, entry)

    def clear(self, *, disk: bool = False) -> None:
        """Empty the memory store and reset the counters; ``disk=True`` also deletes the disk entries."""
        with self._lock:
            self._mem.clear()
            self._bytes = 0
            self._hits = self._misses = self._disk_hits = self._evictions = 0
        if disk and self.directory is not None:
            for p in self.directory.glob("*.json"):
                with contextlib.suppress(OSError):
                    p.unlink()

    # -- internals --------------------------------------------------------------------------------
    def _remember(self, digest: str, text: str) -> None:
        """Insert into the LRU and evict down to the limits (caller holds the lock)."""
        old = self._mem.pop(digest, None)
        if old is not None:
            self._bytes -= len(old)
        size = len(text)
        if size > self.max_bytes or self.max_entries == 0:
            return  # too big to keep in memory at all (it may still be on disk)
        self._mem[digest] = text
        self._bytes += size
        while len(self._mem) > self.max_entries or self._bytes > self.max_bytes:
            _, evicted = self._mem.popitem(last=False)
            self._bytes -= len(evicted)
            self._evictions += 1

    def _path(self, digest: str) -> Path:
        assert self.directory is not None
        return self.directory / f"{digest}.json"

    def _read_disk(self, key: CacheKey) -> str | None:
        """The entry's JSON text if a valid entry for exactly this key is on disk, else None."""
        if self.directory is None:
            return None
        try:
            raw = self._path(key.digest).read_text(encoding="utf-8")
            entry = json.loads(raw)
            if not isinstance(entry, dict) or entry.get("key") != asdict(key) or not isinstance(entry.get("value"), dict):
                return None  # truncated, foreign or from an incompatible version: recompute
            return json.dumps(entry["value"], separators=(",", ":"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            return None

    def _write_disk(self, digest: str, text: str) -> None:
        assert self.directory is not None
        try:
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{digest[:16]}.", suffix=".tmp")
        except OSError:
            return  # a read-only or vanished folder must not break the analysis; memory still holds it
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, self._path(digest))
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


_default: AnalysisCache | None = None
_default_lock = threading.Lock()


def default_cache() -> AnalysisCache:
    """The process-wide in-memory cache (created on first use) that analyses use by default.

    Example::

        default_cache().stats
        default_cache().clear()
    """
    global _default
    with _default_lock:
        if _default is None:
            _default = AnalysisCache()
        return _default
