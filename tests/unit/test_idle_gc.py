"""Full garbage collections wait for a pause in the keys (ui/idle_gc.py), with the real gc.

A full collection walks every object the console holds (70-280 ms on the build box); left to
CPython's counters it landed in the middle of keys. These tests drive CPython's own
collector: they count the full collections it runs while the IdleCollector is in charge.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from ui.idle_gc import IdleCollector


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def full_collections() -> Iterator[list[int]]:
    """The generation of every collection CPython runs during the test (2: a full one)."""
    seen: list[int] = []

    def record(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    saved = gc.get_threshold()
    gc.collect()
    gc.callbacks.append(record)
    yield seen
    gc.callbacks.remove(record)
    gc.set_threshold(*saved)


def allocate_until(young: int, kept: list[list[int]]) -> None:
    """Allocate objects that survive (what a busy console does) until CPython has run
    `young` generation-1 collections since its last full one."""
    while gc.get_count()[2] < young:
        kept.extend([] for _ in range(1000))


def make_young_collections(count: int) -> None:
    """Run `count` young (generation 1) collections on purpose, allocating nothing."""
    for _ in range(count):
        gc.collect(1)


def test_no_full_collection_while_keys_arrive_then_one_in_the_pause(
        full_collections: list[int]) -> None:
    clock = Clock()
    collector = IdleCollector(clock=clock, idle_after_s=1.0)
    collector.start()
    kept: list[list[int]] = []
    try:
        assert collector.due_after == 10  # CPython's own rule, read from its threshold
        allocate_until(15, kept)  # CPython alone would have run a full one by now
        assert 2 not in full_collections
        collector.input_seen()
        clock.now += 0.3  # a key 0.3 s ago: the operator is typing
        assert collector.tick() is False
        assert 2 not in full_collections
        clock.now += 1.0  # 1.3 s without a key
        assert collector.tick() is True
        assert full_collections.count(2) == 1
        assert collector.tick() is False  # not due again until young collections pile up
        assert full_collections.count(2) == 1
    finally:
        collector.stop()
        kept.clear()


def test_a_console_never_idle_still_collects_at_the_backstop(
        full_collections: list[int]) -> None:
    """Allocations that survive (a console busy for minutes) run CPython's young collections;
    past the backstop CPython runs the full one itself, no pause needed."""
    clock = Clock()
    collector = IdleCollector(clock=clock, backstop=30)
    collector.start()
    kept: list[list[int]] = []
    try:
        collector.input_seen()
        allocate_until(25, kept)
        assert 2 not in full_collections  # CPython alone: a full one after 10
        for _ in range(3000):  # up to 3 million survivors: far past the backstop
            kept.extend([] for _ in range(1000))
            if 2 in full_collections:
                break
        assert 2 in full_collections
        assert collector.collections == 0  # CPython's, not the idle one
    finally:
        collector.stop()
        kept.clear()


def test_stopping_gives_cpython_its_thresholds_back(full_collections: list[int]) -> None:
    before = gc.get_threshold()
    collector = IdleCollector()
    collector.start()
    assert gc.get_threshold()[2] > before[2]
    collector.start()  # twice: still the thresholds of before
    collector.stop()
    assert gc.get_threshold() == before
    assert collector.tick() is False  # stopped: never collects


def test_nothing_is_due_before_enough_young_collections(full_collections: list[int]) -> None:
    clock = Clock()
    collector = IdleCollector(clock=clock)
    collector.start()
    try:
        clock.now += 60
        make_young_collections(3)
        assert collector.tick() is False
        assert 2 not in full_collections
    finally:
        collector.stop()


def test_quiet_for_counts_from_the_last_key() -> None:
    """Other one-off work (the CSS preload) asks whether the keys paused long enough."""
    now = [50.0]
    collector = IdleCollector(clock=lambda: now[0])
    assert not collector.quiet_for(0.3)
    now[0] += 0.31
    assert collector.quiet_for(0.3)
    collector.input_seen()
    assert not collector.quiet_for(0.3)


def test_what_lives_after_the_warm_up_is_frozen_in_a_pause_and_given_back_at_stop(
        full_collections: list[int]) -> None:
    """Frozen objects are left out of every later full collection (CPython's permanent
    generation); the freeze waits for a pause like a collection, and stopping undoes it."""
    clock = Clock()
    collector = IdleCollector(clock=clock)
    collector.start()
    startup = [[n] for n in range(5000)]  # what the console holds for its whole life
    before = gc.get_freeze_count()  # 0 unless something else froze (an App not stopped)
    try:
        collector.freeze_when_idle()
        collector.input_seen()
        clock.now += 0.2  # typing
        assert collector.tick() is False
        assert gc.get_freeze_count() == before
        clock.now += 1.0
        assert collector.tick() is True
        assert collector.frozen
        assert gc.get_freeze_count() >= before + len(startup)
        assert full_collections.count(2) == 1  # one collection before the freeze
        collector.freeze_when_idle()  # once per start
        clock.now += 5
        assert collector.tick() is False
    finally:
        collector.stop()
    assert gc.get_freeze_count() == 0
    assert not collector.frozen
