"""What a running link tells its user: one live status line on a terminal,
plain lines otherwise (a log file, a pipe, a test reading stdout)."""

from __future__ import annotations

import sys
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty()
        self.quiet = quiet
        self._pending_line = False

    def step(self, text: str) -> None:
        """A step on the way up ("Dialing 5551234", "LCP up"): replaces the live line."""
        if self.quiet:
            return
        if self.live:
            self.stream.write(f"\r\x1b[K{text}")
            self._pending_line = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        """A line that stays (the link is up, why it ended)."""
        if self.quiet:
            return
        if self._pending_line:
            self.stream.write("\r\x1b[K")
            self._pending_line = False
        self.stream.write(text + "\n")
        self.stream.flush()
