"""Text PostgreSQL cannot store, refused where it enters: a 400 naming where it was.

PostgreSQL's text and jsonb types refuse the NUL character (``\\u0000``), and UTF-8 cannot
encode an unpaired UTF-16 surrogate (``"\\ud800"`` is valid JSON, and Python decodes it to a
lone surrogate). Either one reaching the database is a 500 (SQLite stores both, so the
embedded default never notices). Per-field validators catch some of it (Django's and DRF's
``CharField``) but not dictionary keys, JSON values, lookups made before validation, nor what
a view stores as given. So the check runs once, on everything a request brings that the
platform reads:

- ``StorableJSONParser`` / ``StorableFormParser`` (DRF's default parsers, and those of the
  lead capture and the pings, which read their bodies as given): every key and value of the
  body, nested, by dotted path
  (``400 {"errors": {"fields.first_name": ["Null characters are not allowed."]}}``);
- ``StrictTypesMixin`` (apps.core.api), the input serializers of the staff, buyer and
  webhook APIs: the same walk over the members the serializer declares. A member it does
  not declare is ignored whatever it holds, as DRF ignores it and the OpenAPI schema allows
  it;
- ``UnstorableRequestMiddleware``: the path, every query parameter and every header
  (cookies included: the session key is looked up in the database) of every request — JSON
  errors under ``/api/``, a plain-text 400 elsewhere;
- ``StorableJSONFormField``: the admin's JSON text areas, whose parsed escapes Django's own
  NUL check (which looks at ``str(value)``) does not see.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from rest_framework import parsers
from rest_framework.exceptions import ValidationError

NUL_MESSAGE = "Null characters are not allowed."  # Django's ProhibitNullCharactersValidator
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _message(text: str) -> str | None:
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return NUL_MESSAGE
    # DRF's ProhibitSurrogateCharactersValidator says the same of a serializer CharField
    return f"Surrogate characters are not allowed: U+{ord(found.group()):X}."


def _escaped(text: str) -> str:
    """``text`` fit to be named in an answer (and stored in a log): its bad characters as
    ``\\uXXXX`` escapes."""
    return _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def unstorable_errors(data: Any, path: str = "") -> dict[str, list[str]]:
    """Every place in ``data`` (parsed JSON: dicts, lists, strings, other scalars) holding
    text the database cannot store, as ``{dotted path: [message]}``; ``{}`` when there is
    none. A bad key is named by its escaped form; the top level is ``body``."""
    errors: dict[str, list[str]] = {}
    if isinstance(data, str):
        message = _message(data)
        if message:
            errors[path or "body"] = [message]
    elif isinstance(data, Mapping):
        for key, value in data.items():
            name = f"{path}.{_escaped(str(key))}" if path else _escaped(str(key))
            message = _message(str(key))
            if message:
                errors[name] = [message]
            for where, messages in unstorable_errors(value, name).items():
                errors.setdefault(where, messages)
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            errors.update(unstorable_errors(value, f"{path}.{index}" if path else str(index)))
    return errors


def _multivalue_errors(data) -> dict[str, list[str]]:
    """A QueryDict (form body, query string): every key and every one of its values."""
    errors: dict[str, list[str]] = {}
    for key, values in data.lists():
        message = _message(key) or next(filter(None, map(_message, values)), None)
        if message:
            errors[_escaped(key)] = [message]
    return errors


class StorableJSONParser(parsers.JSONParser):
    """DRF's JSON parser; a body holding unstorable text is a ValidationError naming each
    place (``400 {"errors": {...}}`` through the API's exception handler)."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        errors = unstorable_errors(data)
        if errors:
            raise ValidationError(errors)
        return data


class StorableFormParser(parsers.FormParser):
    """DRF's form parser (``a=1&b=2``); unstorable text is named by its form key."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        errors = _multivalue_errors(data)
        if errors:
            raise ValidationError(errors)
        return data


class StorableJSONFormField(forms.JSONField):
    """The admin's JSON text area: the parsed value is walked, keys and values."""

    def validate(self, value: Any) -> None:
        super().validate(value)
        errors = unstorable_errors(value)
        if errors:
            raise forms.ValidationError(next(iter(errors.values()))[0], code="unstorable")


class UnstorableRequestMiddleware:
    """Refuse a request whose path, query parameters or headers hold unstorable text,
    before any view, session lookup or filter sends it to the database."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        errors = request_errors(request)
        if not errors:
            return self.get_response(request)
        if request.path_info.startswith("/api/"):
            return JsonResponse({"errors": errors}, status=400)
        return HttpResponseBadRequest(
            "Bad request: " + "; ".join(f"{name}: {' '.join(messages)}"
                                        for name, messages in errors.items()),
            content_type="text/plain; charset=utf-8")


def request_errors(request: HttpRequest) -> dict[str, list[str]]:
    """What of ``request`` outside its body cannot be stored: ``path``, each query
    parameter by name, each header by its name (``Idempotency-Key``, ``Cookie``)."""
    errors: dict[str, list[str]] = {}
    message = _message(request.path)
    if message:
        errors["path"] = [message]
    errors.update(_multivalue_errors(request.GET))
    for name, value in request.headers.items():
        message = _message(value)
        if message:
            errors[name] = [message]
    # a quoted cookie value may spell a NUL as an escape (``"\\000"``) the header does not show
    for name, value in request.COOKIES.items():
        message = _message(name) or _message(value)
        if message:
            errors.setdefault("Cookie", [message])
    return errors
