"""What every API view shares: a method the path does not serve is a 405 (with ``Allow``)
before anything else, whoever calls; input serializers take JSON types as the schema gives
them (``StrictTypesMixin``); a list whose items may not repeat says so in the schema
(``UniqueListField``); a cursor-paginated answer is documented as the page it is
(``cursor_paginated``).

DRF authenticates and checks permissions before it looks the method up, so ``DELETE
/api/v1/leads`` without credentials was a 401 and, with a key of the other kind, a 401 or 403:
the caller learnt nothing about the method. The method is a property of the path, not of the
caller, so it is checked first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from drf_spectacular.utils import inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.core.unstorable import unstorable_errors


class ApiView(APIView):
    def initial(self, request: Request, *args, **kwargs) -> None:
        method = request.method or ""  # only an HttpRequest built by hand has none
        handler = method.lower()
        if handler not in self.http_method_names or not hasattr(self, handler):
            raise exceptions.MethodNotAllowed(method)
        super().initial(request, *args, **kwargs)


def _strict(field: serializers.Field, *, scalars: bool) -> None:
    """Make ``field`` (and every field under it) refuse a JSON value of another type than
    the one the schema gives it, instead of converting it."""
    if isinstance(field, serializers.ListSerializer):
        if field.child is not None:  # the class default; DRF's __init__ insists on one
            _strict(field.child, scalars=scalars)
    elif isinstance(field, serializers.Serializer):
        for child in field.fields.values():
            _strict(child, scalars=scalars)
    elif isinstance(field, (serializers.ListField, serializers.DictField)):
        _strict(field.child, scalars=scalars)
    elif isinstance(field, serializers.ManyRelatedField):
        # DRF iterates any iterable: an object {} would be taken for an empty list
        _refuse_unless(field, lambda value: isinstance(value, list), error="not_a_list")
        _strict(field.child_relation, scalars=scalars)
    elif isinstance(field, (serializers.CharField, serializers.SlugRelatedField)):
        _refuse_unless(field, lambda value: isinstance(value, str))
    elif scalars and isinstance(field, serializers.DecimalField):
        # money and rates travel as text ("12.50"), as the schema says and the answers
        # give them: a JSON number would pass through binary floating point first
        _refuse_unless(field, lambda value: isinstance(value, str))
    elif scalars and isinstance(field, serializers.BooleanField):
        _refuse_unless(field, lambda value: isinstance(value, bool))
    elif scalars and isinstance(field, (serializers.IntegerField,
                                        serializers.PrimaryKeyRelatedField)):
        _refuse_unless(field, lambda value: isinstance(value, int)
                       and not isinstance(value, bool))


def _refuse_unless(field: serializers.Field, accepts: Callable[[object], bool], *,
                   error: str = "invalid") -> None:
    convert = field.to_internal_value

    def to_internal_value(data: object) -> Any:
        if not accepts(data):
            if "incorrect_type" in field.error_messages:  # PrimaryKeyRelatedField
                field.fail("incorrect_type", data_type=type(data).__name__)
            field.fail(error, input_type=type(data).__name__)
        return convert(data)

    # This instance only, on purpose: DRF builds the fields, and a strict subclass of every
    # field type would be the alternative.
    field.to_internal_value = to_internal_value  # type: ignore[method-assign]


class StrictTypesMixin(serializers.Serializer):
    """For input serializers: a value of another JSON type than the schema says is a 400
    (``"Not a valid string."``), where DRF would take ``42`` for ``"42"`` — the schema and the
    behaviour must agree. ``strict_scalars`` (JSON-only bodies) does the same for booleans
    and integers; a body that may come form-encoded, where every value is text, leaves it
    off."""

    strict_scalars = True

    def to_internal_value(self, data: Any) -> Any:
        # Text the database cannot store (NUL, a lone surrogate) in what this serializer
        # reads, nested members included: a 400 naming each place by dotted path. A member it
        # does not declare is ignored, as DRF ignores it, whatever it holds.
        if isinstance(data, Mapping):
            errors = unstorable_errors({name: data[name] for name in self.fields
                                        if name in data})
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for field in fields.values():
            _strict(field, scalars=self.strict_scalars)
        return fields


class UniqueListField(serializers.ListField):
    """A list in which an item may appear once: a repeated one is a 400 naming it, and the
    schema says ``uniqueItems: true`` (apps.core.schema), so a client knows before asking."""

    default_error_messages = {"not_unique": "{item} is listed twice."}

    def to_internal_value(self, data: Any) -> list[Any]:
        items = super().to_internal_value(data)
        seen: list[Any] = []
        for item in items:
            if item in seen:
                self.fail("not_unique", item=item)
            seen.append(item)
        return items


def cursor_paginated(name: str, item: serializers.BaseSerializer) -> serializers.Serializer:
    """The OpenAPI shape of one page of ``item``s under a ``CursorPagination``: no count,
    ``next``/``previous`` absolute URLs carrying an opaque ``cursor``."""
    return inline_serializer(f"Paginated{name}List", {
        "next": serializers.URLField(allow_null=True, help_text="The next page, or null."),
        "previous": serializers.URLField(allow_null=True,
                                         help_text="The previous page, or null."),
        "results": item,
    })
