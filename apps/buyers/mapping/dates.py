"""Date formats of the ``date_format`` transform: strftime, checked strictly.

glibc's strftime copies an unknown directive (``%Q``) or a foreign token (``MM/DD/YYYY``)
into its output, so such a format would save and then send the buyer the format itself
instead of a date. ``strftime_format`` refuses both, naming the strftime equivalent.
"""

from __future__ import annotations

import re

from apps.buyers.mapping.errors import MappingError

# The directives every platform's strftime knows (C89 + ISO 8601 week dates), with glibc's
# "-" flag (no padding: %-d); anything else is passed through as literal text by glibc,
# so a typo would reach the buyer instead of a date.
_DIRECTIVE = re.compile(r"%(-?)(.?)", re.S)
_DIRECTIVE_LETTERS = frozenset("aAbBcdfGHIjmMpSuUVwWxXyYzZ")
_NO_PAD_LETTERS = frozenset("dHIjmMSy")
# Date tokens of other languages (Java, .NET, moment.js, Excel) and their strftime
# equivalents, longest first so "YYYY" is not read as two "YY".
_FOREIGN_TOKENS = {
    "YYYY": "%Y", "yyyy": "%Y", "YY": "%y", "yy": "%y", "MMMM": "%B", "MMM": "%b",
    "MM": "%m", "DD": "%d", "dd": "%d", "HH": "%H", "hh": "%I", "mm": "%M", "ss": "%S",
    "SS": "%S", "tt": "%p", "M": "%-m", "D": "%-d", "d": "%-d", "H": "%-H", "h": "%-I",
}
_FOREIGN = re.compile("|".join(sorted(_FOREIGN_TOKENS, key=len, reverse=True)))
# Tokens that are never plain text in a date layout: two or more of the same letter.
_FOREIGN_SURE = re.compile(r"YYYY|yyyy|YY|yy|MM|DD|dd|HH|hh|mm|ss|SS")


def _strftime_equivalent(text: str) -> str:
    """``text`` with every foreign date token turned into its strftime directive
    (``MM/DD/YYYY`` -> ``%m/%d/%Y``); strftime directives already there are kept."""
    parts = re.split(r"(%-?.)", text)
    return "".join(part if part.startswith("%") else
                   _FOREIGN.sub(lambda m: _FOREIGN_TOKENS[m.group(0)], part)
                   for part in parts)


def strftime_format(text: str) -> str:
    """Return ``text`` when it is a usable strftime format; raise ``MappingError`` for an
    empty one, one without a date directive, one with a foreign token (the message gives
    the strftime spelling) or with a directive strftime does not know."""
    if not text:
        raise MappingError("needs a non-empty argument")
    literal = _DIRECTIVE.sub("", text)
    directives = _DIRECTIVE.findall(text)
    if not any(letter != "%" for _, letter in directives) or _FOREIGN_SURE.search(literal):
        raise MappingError(f"takes a strftime format: {text!r} is written "
                           f"{_strftime_equivalent(text)!r} (%Y year, %m month, %d day, "
                           "%H hour, %M minute, %S second)")
    for flag, letter in directives:
        if letter == "%" and not flag:
            continue
        if letter not in _DIRECTIVE_LETTERS or (flag and letter not in _NO_PAD_LETTERS):
            raise MappingError(f"'%{flag}{letter}' in {text!r} is not a strftime directive "
                               "(%Y year, %m month, %d day, %H hour, %M minute, %S second)")
    return text
