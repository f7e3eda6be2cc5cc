"""A fast log view on Textual's line API: many merged streams, search, filter, follow.

Built like Textual's `Log` and Toolong: a `ScrollView` whose virtual height is the number of
lines and which renders only the rows on screen (`render_line`), so 200,000 retained lines
cost nothing to draw. Writes are batched: the caller appends a whole batch and the view
refreshes once. Lines are sanitised, truncated and redacted by `console.logbuffer` before
they are stored, so nothing on screen or in a search can carry an escape sequence or a
secret.
"""

from __future__ import annotations

import bisect
import re
import zlib
from collections.abc import Iterable, Sequence
from math import ceil

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.strip import Strip

from console.logbuffer import (
    DEFAULT_CAPACITY,
    NOTE,
    SEQ,
    SERVICE,
    TEXT,
    Level,
    LineLike,
    LogBuffer,
    LogEntry,
    LogFilter,
    Row,
    compile_query,
)

PALETTE_SIZE = 8
TIME_FORMAT = "%H:%M:%S"
NAME_CAP = 18


def service_slot(name: str) -> int:
    """A stable palette slot per service name (the same colour in every session)."""
    return zlib.crc32(name.encode("utf-8")) % PALETTE_SIZE


class LogView(ScrollView, can_focus=True):
    """Scrollable, searchable, filterable view of merged log streams."""

    BINDINGS = [
        Binding("end", "follow_end", "End (follow)", show=False, id="log_view.follow_end"),
        # j/k wherever lists move (scrolling up stops following, as the arrows do)
        Binding("j", "scroll_down", "Down", show=False, id="log_view.down"),
        Binding("k", "scroll_up", "Up", show=False, id="log_view.up"),
    ]

    COMPONENT_CLASSES = {
        "log-view--time",
        "log-view--error",
        "log-view--warn",
        "log-view--debug",
        "log-view--note",
        "log-view--match",
        "log-view--match-current",
        "log-view--dropped",
        *(f"log-view--service-{i}" for i in range(PALETTE_SIZE)),
    }

    DEFAULT_CSS = """
    LogView {
        background: $surface;
        color: $foreground;
        overflow: auto auto;
        &:focus { background-tint: $foreground 3%; }
        & > .log-view--time { color: $text-muted; }
        & > .log-view--error { color: $text-error; }
        & > .log-view--warn { color: $text-warning; }
        & > .log-view--debug { color: $text-muted; }
        & > .log-view--note { color: $text-accent; text-style: italic; }
        & > .log-view--match { text-style: reverse; }
        & > .log-view--match-current {
            color: $accent; background: $surface; text-style: bold reverse underline;
        }
        & > .log-view--dropped { color: $text-warning; text-style: bold; }
        & > .log-view--service-0 { color: $text-primary; }
        & > .log-view--service-1 { color: $text-secondary; }
        & > .log-view--service-2 { color: $text-accent; }
        & > .log-view--service-3 { color: $text-success; }
        & > .log-view--service-4 { color: $text-warning; }
        & > .log-view--service-5 { color: $primary-lighten-3; }
        & > .log-view--service-6 { color: $secondary-lighten-3; }
        & > .log-view--service-7 { color: $accent-lighten-3; }
    }
    """

    follow: var[bool] = var(True)
    """Stay at the end as lines arrive; scrolling up turns it off."""
    wrap: var[bool] = var(False)
    """Soft-wrap the visible lines instead of cutting them at the right edge."""
    show_time: var[bool] = var(True)
    """Show each line's timestamp (when the runtime gave one)."""

    class Changed(Message):
        """Follow, wrap, filter, search or the dropped count changed: status bars redraw."""

        def __init__(self, view: LogView) -> None:
            super().__init__()
            self.view = view

        @property
        def control(self) -> LogView:
            return self.view

    def __init__(
        self,
        capacity: int = DEFAULT_CAPACITY,
        merged: bool = True,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.buffer = LogBuffer(capacity)
        self.merged = merged
        self._filter = LogFilter()
        self._shown: list[int] | None = None  # seqs passing the filter; None: all entries
        self._pattern: re.Pattern[str] | None = None
        self._matches: list[int] = []  # seqs of shown entries matching the search
        self._current: int | None = None  # index into _matches
        self._name_width = 0
        self._max_text = 0
        self._programmatic = False
        self._stale = False  # lines written but not yet shown (see sync)
        self._removed = 0  # rows that left the top since the last sync
        self._announce = False  # the dropped count just became non-zero
        self._strips: LRUCache[int, tuple[Strip, Strip]] = LRUCache(2048)
        self._styles: dict[str, Style] = {}
        self._wrap_rows: tuple[tuple[object, ...], list[tuple[int, int]]] = ((), [])

    # --- writing -----------------------------------------------------------------------

    def write_lines(self, lines: Iterable[LineLike], refresh: bool = True) -> int:
        """Append a batch of runtime lines; returns how many were added.

        With `refresh=False` the lines are stored and indexed but not shown until `sync()`:
        a screen catching up on a flood ingests many batches and shows them once a frame,
        instead of sending the compositor a refresh per batch.
        """
        mark = (self.line_count, self.buffer.dropped)
        count = self._ingest(self.buffer.extend(lines), mark)
        if refresh:
            self.sync()
        return count

    def write_note(self, service: str, text: str) -> None:
        """A line of the console's own (a stream failed or ended), styled apart from logs."""
        mark = (self.line_count, self.buffer.dropped)
        self._ingest([self.buffer.append(service, text, note=True)], mark)
        self.sync()

    def _ingest(self, entries: Sequence[Row], mark: tuple[int, int]) -> int:
        """Index a batch and count the rows that left the top (ring drops) for `sync`.

        `mark` is (line count, dropped count) from before the batch. Entries are the
        buffer's rows (a LogEntry is one too), read by field position on this hot path.
        """
        if not entries:
            return 0
        before, dropped_before = mark
        self._index(entries)
        self._prune()
        self._note_widths(entries)
        self._removed += max(0, before + self._new_lines(entries, dropped_before) - self.line_count)
        self._announce = self._announce or dropped_before <= 0 < self.buffer.dropped
        self._stale = True
        return len(entries)

    def sync(self) -> None:
        """Show what was written since the last sync: one size update, scroll and refresh."""
        if not self._stale:
            return
        self._stale = False
        self._update_virtual_size()
        self._strips.clear()
        if self.follow:
            self._scroll_programmatically(self.max_scroll_y)
        elif self._removed:  # keep the same lines under the reader's eyes while the ring turns
            self._scroll_programmatically(max(0, self.scroll_y - self._removed))
        self._removed = 0
        self.refresh()
        if self._announce:
            self._announce = False
            self.post_message(self.Changed(self))

    def _new_lines(self, entries: Sequence[Row], dropped_before: int) -> int:
        shown = (
            len(entries)
            if self._shown is None
            else sum(1 for e in entries if self._filter.accepts(e))
        )
        return shown + (1 if self.buffer.dropped > 0 >= dropped_before else 0)

    def _index(self, entries: Sequence[Row]) -> None:
        """Keep the filtered list and the search matches current with the new entries."""
        accepted = (
            entries if self._shown is None else [e for e in entries if self._filter.accepts(e)]
        )
        if self._shown is not None:
            self._shown.extend(e[SEQ] for e in accepted)
        if self._pattern is not None:
            search = self._pattern.search
            self._matches.extend(e[SEQ] for e in accepted if not e[NOTE] and search(e[TEXT]))

    def _prune(self) -> None:
        """Forget seqs that fell off the ring."""
        first = self.buffer.first_seq
        if self._shown and self._shown[0] < first:
            del self._shown[: bisect.bisect_left(self._shown, first)]
        if self._matches and self._matches[0] < first:
            gone = bisect.bisect_left(self._matches, first)
            del self._matches[:gone]
            if self._current is not None:
                self._current = self._current - gone if self._current >= gone else None

    def _note_widths(self, entries: Sequence[Row]) -> None:
        self._max_text = max(self._max_text, max(len(e[TEXT]) for e in entries))
        longest = max(len(e[SERVICE]) for e in entries)
        if longest > self._name_width:
            self._name_width = min(NAME_CAP, longest)

    def _update_virtual_size(self) -> None:
        width = 0 if self.wrap else self._prefix_width() + self._max_text
        self.virtual_size = Size(width, self.line_count)

    def clear(self) -> None:
        self.buffer = LogBuffer(self.buffer.capacity, self.buffer.limit)
        self._shown = [] if self._filter.active else None
        self._matches, self._current = [], None
        self._max_text = 0
        self._strips.clear()
        self._update_virtual_size()
        self.refresh()

    # --- lines as shown ----------------------------------------------------------------

    @property
    def dropped(self) -> int:
        return self.buffer.dropped

    @property
    def _banner(self) -> int:
        """1 when the first row is the 'N earlier lines dropped' notice, else 0."""
        return 1 if self.buffer.dropped else 0

    @property
    def shown_count(self) -> int:
        """Entries shown (after the filter), not counting the dropped notice."""
        return len(self.buffer) if self._shown is None else len(self._shown)

    @property
    def line_count(self) -> int:
        return self.shown_count + self._banner

    def entry_at(self, line: int) -> LogEntry | None:
        """The entry on display line `line`, or None (past the end, or the dropped notice)."""
        index = line - self._banner
        if index < 0 or index >= self.shown_count:
            return None
        if self._shown is None:
            return self.buffer[index]
        return self.buffer.by_seq(self._shown[index])

    def line_of(self, seq: int) -> int | None:
        """The display line showing entry `seq`, if it is shown."""
        if self._shown is None:
            index = seq - self.buffer.first_seq
            return index + self._banner if 0 <= index < len(self.buffer) else None
        index = bisect.bisect_left(self._shown, seq)
        if index < len(self._shown) and self._shown[index] == seq:
            return index + self._banner
        return None

    # --- filter and search -------------------------------------------------------------

    @property
    def log_filter(self) -> LogFilter:
        return self._filter

    def set_filter(self, log_filter: LogFilter) -> None:
        """Show only what the filter accepts; recomputes the shown list and the matches."""
        self._filter = log_filter
        self._shown = self.buffer_seqs(log_filter) if log_filter.active else None
        self._recompute_matches()
        self._after_view_change()

    def buffer_seqs(self, log_filter: LogFilter) -> list[int]:
        first = self.buffer.first_seq
        return [first + i for i in self.buffer.filter(log_filter)]

    def search(self, query: str | None) -> int:
        """Highlight every match of `query` (regex, smart case); returns the match count.

        The current match becomes the first one at or below the top of the view, and it is
        scrolled into view; follow turns off so the view stays there.
        """
        self._pattern = compile_query(query) if query else None
        self._recompute_matches()
        self._current = None
        if self._matches:
            top = self.entry_at(int(self.scroll_y))
            seq = top.seq if top else self._matches[0]
            index = bisect.bisect_left(self._matches, seq)
            self._go_to_match(index % len(self._matches))
        self._after_view_change()
        return len(self._matches)

    @property
    def pattern(self) -> re.Pattern[str] | None:
        return self._pattern

    @property
    def match_count(self) -> int:
        return len(self._matches)

    @property
    def current_match(self) -> int | None:
        """1-based number of the current match, for "3/17" in a status bar."""
        return None if self._current is None else self._current + 1

    @property
    def current_match_line(self) -> int | None:
        if self._current is None:
            return None
        return self.line_of(self._matches[self._current])

    def next_match(self, step: int = 1) -> bool:
        """Move to the next (step=1) or previous (step=-1) match, wrapping around."""
        if not self._matches:
            return False
        if self._current is None:
            top = self.entry_at(int(self.scroll_y))
            seq = top.seq if top else self.buffer.first_seq
            index = bisect.bisect_left(self._matches, seq) - (1 if step < 0 else 0)
        else:
            index = self._current + step
        self._go_to_match(index % len(self._matches))
        self._after_view_change()
        return True

    def _go_to_match(self, index: int) -> None:
        self._current = index
        line = self.line_of(self._matches[index])
        if line is None:
            return
        self.follow = False
        height = self.size.height or 1
        if not (self.scroll_y <= line < self.scroll_y + height) or self.wrap:
            self._scroll_programmatically(max(0, line - height // 3))
        if not self.wrap:
            self._reveal_column(self._matches[index])

    def _reveal_column(self, seq: int) -> None:
        """Scroll sideways so the current match is on screen when lines are cut, not wrapped."""
        entry = self.buffer.by_seq(seq)
        match = self._pattern.search(entry.text.expandtabs(4)) if entry and self._pattern else None
        if match is None:
            return
        room = max(1, (self._visible_width() or 1) - self._prefix_width())  # the prefix is pinned
        start, end = match.span()
        if start < self.scroll_x or end > self.scroll_x + room:
            x = 0 if end <= room else max(0, start - room // 3)
            self.scroll_to(x=x, animate=False, immediate=True, force=True)

    def _recompute_matches(self) -> None:
        if self._pattern is None:
            self._matches = []
        else:
            search = self._pattern.search
            entries = (
                self.buffer if self._shown is None else (self.buffer.by_seq(s) for s in self._shown)
            )
            self._matches = [e.seq for e in entries if e and not e.note and search(e.text)]
        self._current = None

    def _after_view_change(self) -> None:
        self._stale = False
        self._removed = 0
        self._strips.clear()
        self._update_virtual_size()
        if self.follow:
            self._scroll_programmatically(self.max_scroll_y)
        self.refresh()
        self.post_message(self.Changed(self))

    # --- follow / wrap -----------------------------------------------------------------

    def _scroll_programmatically(self, y: float) -> None:
        """Scroll without it counting as the operator scrolling up (which ends follow)."""
        self._programmatic = True
        try:
            self.scroll_to(y=y, animate=False, immediate=True, force=True)
        finally:
            self._programmatic = False
        self._stale = False  # lines written but not yet shown (see sync)
        self._removed = 0  # rows that left the top since the last sync
        self._announce = False  # the dropped count just became non-zero

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """The operator scrolling up ends follow; clamping after a filter shrank the view
        (which lands on the last row) and our own scrolls do not."""
        super().watch_scroll_y(old_value, new_value)
        if (
            self.follow
            and not self._programmatic
            and new_value < old_value
            and new_value < self.max_scroll_y
        ):
            self.follow = False

    def on_resize(self) -> None:
        if self.follow:
            self._scroll_programmatically(self.max_scroll_y)

    def watch_follow(self, follow: bool) -> None:
        if follow:
            self._scroll_programmatically(self.max_scroll_y)
        self.post_message(self.Changed(self))

    def watch_wrap(self, wrap: bool) -> None:
        self._strips.clear()
        self._update_virtual_size()
        if wrap:
            self.scroll_to(x=0, animate=False, immediate=True)
        self.refresh()
        self.post_message(self.Changed(self))

    def watch_show_time(self, show: bool) -> None:
        self._strips.clear()
        self._update_virtual_size()
        self.refresh()

    def action_follow_end(self) -> None:
        """End: jump to the newest line and follow again."""
        self.follow = True

    # --- rendering ---------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._strips.clear()

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(name)
        return style

    def _visible_width(self) -> int:
        """Columns the text really gets: the widget's width less its vertical scrollbar."""
        return self.scrollable_content_region.width or self.size.width

    def _prefix_width(self) -> int:
        width = 9 if self.show_time else 0
        return width + (self._name_width + 3 if self.merged else 0)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if self.wrap:
            # Wrap at what is visible: the vertical scrollbar covers the last columns of
            # `size`, and a wrap at `size.width` hid two characters at every wrap point.
            visible = self._visible_width()
            line, part = self._wrapped_row(y, visible)
            if line < 0:
                return Strip.blank(width, base)
            full = self._full_strip(line, base)
            return self._wrap_part(full, part, visible).crop_extend(0, width, base)
        line = int(self.scroll_y) + y
        if line >= self.line_count:
            return Strip.blank(width, base)
        prefix, text = self._pieces(line, base)
        room = width - prefix.cell_length
        if room <= 0:
            return prefix.crop_extend(0, width, base)
        scroll_x = int(self.scroll_x)
        return Strip.join([prefix, text.crop_extend(scroll_x, scroll_x + room, base)])

    def _pieces(self, line: int, base: Style) -> tuple[Strip, Strip]:
        """A display line as (prefix, text), cached until the content or styles change.

        Apart, so that scrolling sideways moves the text while the time and the service
        stay pinned on the left: a line scrolled to its match still says whose it is.
        """
        pieces = self._strips.get(line)
        if pieces is None:
            prefix, text = self._segments(line)
            pieces = (Strip(prefix).apply_style(base), Strip(text).apply_style(base))
            self._strips[line] = pieces
        return pieces

    def _full_strip(self, line: int, base: Style) -> Strip:
        """One display line, prefix and text together (for soft wrap)."""
        return Strip.join(self._pieces(line, base))

    def _segments(self, line: int) -> tuple[list[Segment], list[Segment]]:
        entry = self.entry_at(line)
        if entry is None:
            if self._banner and line == 0:
                text = (
                    f"… {self.buffer.dropped:,} earlier lines dropped "
                    f"(keeping the newest {self.buffer.capacity:,})"
                )
                return [], [Segment(text, self._style("log-view--dropped"))]
            return [], []
        return self._prefix(entry), self._text_segments(entry, line)

    def _prefix(self, entry: LogEntry) -> list[Segment]:
        out = []
        if self.show_time:
            stamp = entry.time.strftime(TIME_FORMAT) if entry.time else " " * 8
            out.append(Segment(stamp + " ", self._style("log-view--time")))
        if self.merged:
            name = entry.service[: self._name_width].ljust(self._name_width)
            style = self._style(f"log-view--service-{service_slot(entry.service)}")
            out.append(Segment(name, style))
            out.append(Segment(" │ ", self._style("log-view--time")))
        return out

    def _text_segments(self, entry: LogEntry, line: int) -> list[Segment]:
        text = entry.text.expandtabs(4) if "\t" in entry.text else entry.text
        style = self._level_style(entry)
        if self._pattern is None or entry.note:
            return [Segment(text, style)]
        spans = [m.span() for m in self._pattern.finditer(text) if m.end() > m.start()]
        if not spans:
            return [Segment(text, style)]
        current = line == self.current_match_line
        mark = self._style("log-view--match-current" if current else "log-view--match")
        out, pos = [], 0
        for start, end in spans:
            if start > pos:
                out.append(Segment(text[pos:start], style))
            out.append(Segment(text[start:end], style + mark))
            pos = end
        if pos < len(text):
            out.append(Segment(text[pos:], style))
        return out

    def _level_style(self, entry: LogEntry) -> Style:
        if entry.note:
            return self._style("log-view--note")
        if entry.level == Level.ERROR:
            return self._style("log-view--error")
        if entry.level == Level.WARN:
            return self._style("log-view--warn")
        if entry.level == Level.DEBUG:
            return self._style("log-view--debug")
        return Style.null()

    # --- soft wrap of the visible lines only -------------------------------------------

    def _wrapped_row(self, y: int, width: int) -> tuple[int, int]:
        """(display line, part) shown on screen row y; only the rows on screen are wrapped.

        The virtual height stays one row per line. At the end of the log the rows are laid
        out bottom up, so the newest line is always fully visible while following.
        """
        height = self.size.height
        key = (int(self.scroll_y), width, height, self.line_count, self.buffer.next_seq)
        if self._wrap_rows[0] != key:
            self._wrap_rows = (key, self._layout_wrapped(width, height))
        rows = self._wrap_rows[1]
        return rows[y] if y < len(rows) else (-1, 0)

    def _layout_wrapped(self, width: int, height: int) -> list[tuple[int, int]]:
        base = self.rich_style
        parts = lambda line: self._parts(self._full_strip(line, base), width)  # noqa: E731
        if self.scroll_y >= self.max_scroll_y and self.line_count:
            rows: list[tuple[int, int]] = []
            line = self.line_count - 1
            while line >= 0 and len(rows) < height:
                rows[:0] = [(line, p) for p in range(parts(line))]
                line -= 1
            return rows[-height:]
        rows, line = [], int(self.scroll_y)
        while line < self.line_count and len(rows) < height:
            rows.extend((line, p) for p in range(parts(line)))
            line += 1
        return rows[:height]

    def _indent(self, width: int) -> int:
        return min(self._prefix_width(), max(0, width - 10))

    def _parts(self, strip: Strip, width: int) -> int:
        extra = strip.cell_length - width
        if extra <= 0 or width <= 0:
            return 1
        return 1 + ceil(extra / max(1, width - self._indent(width)))

    def _wrap_part(self, strip: Strip, part: int, width: int) -> Strip:
        if part == 0:
            return strip.crop(0, width)
        indent = self._indent(width)
        step = max(1, width - indent)
        start = width + (part - 1) * step
        piece = strip.crop(start, start + step)
        return Strip([Segment(" " * indent, self.rich_style), *piece])
