"""Logging that cannot leak PII.

Log lines in this project are written as ``event key=value ...`` and never include lead field
values. As a second line of defence, ``MaskPiiFilter`` masks e-mail addresses and long digit
runs (phone numbers) in any record that reaches a handler, including third-party ones.
"""

from __future__ import annotations

import logging
import re

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_DIGITS = re.compile(r"(?<![\w.-])\+?\d[\d ().-]{8,}\d(?![\w.-])")


def mask_pii(text: str) -> str:
    text = _EMAIL.sub("<email>", text)
    return _DIGITS.sub("<digits>", text)


class MaskPiiFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_pii(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def kv(event: str, **fields: object) -> str:
    """``event key=value ...`` — the one format of our log lines."""
    return " ".join([event, *(f"{key}={value}" for key, value in fields.items())])
