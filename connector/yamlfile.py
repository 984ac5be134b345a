"""YAML files a consultant edits, read with the line of every node so errors say ``file:line``.

Shared by the mapping loader (``arconnect.mapping``) and the segment rules
(``arconnect.segmenter.rules``). This module owns parsing and locating; it never validates a
file's meaning (each loader does that) and never reads files itself.

A *location* (``Loc``) is the path to a value inside the parsed data: ``("segments", 2, "when")``
is the ``when:`` of the third segment. ``Lines`` answers the line of a location, falling back to
the nearest enclosing node that has one (pydantic reports locations the file may not contain,
such as a missing key).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from arconnect.errors import MappingError

__all__ = [
    "Lines",
    "Loc",
    "Problems",
    "load_yaml_with_lines",
    "suggest",
    "validation_problems",
]

Loc = tuple[Any, ...]

# The most values a file may hold once its aliases are expanded (the shipped mappings and rules
# hold under 1,000): beyond it, a file is refused before it is expanded.
MAX_NODES = 100_000

try:  # the C loader keeps node marks too, and is faster
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


class Lines:
    """The 1-based line of every node of a parsed file, by location; callable as ``line_of``.

    Attributes:
        marks: location -> line of the node (for a mapping key: the key's line).
        duplicates: ``(line, message)`` for every key repeated within one mapping (YAML keeps
            the last silently; a consultant almost never means that).
    """

    def __init__(self, marks: dict[Loc, int] | None = None,
                 duplicates: list[tuple[int, str]] | None = None) -> None:
        self.marks: dict[Loc, int] = marks if marks is not None else {}
        self.duplicates: list[tuple[int, str]] = duplicates if duplicates is not None else []

    def __call__(self, loc: Loc) -> int:
        """The line of ``loc``, or of its nearest enclosing node; 1 when nothing is known."""
        loc = tuple(loc)
        while loc and loc not in self.marks:
            loc = loc[:-1]
        return self.marks.get(loc, 1)


class Problems:
    """Collects ``file:line: message`` problems; raised together as one MappingError.

    Loaders add every problem they find and raise once, so a consultant fixes a file in one pass
    and nothing is ever half-loaded.
    """

    def __init__(self, label: str, marks: dict[Loc, int] | Lines | None = None) -> None:
        self.label = label
        self.lines = marks if isinstance(marks, Lines) else Lines(marks)
        self.marks = self.lines.marks
        self.items: list[tuple[int, str]] = []

    def line(self, loc: Loc) -> int:
        return self.lines(loc)

    def add(self, loc: Loc, message: str) -> None:
        self.items.append((self.line(loc), message))

    def error(self) -> MappingError:
        ordered = sorted(self.items, key=lambda item: item[0])
        return MappingError("\n".join(f"{self.label}:{line}: {msg}" for line, msg in ordered))

    def raise_if_any(self) -> None:
        if self.items:
            raise self.error()


def load_yaml_with_lines(
    text: str, label: str, *, empty_hint: str = "the file needs at least one key"
) -> tuple[Any, Lines]:
    """Parse ``text`` (one YAML document, safe loader) keeping the line of every node.

    Args:
        text: the file's content.
        label: how errors name the file (its path, or the packaged resource).
        empty_hint: what an empty file should start with, for the error message.

    Returns:
        ``(data, line_of)``: the plain Python data and a :class:`Lines` (callable
        ``line_of(loc) -> int``, with the duplicate keys found).

    Raises:
        MappingError: ``label:line: YAML syntax error: ...`` or an empty file.
    """
    loader = _Loader(text)
    try:
        _check_size(text, label)
        node = loader.get_single_node()
        if node is None:
            raise MappingError(f"{label}:1: the file is empty; {empty_hint}")
        data = loader.construct_document(node)
        lines = Lines()
        _walk(loader, node, (), lines.marks, lines.duplicates)
        return data, lines
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = err.problem or err.context or "cannot be parsed"
        start = err.context_mark
        if err.context and start is not None and mark is not None and start.line != mark.line:
            # e.g. an unclosed `{`: the parser notices lines later; say where it began.
            problem += f" ({err.context} on line {start.line + 1})"
        raise MappingError(
            f"{label}:{line}: YAML syntax error: {problem}; check the indentation and quote "
            "text containing ': ', '#', '{' or '['"
        ) from None
    except yaml.YAMLError as err:
        raise MappingError(f"{label}:1: YAML error: {err}") from None
    finally:
        loader.dispose()


def _check_size(text: str, label: str) -> None:
    """Refuse a file whose aliases expand it beyond :data:`MAX_NODES` values.

    An alias (``*name``) repeats its anchor's whole value; aliases of aliases multiply, so a
    few lines can stand for billions of values ("billion laughs") and every later pass over the
    data would take minutes and gigabytes. The expanded size is counted on the parser's events
    (each anchor's size once, an alias adds it), in time proportional to the text.

    Raises:
        MappingError: ``label:line`` of the alias that blows the file up (or that stands inside
            the value it names), and the fix.
    """
    if "*" not in text:  # no alias: nothing can expand
        return
    sizes: dict[str, int] = {}
    # One entry per open collection: [values so far, its anchor, its line].
    stack: list[list[Any]] = []
    total = 0
    for event in yaml.parse(text, Loader=_Loader):
        line = event.start_mark.line + 1 if event.start_mark is not None else 1
        if isinstance(event, yaml.AliasEvent):
            if event.anchor not in sizes and any(open_[1] == event.anchor for open_ in stack):
                start = next(o[2] for o in stack if o[1] == event.anchor)
                raise MappingError(
                    f"{label}:{line}: the YAML alias *{event.anchor} stands inside the value it "
                    f"names (&{event.anchor} on line {start}), which would repeat it forever; "
                    "remove it"
                )
            size = sizes.get(str(event.anchor), 1)  # an unknown alias: the parser says so later
        elif isinstance(event, yaml.ScalarEvent):
            size = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            stack.append([1, event.anchor, line])
            continue
        elif isinstance(event, yaml.CollectionEndEvent):
            size, anchor, _ = stack.pop()
            if anchor is not None:
                sizes[anchor] = size
            # Its values were counted into ``total`` as they came.
            if stack:
                stack[-1][0] += size
            continue
        else:
            continue
        if isinstance(event, yaml.ScalarEvent) and event.anchor is not None:
            sizes[event.anchor] = 1
        total += size
        if stack:
            stack[-1][0] += size
        if total > MAX_NODES:
            raise MappingError(
                f"{label}:{line}: YAML aliases (*name) expand this file to more than "
                f"{MAX_NODES:,} values; write the values out or use fewer aliases of aliases"
            )


def _walk(
    loader: yaml.SafeLoader, node: yaml.Node, loc: Loc, marks: dict[Loc, int],
    duplicates: list[tuple[int, str]],
) -> None:
    marks.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            try:
                key = loader.construct_object(key_node, deep=True)
            except yaml.YAMLError:
                continue
            if not isinstance(key, str | int | float | bool | date) and key is not None:
                continue
            key_line = key_node.start_mark.line + 1
            if key in seen:
                duplicates.append(
                    (key_line, f"duplicate key {key!r} (first on line {seen[key]}); "
                               "remove one of them")
                )
            seen[key] = key_line
            marks[(*loc, key)] = key_line
            _walk(loader, value_node, (*loc, key), marks, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(loader, item, (*loc, i), marks, duplicates)


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def validation_problems(
    err: ValidationError,
    problems: Problems,
    *,
    allowed_keys: Callable[[Loc], Sequence[str]] | None = None,
    examples: dict[str, str] | None = None,
    prefix: Loc = (),
) -> None:
    """Add one ``file:line`` problem per pydantic error of ``err`` to ``problems``.

    Messages say what is wrong and how to fix it: an unknown key names the allowed keys (and the
    closest one), a missing key shows an example. A misspelt key yields only the "unknown key"
    problem, not also "missing".

    Args:
        err: the pydantic error of validating data read with :func:`load_yaml_with_lines`.
        problems: where to add the problems.
        allowed_keys: location of a mapping -> the keys allowed there (for unknown-key hints).
        examples: key -> an example of it, shown when the key is missing.
        prefix: the location of the validated data inside the file.
    """
    errors = err.errors()
    typo_parents = {
        tuple(e["loc"][:-1]) for e in errors if e["type"] == "extra_forbidden"
    }
    for e in errors:
        loc = (*prefix, *_clean(e["loc"]))
        rel = _clean(e["loc"])
        where = ".".join(str(p) for p in rel) or "the file"
        if e["type"] == "extra_forbidden":
            keys = list(allowed_keys(rel[:-1])) if allowed_keys else []
            hint = f"; allowed here: {', '.join(keys)}" if keys else ""
            problems.add(loc, f"unknown key {rel[-1]!r}{suggest(str(rel[-1]), keys)}{hint}")
        elif e["type"] == "missing":
            if rel[:-1] in typo_parents:
                continue
            example = (examples or {}).get(str(rel[-1]), "")
            problems.add(
                loc, f"`{rel[-1]}:` is missing" + (f", e.g. `{example}`" if example else "")
            )
        elif e["type"] == "too_short":
            problems.add(loc, f"{where} is empty; it needs at least one entry")
        else:
            value = e.get("input")
            shown = f" (got {value!r})" if isinstance(value, str | int | float | bool) else ""
            problems.add(loc, f"{where}: {e['msg']}{shown}")


def _clean(loc: Sequence[Any]) -> Loc:
    """Drop the tags pydantic adds to union/function locations (``function-after[...]``)."""
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p and "]" in p)))


def read_text(path: str | Path) -> tuple[str, str]:
    """A YAML file's label and text; an unreadable file is a MappingError at ``path:1``."""
    path = Path(path)
    try:
        return str(path), path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MappingError(f"{path}:1: no such file; check the path") from None
    except (OSError, UnicodeDecodeError) as err:
        raise MappingError(f"{path}:1: cannot be read ({err})") from None
