"""The live block on a terminal: what a real terminal emulator (pyte) shows after pytest's writer and the block interleave."""
from __future__ import annotations

import pyte
from _pytest._io.terminalwriter import TerminalWriter

from exaone_bench.suite.terminal_block import TerminalBlock, visible_width


class Screen:
    """A terminal of `columns` x `rows`: what is written to it is rendered by pyte."""

    def __init__(self, columns: int = 60, rows: int = 12):
        self.screen = pyte.Screen(columns, rows)
        self.stream = pyte.Stream(self.screen)
        self.raw = ""

    def write(self, text: str) -> int:
        self.raw += text
        self.stream.feed(text.replace("\n", "\r\n"))  # the tty's line discipline (onlcr) returns the carriage
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True

    def rows(self) -> list[str]:
        lines = [row.rstrip() for row in self.screen.display]
        while lines and not lines[-1]:
            lines.pop()
        return lines


def _writer(block: TerminalBlock) -> TerminalWriter:
    tw = TerminalWriter(block)
    tw.hasmarkup = True  # green dots, as on a colour terminal: their escape sequences take no columns
    return tw


def test_dots_keep_their_line_and_the_block_is_redrawn_below_it():
    term = Screen()
    block = TerminalBlock(term, width=60)
    tw = _writer(block)
    tw.line("2 workers [3 items]")
    tw.write(".", green=True)
    block.update(["[exaone-bench] gw0: drop_layers[last1] step 3/6", "[exaone-bench] run: 1/3 items done"])
    assert term.rows() == ["2 workers [3 items]", ".", "[exaone-bench] gw0: drop_layers[last1] step 3/6",
                           "[exaone-bench] run: 1/3 items done"]
    tw.write(".", green=True)   # a dot while the block is up lands after the first, the block moves below
    block.update(["[exaone-bench] run: 2/3 items done"])  # fewer lines: the old second line is gone
    assert term.rows() == ["2 workers [3 items]", "..", "[exaone-bench] run: 2/3 items done"]
    tw.write(".", green=True)
    tw.write(" [100%]", cyan=True)
    tw.line()
    block.close()
    tw.line("3 passed")
    assert term.rows() == ["2 workers [3 items]", "... [100%]", "3 passed"]


def test_lines_wider_than_the_terminal_take_one_row():
    term = Screen(columns=30)
    block = TerminalBlock(term, width=30)
    block.update(["x" * 80, "y" * 10])
    assert term.rows() == ["x" * 29, "y" * 10]
    block.write("done\n")
    block.update(["z"])
    assert term.rows() == ["done", "z"]


def test_a_rewritten_line_and_many_writes_leave_one_block():
    """xdist's start-up rewrites its line with a carriage return; the block stays below it once."""
    term = Screen()
    block = TerminalBlock(term, width=60)
    tw = _writer(block)
    block.update(["[exaone-bench] run: 0/2 items done"])
    tw.write("\rinitialized: 1/2 workers")
    tw.write("\rinitialized: 2/2 workers")
    tw.line()
    for _ in range(2):
        tw.write(".", green=True)
        block.update(["[exaone-bench] run: tick"])
    assert term.rows() == ["initialized: 2/2 workers", "..", "[exaone-bench] run: tick"]
    assert visible_width("\x1b[32m..\x1b[0m") == 2
