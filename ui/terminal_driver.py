"""Textual's Linux terminal driver, with an `esc` that arrives when its delay is over.

A lone `esc` may start an escape sequence (an arrow key is `esc [ A`), so the terminal
parser waits ESCAPE_DELAY for more before it calls it the escape key. Textual's input thread
only asks the parser again when its `select` wakes up, every 100 ms, so a pending `esc` waited
up to 100 ms more on top of any delay: in the operator's story bench every `esc` (back,
cancel, clear: 10 of its 33 keys) reached the App 105-125 ms after tmux sent it, other keys
within 5 ms. This driver's input thread sleeps only until the parser's own deadline while a
sequence is pending; with the console's 25 ms delay (ui/factory.py) `esc` arrives in ~25 ms.

`run_input_thread` is Textual 8.2's (pinned in pyproject.toml) but for the `select` timeout;
tests/unit/test_terminal_driver.py runs it over a real pseudo-terminal.
"""

from __future__ import annotations

import os
import selectors
from codecs import getincrementaldecoder

from textual._loop import loop_last
from textual._parser import ParseError
from textual._time import get_time
from textual._xterm_parser import XTermParser
from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver

# Nothing pending: how often the thread wakes to see whether the App is exiting (Textual's).
IDLE_WAKE_S = 0.1
# At exit: how long the last read waits for input already on its way (Textual's).
FINAL_READ_S = 0.1


def wake_after(parser: XTermParser) -> float:
    """How long the input thread may sleep: until the parser's pending deadline, if any."""
    deadline = parser._timeout_time
    if deadline is None:
        return IDLE_WAKE_S
    return min(IDLE_WAKE_S, max(0.0, deadline - get_time()))


class PromptEscapeDriver(LinuxDriver):
    """LinuxDriver whose input thread wakes for a pending `esc`'s deadline."""

    def run_input_thread(self) -> None:
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        fileno = self.fileno
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode

        def process(events: list[tuple[selectors.SelectorKey, int]], final: bool = False) -> None:
            for last, (_key, mask) in loop_last(events):
                if mask & selectors.EVENT_READ:
                    data = decode(os.read(fileno, 1024 * 4), final=final and last)
                    if not data:
                        break  # stdin is a pipe at its end
                    for event in parser.feed(data):
                        self.process_message(event)
            for event in parser.tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                process(selector.select(wake_after(parser)))
            selector.unregister(self.fileno)
            process(selector.select(FINAL_READ_S), final=True)
        finally:
            selector.close()
            try:
                for _event in parser.feed(""):
                    pass
            except (EOFError, ParseError):
                pass


def prompt_escape(driver: type[Driver]) -> type[Driver]:
    """The driver to use for the one Textual picked: ours in place of its LinuxDriver; any
    other (Windows, a web driver, TEXTUAL_DRIVER's choice) as it is."""
    return PromptEscapeDriver if driver is LinuxDriver else driver
