"""A lone `esc` reaches the console after 25 ms, not Textual's 100 (ui/factory.py).

Driven through Textual's own terminal parser, the part that decides whether `esc` starts an
escape sequence: fed "\\x1b" alone, it answers `escape` once the delay has passed; fed an
arrow key's sequence, it still reads the arrow.
"""

from __future__ import annotations

import time

import pytest
from textual import constants, events
from textual._xterm_parser import XTermParser

from tests.ui_data import make_context
from ui.factory import ESCAPE_DELAY_MS, build_app


@pytest.fixture
def textual_default_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "ESCAPE_DELAY", 0.1)


def keys_after(parser: XTermParser, data: str, wait_s: float) -> list[str]:
    got = [e.key for e in parser.feed(data) if isinstance(e, events.Key)]
    time.sleep(wait_s)
    return got + [e.key for e in parser.tick() if isinstance(e, events.Key)]


def test_a_lone_escape_is_a_key_after_25_ms(monkeypatch: pytest.MonkeyPatch,
                                            textual_default_delay: None) -> None:
    monkeypatch.delenv("ESCDELAY", raising=False)
    build_app(make_context())
    assert ESCAPE_DELAY_MS == 25
    assert keys_after(XTermParser(), "\x1b", 0.04) == ["escape"]  # Textual's own: not yet
    assert keys_after(XTermParser(), "\x1b[A", 0.04) == ["up"]  # a sequence is still read


def test_textual_alone_would_still_be_waiting(textual_default_delay: None) -> None:
    """The check above can fail: with Textual's 100 ms, 40 ms later there is no key yet."""
    assert keys_after(XTermParser(), "\x1b", 0.04) == []


def test_the_operators_escdelay_wins(monkeypatch: pytest.MonkeyPatch,
                                     textual_default_delay: None) -> None:
    monkeypatch.setenv("ESCDELAY", "100")  # Textual read it at import: 0.1 s
    build_app(make_context())
    assert constants.ESCAPE_DELAY == 0.1
