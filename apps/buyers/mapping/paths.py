r"""The path language of mapping targets (and of JSON response paths).

A path is dot-separated keys, each optionally followed by list indexes:
``zip``, ``Lead.FirstName``, ``drivers[0].age``, ``contact.phones[1]``, ``matrix[0][2]``.
Keys may hold any character but control characters, so XML attribute keys (``@id``), the
XML text key (``#text``) and spaced form names (``First Name``) are all expressible; a
literal ``.``, ``[``, ``]`` or ``\`` inside a key is escaped with a backslash:
``Lead\.FirstName`` is the one key ``Lead.FirstName``, not ``FirstName`` inside ``Lead``.
"""

from __future__ import annotations

import re
from functools import lru_cache

from apps.buyers.mapping.errors import MappingError

# The largest list index a target may use: lists are padded up to it, so an unbounded index
# ("drivers[99999999]") would be a way to make every payload build allocate gigabytes.
MAX_LIST_INDEX = 99

Path = tuple[str | int, ...]

_KEY = r"(?:[^.\[\]\\\x00-\x1f\x7f]|\\[.\[\]\\])+"
_ESCAPED = re.compile(r"\\(.)")
_SPECIAL = re.compile(r"([.\[\]\\])")
# The first step may be a bare key; every later key follows a dot.
_FIRST_STEP = re.compile(rf"({_KEY})|\[(\d+)\]")
_NEXT_STEP = re.compile(rf"\.({_KEY})|\[(\d+)\]")


@lru_cache(maxsize=4096)
def path_split(text: str) -> Path:
    r"""Return the steps of ``text``: keys as str, list indexes as int.

    Accepts a leading index (``[0].price``, for JSON documents whose root is a list) and
    any non-negative index; escaped characters (``a\.b``) are returned unescaped. Raises
    ``MappingError`` for an empty path, an empty key (``a..b``, ``a.``), a key with
    leading/trailing spaces, a malformed or negative index, a backslash escaping anything
    but ``.[]\``, or a control character.
    """
    if not text:
        raise MappingError("the path is empty")
    steps: list[str | int] = []
    position = 0
    pattern = _FIRST_STEP
    while position < len(text):
        match = pattern.match(text, position)
        if match is None:
            hint = (r"; a backslash escapes only . [ ] and \ (write \\ for a backslash)"
                    if text[position] == "\\" else "")
            raise MappingError(f"{text!r} is not a valid path (unexpected character at "
                               f"position {position + 1}{hint})")
        pattern = _NEXT_STEP
        key, index = match.groups()
        if key is not None:
            key = _ESCAPED.sub(r"\1", key)
            if key != key.strip():
                raise MappingError(f"{text!r}: key {key!r} has leading or trailing spaces")
            steps.append(key)
        else:
            steps.append(int(index))
        position = match.end()
    return tuple(steps)


@lru_cache(maxsize=4096)
def path_parse(target: str) -> Path:
    """Return the steps of a mapping target: ``"drivers[0].age"`` -> ``("drivers", 0, "age")``.

    On top of ``path_split``'s grammar a target must start with a key (the payload is an
    object) and its indexes may not exceed ``MAX_LIST_INDEX``. Raises ``MappingError``.
    """
    steps = path_split(target)
    if isinstance(steps[0], int):
        raise MappingError(f"{target!r} must start with a key, not a list index")
    for step in steps:
        if isinstance(step, int) and step > MAX_LIST_INDEX:
            raise MappingError(f"{target!r}: list index {step} is above {MAX_LIST_INDEX}")
    return steps


def path_format(steps: Path) -> str:
    r"""Return the text of ``steps``, the inverse of ``path_split`` (special characters of
    keys escaped)."""
    parts: list[str] = []
    for step in steps:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        else:
            key = _SPECIAL.sub(r"\\\1", step)
            parts.append(f".{key}" if parts else key)
    return "".join(parts)
