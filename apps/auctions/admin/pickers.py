"""Pickers of the contract page's mapping tables: a row's source chosen from the vertical's
fields, the context values and the contract's secrets; its transform from the catalogue, each
shown with its argument grammar, which the argument input then takes as its hint
(``templates/admin/buyers/contract/change_form.html`` renders the list and the hints)."""

from __future__ import annotations

from django import forms

from apps.buyers.mapping import CONTEXT_KEYS, TRANSFORMS
from apps.buyers.models import Contract, FieldMapping
from apps.sources.models import VerticalField


def _transform_label(name: str) -> str:
    grammar = TRANSFORMS[name].grammar
    return f"{name} — {grammar}" if grammar else name


class MappingForm(forms.ModelForm):
    """A mapping row with pickers: the source from a list of the vertical's fields, the
    context values and the contract's secrets (``mapping-sources``, rendered by the change
    form); the transform from the catalogue, each with its argument grammar, which the
    argument input then shows as its hint."""

    class Meta:
        model = FieldMapping
        fields = ["position", "target", "source", "constant", "constant_type", "transform",
                  "arg"]
        widgets = {
            "position": forms.NumberInput(attrs={"class": "mapping-position"}),
            "target": forms.TextInput(attrs={"size": 16, "placeholder": "Lead.FirstName"}),
            "source": forms.TextInput(attrs={"size": 14, "list": "mapping-sources",
                                             "placeholder": "field or @context",
                                             "class": "mapping-source"}),
            "constant": forms.TextInput(attrs={"size": 10}),
            "arg": forms.TextInput(attrs={"size": 12, "class": "mapping-arg",
                                          "placeholder": "argument"}),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["transform"] = forms.ChoiceField(
            required=False, choices=[("", "— none —"), *[
                (name, _transform_label(name)) for name in sorted(TRANSFORMS)]],
            widget=forms.Select(attrs={"class": "mapping-transform"}))


def mapping_pickers(contract: Contract | None) -> dict:
    """What the mapping inlines' pickers offer: the sources (the contract's vertical's
    fields — every vertical's on a new contract —, the context values, the contract's
    secrets) and each transform's argument grammar."""
    fields = (VerticalField.objects.filter(vertical_id=contract.vertical_id) if contract
              else VerticalField.objects.select_related("vertical").order_by("vertical__name",
                                                                            "position"))
    sources = []
    for spec in fields:
        note = f"{spec.type}{', personal data: post only' if spec.pii else ''}"
        sources.append((spec.key, note if contract else f"{spec.vertical.name}: {note}"))
    sources += [(f"@{key}", "context") for key in CONTEXT_KEYS]
    if contract is not None:
        sources += [(f"@secret.{name}", "secret") for name in
                    contract.secrets.values_list("name", flat=True)]
    return {"mapping_sources": sources,
            "transform_hints": {name: t.grammar for name, t in TRANSFORMS.items()}}
