"""The one way this project reads YAML: PyYAML's safe loaders with limits on what a file costs.

A few kilobytes of YAML can describe a document of billions of nodes (an "alias bomb":
`a: &a [x, x, x]`, `b: &b [*a, *a, *a]`, ... nine levels deep) or nest thousands of levels
(`[[[[...]]]]`); both are valid YAML. PyYAML composes aliases as shared nodes, so parsing
is cheap, but whoever walks the result (the compose importer flattening `environment:`,
`secrets generate` reading a user name) expands it, and a deep file overflows Python's
stack (RecursionError) in the composer or later. Compose files and kubeconfigs are neither
deep nor large once expanded, so both are capped here, before anyone walks the tree:

- nesting deeper than `MAX_DEPTH` levels, counted through aliases as well;
- more than `MAX_NODES` nodes once every alias is expanded (anchors reused by merge keys
  in a 10,000-service file stay far below it);
- an alias that refers to the node it is inside (a cycle), which has no finite expansion.

Each is a `YamlLimitError`, a `yaml.MarkedYAMLError`: callers that already turn PyYAML's
errors into one line naming `FILE:LINE` handle it without a new branch.

Speed: libyaml (PyYAML's C parser) produces the events when it is installed, and PyYAML's
Python composer, where the depth is counted, builds the nodes from them: as fast as the
all-C loader (whose composer recurses in C, out of reach of a depth limit) and five times
faster than the pure-Python one on a 2 MB compose file.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import Composer, ComposerError
from yaml.constructor import SafeConstructor
from yaml.error import Mark
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, SequenceNode
from yaml.resolver import Resolver

# libyaml's parser; None when PyYAML was built without it (then the Python parser reads).
_CPARSER: Any = getattr(yaml, "cyaml", None) and getattr(yaml.cyaml, "CParser", None)
_LOADERS: dict[Loader, Loader] = {}
_PYTHON_LOADERS: dict[tuple[Loader, str], Loader] = {}

MAX_DEPTH = 100
MAX_NODES = 1_000_000

Loader = type[yaml.SafeLoader]


class YamlLimitError(ComposerError):
    """The document is refused for its size or shape, not for its syntax."""

    def __init__(self, problem: str, mark: Mark | None) -> None:
        super().__init__(None, None, problem, mark)


def load_yaml(text: str, loader: Loader = yaml.SafeLoader) -> Any:
    """`yaml.load` with `loader` (SafeLoader or a subclass), within the limits."""
    try:
        return yaml.load(text, Loader=bounded(loader))  # noqa: S506 - a SafeLoader subclass
    except YamlLimitError:
        raise
    except yaml.MarkedYAMLError as exc:
        _raise_python_error(text, loader, exc)
        raise


def compose_yaml(text: str, loader: Loader = yaml.SafeLoader) -> Node | None:
    """`yaml.compose` (the node tree, with source positions), within the limits."""
    try:
        return yaml.compose(text, Loader=bounded(loader))
    except YamlLimitError:
        raise
    except yaml.MarkedYAMLError as exc:
        _raise_python_error(text, loader, exc)
        raise


def _raise_python_error(text: str, loader: Loader, exc: yaml.MarkedYAMLError) -> None:
    """A syntax error as PyYAML's own parser words it ("expected <block end>, but found
    ..."), the wording users and tests know; libyaml words the same errors differently.
    Only on the error path, so the faster parser still reads every valid file. libyaml's
    own depth limit (1000 flow levels) is ours, said our way: the Python scanner would take
    quadratic time to get there."""
    if "maximum nesting depth" in str(exc.problem):
        raise YamlLimitError(_too_deep(), exc.problem_mark) from None
    if _CPARSER is not None:
        yaml.compose(text, Loader=_python(loader))


def _python(loader: Loader) -> Loader:
    key = (loader, "python")
    if key not in _PYTHON_LOADERS:
        _PYTHON_LOADERS[key] = type(f"BoundedPython{loader.__name__}",
                                    (_BoundedComposer, loader), {})
    return _PYTHON_LOADERS[key]


def yaml_error_line(exc: yaml.YAMLError, source: str) -> str:
    """`FILE:LINE: not valid YAML: PROBLEM` (or `refused:` for a limit), on one line."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"{source}:{mark.line + 1}" if mark is not None else source
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or str(exc)
    verdict = "refused" if isinstance(exc, YamlLimitError) else "not valid YAML"
    return f"{where}: {verdict}: {' '.join(str(problem).split())}"


def bounded(loader: Loader) -> Loader:
    """`loader` (its constructor and resolvers) with libyaml's parser when there is one,
    the depth counted while composing and the expansion checked after."""
    if loader not in _LOADERS:
        name = f"Bounded{loader.__name__}"
        if _CPARSER is None:  # pragma: no cover
            _LOADERS[loader] = type(name, (_BoundedComposer, loader), {})
        else:
            _LOADERS[loader] = type(name, (_BoundedComposer, _CPARSER, loader),
                                    {"__init__": _init_with_cparser})
    return _LOADERS[loader]


def _init_with_cparser(self: Any, stream: str) -> None:
    _CPARSER.__init__(self, stream)
    Composer.__init__(self)
    SafeConstructor.__init__(self)
    Resolver.__init__(self)


class _BoundedComposer(Composer):
    """PyYAML's composer (it recurses once per nesting level), counting the levels.

    CParser has its own C composer; the three methods below keep the Python one in use.
    """

    _depth = 0
    _aliases = 0

    def check_node(self) -> bool:
        return Composer.check_node(self)

    def get_node(self) -> Node | None:
        return Composer.get_node(self)

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[attr-defined]
                raise YamlLimitError(_too_deep(), mark)
            if self.check_event(AliasEvent):  # type: ignore[attr-defined]
                self._aliases += 1
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_node(self) -> Node | None:
        node = Composer.get_single_node(self)
        if node is not None and self._aliases:  # without aliases, what was parsed is all
            _Expansion().visit(node, 1)
        return node


def _too_deep() -> str:
    return f"nested deeper than {MAX_DEPTH} levels (no compose file needs that)"


class _Expansion:
    """Size and height of the document with every alias expanded, each node measured once."""

    def __init__(self) -> None:
        self.size: dict[int, int] = {}
        self.height: dict[int, int] = {}
        self.active: set[int] = set()

    def visit(self, node: Node, depth: int) -> int:
        key = id(node)
        if key in self.size:
            self._check_depth(node, depth + self.height[key] - 1)
            return self.size[key]
        if key in self.active:
            raise YamlLimitError("an alias refers to a node that contains it (recursive "
                                 "anchor): it has no finite expansion", node.start_mark)
        self._check_depth(node, depth)
        self.active.add(key)
        total, height = 1, 1
        for child in _children(node):
            total += self.visit(child, depth + 1)
            height = max(height, self.height[id(child)] + 1)
            if total > MAX_NODES:
                raise YamlLimitError(f"aliases expand to more than {MAX_NODES:,} nodes (an "
                                     "alias bomb?)", node.start_mark)
        self.active.discard(key)
        self.size[key], self.height[key] = total, height
        return total

    @staticmethod
    def _check_depth(node: Node, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise YamlLimitError(_too_deep() + " once aliases are expanded", node.start_mark)


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []
