"""Headless `drill`: placeholder until the drills land."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from console.factory import AppContext

AddCommon = Callable[[argparse.ArgumentParser, bool], None]


def add_parser(sub: argparse._SubParsersAction, add_common: AddCommon) -> None:
    return None


def run(args: argparse.Namespace, ctx: AppContext) -> int:
    return 2
