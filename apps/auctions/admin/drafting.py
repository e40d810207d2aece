"""The admin's "Draft from samples" page of the contract add flow: staff paste the buyer's
sample requests and answers (or start from a template of a common format), read the draft
— every mapping row, the response rules, what could not be matched — and create the
contract from it, in testing. The same drafting as ``POST /api/v1/contracts/draft``; the
contract is validated and written as ``POST /api/v1/contracts`` does."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from apps.buyers.api.serializers import ContractInputSerializer
from apps.buyers.drafting import (
    MAX_SAMPLE,
    SAMPLE_FORMATS,
    TEMPLATES,
    Draft,
    DraftInvalid,
    EndpointSamples,
    contract_draft_build,
    template_samples,
)
from apps.buyers.models import Buyer
from apps.buyers.selectors import vertical_field_specs
from apps.buyers.services import contract_create
from apps.buyers.validation import wire_key
from apps.core.audit import audit_record
from apps.core.exceptions import flatten_errors
from apps.sources.models import Vertical

_KINDS = ("ping", "post")
_SAMPLE_WIDGET = forms.Textarea(attrs={"rows": 7, "spellcheck": "false"})
_ANSWER_WIDGET = forms.Textarea(attrs={"rows": 3, "spellcheck": "false"})


class DraftForm(forms.Form):
    vertical = forms.ModelChoiceField(Vertical.objects.all())
    buyer = forms.ModelChoiceField(Buyer.objects.all(), required=False,
                                   help_text="Needed to create the contract.")
    name = forms.CharField(max_length=128, required=False)
    template = forms.ChoiceField(required=False, choices=[("", "— none —"), *[
        (slug, template.label) for slug, template in TEMPLATES.items()]])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for kind in _KINDS:
            self.fields[f"{kind}_url"] = forms.URLField(max_length=1000, required=False,
                                                        label=f"{kind.capitalize()} URL")
            self.fields[f"{kind}_format"] = forms.ChoiceField(
                required=False, label="Format",
                choices=[("", "detect"), *[(f, f) for f in SAMPLE_FORMATS]])
            self.fields[f"{kind}_request"] = forms.CharField(
                max_length=MAX_SAMPLE, required=False, strip=False, widget=_SAMPLE_WIDGET,
                label=f"Sample {kind} request")
            self.fields[f"{kind}_answer"] = forms.CharField(
                max_length=MAX_SAMPLE, required=False, strip=False, widget=_ANSWER_WIDGET,
                label="Sample answer (yes)")
            self.fields[f"{kind}_refusal"] = forms.CharField(
                max_length=MAX_SAMPLE, required=False, strip=False, widget=_ANSWER_WIDGET,
                label="Sample answer (no), optional")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("template") and not (data.get("post_request") or "").strip():
            self.add_error("post_request", "Paste the buyer's sample post request (or start "
                                           "from a template).")
        return data

    def samples(self, kind: str) -> EndpointSamples | None:
        data = self.cleaned_data
        given = EndpointSamples(request=data[f"{kind}_request"], answer=data[f"{kind}_answer"],
                                refusal=data[f"{kind}_refusal"], url=data[f"{kind}_url"] or "",
                                body_format=data[f"{kind}_format"])
        return given if any((given.request.strip(), given.url, given.answer.strip())) else None

    def fields_of(self, kind: str) -> list[forms.BoundField]:
        return [self[f"{kind}_{name}"] for name in ("url", "format", "request", "answer",
                                                     "refusal")]


def _initial(slug: str) -> dict[str, str]:
    """The form filled with a template's samples, for staff to read and change."""
    if slug not in TEMPLATES:
        return {}
    ping, post = template_samples(slug)
    initial = {"template": slug, "name": TEMPLATES[slug].label.replace(" ping/post", "")}
    for kind, samples in (("ping", ping), ("post", post)):
        initial.update({f"{kind}_url": samples.url, f"{kind}_format": samples.body_format,
                        f"{kind}_request": samples.request, f"{kind}_answer": samples.answer,
                        f"{kind}_refusal": samples.refusal})
    return initial


def _draft(form: DraftForm) -> Draft:
    data = form.cleaned_data
    ping, post = form.samples("ping"), form.samples("post")
    if data["template"]:
        ping, post = template_samples(data["template"], ping=ping, post=post)
    assert post is not None  # form.clean: a post sample or a template
    buyer = data["buyer"]
    return contract_draft_build(vertical=data["vertical"].slug,
                                fields=vertical_field_specs(data["vertical"]),
                                ping=ping, post=post, buyer=buyer.pk if buyer else None,
                                name=data["name"])


def _endpoints_shown(document: dict[str, Any]) -> list[tuple[str, dict, list[dict]]]:
    """Each drafted endpoint with its rows as the page lists them."""
    shown = []
    for kind, endpoint in document.get("endpoints", {}).items():
        rows = []
        for row in endpoint["mappings"]:
            source = row.get("source") or ""
            rows.append({
                "target": row["target"],
                "wire": wire_key(row["target"], body_format=endpoint["body_format"],
                                 key_style=endpoint.get("key_style", "brackets")) or "",
                "source": source or f"{row.get('constant')!r} ({row.get('constant_type')})",
                "transform": " ".join(filter(None, (row.get("transform"), row.get("arg")))),
            })
        shown.append((kind, endpoint, rows))
    return shown


def contract_draft_view(model_admin, request: HttpRequest) -> HttpResponse:
    """Draft (``_draft``) or create (``_create``) a contract from samples; GET shows the
    form, filled with a template's samples when ``?template=`` names one."""
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    draft = problems = None
    if request.method == "POST":
        form = DraftForm(request.POST)
        if form.is_valid():
            try:
                draft = _draft(form)
            except DraftInvalid as error:
                kind, _, part = error.field.partition(".")
                form.add_error(f"{kind}_{part}", error.message)
        if draft is not None and "_create" in request.POST:
            created, problems = _create(request, draft)
            if created is not None:
                return created
    else:
        form = DraftForm(initial=_initial(request.GET.get("template", "")))
    context = {
        **model_admin.admin_site.each_context(request), "opts": model_admin.opts,
        "title": "Draft a contract from the buyer's samples", "form": form, "draft": draft,
        "endpoints": _endpoints_shown(draft.document) if draft else [], "problems": problems,
        "templates": TEMPLATES.values(),
        "endpoint_fields": [(kind, form.fields_of(kind)) for kind in _KINDS],
    }
    return TemplateResponse(request, "admin/buyers/contract/draft.html", context)


def _create(request: HttpRequest, draft: Draft) -> tuple[HttpResponse | None, list[str]]:
    """The drafted contract, validated and written as the staff API would; a redirect to
    its page, or the problems that keep it from being saved."""
    if "buyer" not in draft.document:
        return None, ["buyer: choose the buyer this contract belongs to."]
    serializer = ContractInputSerializer(data=draft.document)
    if not serializer.is_valid():
        return None, [f"{path}: {message}" for path, messages_ in
                      flatten_errors(serializer.errors).items() for message in messages_]
    contract = contract_create(**serializer.validated_data)
    audit_record(request.user, contract, "Added from the buyer's samples.", action="add")
    messages.success(request, f"{contract} was drafted from the samples and saved in "
                              "testing: run a test round trip, then switch it live.")
    return HttpResponseRedirect(reverse("admin:buyers_contract_change",
                                        args=[contract.pk])), []
