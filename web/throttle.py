"""Login rate limiting: after too many failures for one account or from one address within
a window, further attempts are refused until the window has passed."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class LoginThrottle:
    """Counts failed logins per key (``user:NAME``, ``addr:IP``) in a sliding window."""

    def __init__(
        self,
        attempts: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.attempts = attempts
        self.window = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def retry_after(self, *keys: str) -> float:
        """Seconds until any of ``keys`` may try again; 0 when all may try now."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                failures = self._recent(key, now)
                if len(failures) >= self.attempts:
                    wait = max(wait, failures[0] + self.window - now)
        return wait

    def failed(self, *keys: str) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
