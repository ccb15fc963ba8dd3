"""Keys found valid a moment ago, so that most requests skip the key lookup (a database read
and a trip through the thread pool).

A key revoked through this process is forgotten the moment the revocation commits; the other
server processes (workers) and a revocation from the command line take effect within
API_KEY_CACHE_SECONDS. Unknown and revoked keys are never kept: they are looked up every time.
"""

import threading
import time

from app.auth.actor import Actor


class KeyCache:
    def __init__(self, seconds: int, *, entries: int = 10_000) -> None:
        self.seconds = seconds
        self.entries = entries
        # digest → (actor, time.monotonic() until which it is trusted)
        self._found: dict[str, tuple[Actor, float]] = {}
        self._lock = threading.Lock()
        # Bumped by every revocation: a lookup that began before it isn't kept.
        self.epoch = 0

    def get(self, digest: str) -> Actor | None:
        found = self._found.get(digest)
        if found is None:
            return None
        actor, until = found
        if time.monotonic() >= until:
            self._found.pop(digest, None)
            return None
        return actor

    def put(self, digest: str, actor: Actor, *, epoch: int) -> None:
        """Keep a key found valid by a lookup that began at `epoch`."""
        if self.seconds <= 0:
            return
        with self._lock:
            if epoch != self.epoch:
                return
            if len(self._found) >= self.entries:
                self._found.clear()
            self._found[digest] = (actor, time.monotonic() + self.seconds)

    def forget_all(self) -> None:
        with self._lock:
            self.epoch += 1
            self._found.clear()
