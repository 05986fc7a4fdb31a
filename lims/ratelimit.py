"""A per-process rate-limit store for Flask-Limiter: ``RATELIMIT_STORAGE_URI = "lims-memory://"``.

``limits``' own ``memory://`` store expires its counters with a ``threading.Timer`` that it starts again, 10 ms after
the last one ended, whenever a counter moves: under load that is a thread started for every other request or so,
and starting a thread waits until the new thread runs (milliseconds on a busy machine). This store keeps fixed-window
counters in a dict instead, drops a counter when its window has passed, and sweeps the expired ones inline at most
once a second. Like ``memory://`` it counts per process: with several workers or servers, use a shared store
(``redis://…``), as ``lims.public.views`` explains.

Only the fixed-window strategy (Flask-Limiter's default) is supported.
"""

from __future__ import annotations

import threading
import time

from limits.storage import Storage


class ProcessStorage(Storage):
    """Fixed-window counters of this process, without a background thread."""

    STORAGE_SCHEME = ["lims-memory"]
    SWEEP_INTERVAL_S = 1.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str):
        self._counters: dict[str, list[float]] = {}  # key -> [count, window end (time.time())]
        self._lock = threading.Lock()
        self._next_sweep = 0.0
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(now)
            entry = self._counters.get(key)
            if entry is None or entry[1] <= now:
                entry = self._counters[key] = [0, now + expiry]
            entry[0] += amount
            return int(entry[0])

    def get(self, key: str) -> int:
        entry = self._counters.get(key)
        return int(entry[0]) if entry is not None and entry[1] > time.time() else 0

    def get_expiry(self, key: str) -> float:
        entry = self._counters.get(key)
        return entry[1] if entry is not None else time.time()

    def clear(self, key: str) -> None:
        with self._lock:
            self._counters.pop(key, None)

    def check(self) -> bool:
        return True

    def reset(self) -> int:
        with self._lock:
            count = len(self._counters)
            self._counters.clear()
            return count

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + self.SWEEP_INTERVAL_S
        for key in [key for key, (_count, end) in self._counters.items() if end <= now]:
            del self._counters[key]
