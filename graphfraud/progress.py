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
        self._line_open = False  # a stage line waiting for its time

    @contextmanager
    def stage(self, name: str):
        self.done += 1
        prefix = f"[{self.done}/{self.total}] " if self.total else ""
        self._write(f"{prefix}{name} ...")
        self._line_open = True
        t0 = time.perf_counter()
        try:
            yield self
        except BaseException:
            self._close(" failed\n")
            raise
        dt = time.perf_counter() - t0
        self.timings[name] = dt
        self._close(f" {dt:.1f}s\n")

    def _close(self, text: str) -> None:
        if not self._line_open:
            text = "      done" + text
        self._write(text)
        self._line_open = False

    def note(self, text: str) -> None:
        """A line of detail inside the current stage."""
        if self._line_open:
            self._write("\n")
            self._line_open = False
        self._write(f"      {text}\n")

    def _write(self, text: str) -> None:
        if not self.quiet:
            self.stream.write(text)
            self.stream.flush()
