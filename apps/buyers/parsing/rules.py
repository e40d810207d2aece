"""The configuration of response parsing, what it yields, and its two errors."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

RESPONSE_FORMATS = ("json", "xml", "form", "text")
DEFAULT_SUCCESS_VALUES = ("bid", "accepted", "success", "true", "1")
PATH_FIELDS = ("success_path", "price_path", "token_path", "reason_path")


class ResponseInvalid(ValueError):
    """A buyer's answer cannot be read by its rules: the body is not valid in the configured
    format, or a path yields junk (a price that is not a finite amount in 0..MAX_PRICE, a
    token or status that is an object)."""


class RulesInvalid(ValueError):
    """Response rules that cannot work; ``field`` names the ResponseRules attribute."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class ResponseRules:
    """How one endpoint's answers are read (see the module docstring for path languages).

    With neither ``success_path`` nor ``success_regex`` the HTTP status decides, and when a
    ``price_path`` is set, a positive price must be present too (a ping answered without a
    bid is a no-bid). An empty ``success_values`` means ``DEFAULT_SUCCESS_VALUES``. When
    both a success path and a regex are set, both must hold.
    """

    format: str = "json"
    success_statuses: tuple[int, ...] = (200, 201, 202)
    success_path: str = ""
    success_values: tuple[str, ...] = ()
    success_regex: str = ""
    price_path: str = ""
    token_path: str = ""
    reason_path: str = ""


@dataclass(frozen=True, slots=True)
class ParsedResponse:
    """What a buyer said: ``price`` and ``token`` only when accepted, ``reason`` only when not."""

    accepted: bool
    price: Decimal | None
    token: str | None
    reason: str | None
