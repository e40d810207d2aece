"""The one error of the mapping package."""

from __future__ import annotations


class MappingError(ValueError):
    """A mapping rule is invalid: bad target path, unknown transform, unusable argument.

    ``field`` names the rule's attribute at fault (``target``, ``source``, ``constant``,
    ``transform`` or ``arg``) and ``rule`` its position in the rule list, so the admin can
    put the message next to the right input; both are empty when not known.
    """

    def __init__(self, message: str, *, field: str = "", rule: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.rule = rule
