"""Stage lines on stderr for long steps, so a user sees what a 60-second run is doing."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

__all__ = ["Progress"]


class Progress:
    """Prints ``[i/n] stage ... 1.2s`` lines; ``Progress(quiet=True)`` prints nothing.

    Examples
    --------
    >>> p = Progress(total=1, quiet=True)
    >>> with p.stage("counting"):
    ...     pass
    >>> p.timings["counting"] >= 0
    True
    """

    def __init__(self, total: int | None = None, quiet: bool = False, stream=None):
        self.total, self.quiet = total, quiet
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        self.done += 1
        prefix = f"[{self.done}/{self.total}] " if self.total else ""
        self._write(f"{prefix}{name} ...")
        t0 = time.perf_counter()
        try:
            yield self
        except BaseException:
            self._write(" failed\n")
            raise
        dt = time.perf_counter() - t0
        self.timings[name] = dt
        self._write(f" {dt:.1f}s\n")

    def note(self, text: str) -> None:
        self._write(f"      {text}\n")

    def _write(self, text: str) -> None:
        if not self.quiet:
            self.stream.write(text)
            self.stream.flush()
