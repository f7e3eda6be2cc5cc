"""`esc` over a real pseudo-terminal: answered at the parser's deadline (ui/terminal_driver.py).

Textual's input thread asked the parser about a pending `esc` only when its `select` woke up
(every 100 ms), so each `esc` reached the console 100+ ms late. These tests run the console's
driver thread on a real pty and make the idle wake-up 30 s: an `esc` that still arrives
within seconds was delivered by the parser's own deadline, not by a wake-up.
"""

from __future__ import annotations

import os
import pty
import queue
import threading
import tty
from collections.abc import Iterator
from typing import Any

import pytest
from textual import constants, events
from textual.app import App
from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver
from textual.message import Message

import ui.terminal_driver as terminal_driver
from ui.terminal_driver import PromptEscapeDriver, prompt_escape


class Recorded(PromptEscapeDriver):
    """The console's driver reading a pty, its messages kept instead of sent to an App."""

    def __init__(self, app: App[Any], fileno: int) -> None:
        super().__init__(app)
        self.fileno = fileno
        self.received: queue.Queue[Message] = queue.Queue()

    def send_message(self, message: Message) -> None:
        self.received.put(message)


@pytest.fixture
def pty_driver(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Recorded, int]]:
    monkeypatch.setattr(terminal_driver, "IDLE_WAKE_S", 30.0)  # no wake-up to lean on
    monkeypatch.setattr(constants, "ESCAPE_DELAY", 0.025)
    writer, reader = pty.openpty()
    tty.setraw(reader)  # as the console's terminal is: keys as typed, no line editing

    async def make() -> Recorded:  # a Driver takes the running loop
        return Recorded(App(), reader)

    import asyncio

    driver = asyncio.run(make())
    thread = threading.Thread(target=driver.run_input_thread, daemon=True)
    thread.start()
    yield driver, writer
    driver.exit_event.set()
    os.write(writer, b"q")  # wakes the thread, which sees the exit
    thread.join(5)
    os.close(writer)
    os.close(reader)


def next_key(driver: Recorded, timeout: float) -> str:
    while True:
        message = driver.received.get(timeout=timeout)
        if isinstance(message, events.Key):
            return message.key


def test_a_lone_escape_arrives_without_waiting_for_a_wake_up(
        pty_driver: tuple[Recorded, int]) -> None:
    driver, writer = pty_driver
    os.write(writer, b"\x1b")
    assert next_key(driver, timeout=5) == "escape"


def test_an_arrow_key_is_still_one_key(pty_driver: tuple[Recorded, int]) -> None:
    driver, writer = pty_driver
    os.write(writer, b"\x1b[A")
    assert next_key(driver, timeout=5) == "up"
    os.write(writer, b"j")
    assert next_key(driver, timeout=5) == "j"  # nothing left over from the sequence


def test_the_console_uses_it_only_in_place_of_textuals_linux_driver() -> None:
    class Other(Driver):  # a web or Windows driver stays what Textual picked
        pass

    assert prompt_escape(LinuxDriver) is PromptEscapeDriver
    assert prompt_escape(Other) is Other
