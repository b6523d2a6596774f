"""A block of lines redrawn in place at the foot of a terminal, with everything else written above it.

pytest's terminal writer keeps writing (xdist's dots, its `[gw0] ...` lines) while the live lines
change, so the block cannot simply be reprinted: `TerminalBlock` stands in for the file the writer
writes to. Before any write it erases the block, writes, and draws the block again below, so the
dots keep their line and the block is on screen once. Each line is cut to the terminal's width, so
it takes one row and erasing can count rows. Only ANSI cursor moves that every terminal pytest
colours for understands are used: up, forward, erase to the end of the screen. Where output is
not a terminal, `PlainLines` takes the same calls and appends each update as lines instead.
"""
from __future__ import annotations

import os
import re
import shutil
import threading

_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def visible_width(text: str) -> int:
    """Columns `text` takes on a terminal: its characters without the colour sequences."""
    return len(_ESCAPE.sub("", text))


class _Wrapper:
    """What both outputs pass through to the file they wrap."""

    file = None

    def flush(self) -> None:
        self.file.flush()

    def __getattr__(self, name):  # isatty, fileno, encoding ... of the file itself
        return getattr(self.file, name)


class TerminalBlock(_Wrapper):
    """A file-like wrapper of a terminal whose last rows are the block (`update`), other writes above it."""

    def __init__(self, file, width: int | None = None):
        self.file, self._width = file, width
        self._lines: list[str] = []
        self._shown = 0      # rows of the block on screen
        self._open = 0       # columns of the line other output left open (xdist's dots), 0 if none
        self._lock = threading.RLock()   # the display's timer thread and pytest's main thread both write

    def width(self) -> int:
        """Columns of this terminal (not of whatever file descriptor 1 is while pytest captures a test)."""
        if self._width:
            return self._width
        try:
            return os.get_terminal_size(self.file.fileno()).columns
        except (AttributeError, OSError, ValueError):
            return shutil.get_terminal_size().columns

    def write(self, text: str) -> int:
        """Other output: erase the block, write, draw the block again below."""
        with self._lock:
            self._erase()
            self.file.write(text)
            _, newline, tail = text.rpartition("\n")
            self._open = visible_width(tail) + (0 if newline else self._open)
            self._draw()
        return len(text)

    def update(self, lines: list[str]) -> None:
        """Replace the block's lines in place."""
        with self._lock:
            self._erase()
            self._lines = list(lines)
            self._draw()
            self.file.flush()

    def close(self) -> None:
        """Erase the block; later writes go straight through."""
        self.update([])

    def _draw(self) -> None:
        if not self._lines:
            return
        cut = max(1, self.width() - 1)  # never the last column: a full row leaves the cursor waiting to wrap
        rows = [line if visible_width(line) <= cut else line[:cut] for line in self._lines]
        self.file.write(("\n" if self._open else "") + "\n".join(rows))
        self._shown = len(rows)

    def _erase(self) -> None:
        """Back to where other output left off (after the open line's last column), then clear below."""
        if not self._shown:
            return
        moves = "\r" + (f"\x1b[{self._shown - 1}A" if self._shown > 1 else "")
        if self._open:
            moves += "\x1b[1A" + f"\x1b[{self._open}C"
        self.file.write(moves + "\x1b[J")
        self._shown = 0


class PlainLines(_Wrapper):
    """The same interface where nothing can be redrawn (CI, `| tee`): each update is appended as lines."""

    def __init__(self, file):
        self.file = file
        self._open = False   # other output left its line open (xdist's dots)
        self._lock = threading.RLock()

    def write(self, text: str) -> int:
        with self._lock:
            self.file.write(text)
            if text:
                self._open = not text.endswith("\n")
        return len(text)

    def update(self, lines: list[str]) -> None:
        if not lines:
            return
        with self._lock:
            self.file.write(("\n" if self._open else "") + "".join(line + "\n" for line in lines))
            self._open = False
            self.file.flush()

    def close(self) -> None:
        self.file.flush()


__all__ = ["PlainLines", "TerminalBlock", "visible_width"]
