"""Buyers and contracts in the admin: a contract and all its rules on one screen, checked as
a whole before anything is saved, with the tools an account manager needs to switch a buyer
on — send a test ping, preview the payloads, see cap usage and health, pause and resume."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from apps.auctions.admin.drafting import contract_draft_view
from apps.auctions.admin.onboarding import contracts_go_live, floor_html
from apps.auctions.admin.pickers import MappingForm, mapping_pickers
from apps.auctions.disclosure import (
    exchange_hidden,
    previews_hidden,
    round_trip_hidden,
    tool_private_keys,
)
from apps.auctions.health import contract_switch
from apps.auctions.selectors import (
    contract_cap_usage,
    contract_health,
    contract_recent_leads,
    contract_sample_lead,
)
from apps.auctions.services.diagnostics import (
    contract_payload_preview,
    contract_test_ping,
    contract_test_round_trip,
    test_flag_text,
)
from apps.buyers.drafting import TEMPLATES
from apps.buyers.models import (
    Buyer,
    Contract,
    ContractCap,
    ContractFilter,
    ContractSecret,
    ContractStatus,
    Endpoint,
    EndpointKind,
    FieldMapping,
    ScheduleWindow,
)
from apps.buyers.validation import ContractDraft, contract_draft_errors, wire_key
from apps.core.audit import audit_record
from apps.core.exceptions import ApplicationError
from apps.leads.disclosure import Where, can_reveal
from apps.leads.models import Lead


class SampleLeadForm(forms.Form):
    """The lead a test ping or a payload preview is built from: its public id (the UUID the
    API answers) or its number in these admin pages; empty = a sample built from the
    vertical's field examples. Anything else is a form error, and nothing is sent."""

    lead = forms.CharField(
        required=False, max_length=64, label="Lead id (optional)",
        widget=forms.TextInput(attrs={"size": 40, "list": "recent-leads"}),
        help_text="The lead's id as the API shows it (a UUID) or its number in the admin.")
    reveal = forms.BooleanField(
        required=False, label="Show its personal data",
        help_text="A lead's personal data in the post is hidden unless you reveal it "
                  "(permission \"Can reveal consumers' personal data\"; written to the "
                  "audit log).")

    def __init__(self, *args, contract: Contract, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.contract = contract

    def clean_lead(self) -> Lead | None:
        value = self.cleaned_data["lead"].strip()
        if not value:
            return None
        if value.isdecimal():
            lead = Lead.objects.filter(pk=int(value),
                                       vertical_id=self.contract.vertical_id).first()
        else:
            try:
                uuid.UUID(value)
            except ValueError:
                raise forms.ValidationError(
                    "Enter a lead id: the UUID the API answers (e.g. "
                    "3f2a0c1e-8d4b-4e57-9a1c-2b7d5e6f8a90) or the lead's number in the "
                    "admin.") from None
            lead = contract_sample_lead(self.contract, value)
        if lead is None:
            raise forms.ValidationError(
                f"No {self.contract.vertical} lead has the id {value}.")
        return lead


def _private_keys(request: HttpRequest, form: SampleLeadForm) -> frozenset[str] | None:
    """What a tool run must hide of the form's lead (None: nothing); a reveal is audited,
    and PermissionDenied without the permission."""
    return tool_private_keys(request.user, form.cleaned_data["lead"],
                             reveal=form.cleaned_data["reveal"], where=Where.ADMIN)


class ContractInline(admin.TabularInline):
    model = Contract
    extra = 0
    fields = ["name", "vertical", "status", "mode", "exclusive", "priority", "auto_paused_at"]
    readonly_fields = ["auto_paused_at"]
    show_change_link = True


@admin.register(Buyer)
class BuyerAdmin(admin.ModelAdmin):
    list_display = ["company", "status", "account_manager", "timezone", "quality_multiplier"]
    list_filter = ["status"]
    list_select_related = ["account_manager"]
    search_fields = ["company"]
    inlines = [ContractInline]
    def get_form(self, request, obj=None, change=False, **kwargs):
        """The form, plus (for a saved buyer) its full conversion postback URL, read-only,
        so an account manager can copy it for the buyer (apps.billing records the
        conversions)."""
        if obj is None or not obj.pk:
            return super().get_form(request, obj, change=change, **kwargs)
        url = request.build_absolute_uri(reverse("buyer-postback", args=[obj.postback_token]))
        field = forms.CharField(
            label="Conversion postback URL", required=False, disabled=True,
            initial=f"{url}?lead={{lead_id}}&event={{event}}&value={{value}}",
            widget=forms.TextInput(attrs={"size": 110, "readonly": True,
                                          "class": "postback-url"}),
            help_text="The buyer calls it (GET or POST) to report what became of a lead: "
                      "event a name such as policy_sold, value an amount (optional).")
        base = kwargs.pop("form", self.form)
        form = type(base.__name__, (base,), {"postback_url": field})
        return super().get_form(request, obj, change=change, form=form, **kwargs)


class FilterInline(admin.TabularInline):
    model = ContractFilter
    extra = 0


class CapInline(admin.TabularInline):
    model = ContractCap
    extra = 0


class ScheduleInline(admin.TabularInline):
    model = ScheduleWindow
    extra = 0


class WriteOnlySecretField(forms.CharField):
    """A secret typed in but never shown back: the input is always empty, and left empty it
    keeps the stored value (the form's ``clean_<name>`` puts it back)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(required=False, strip=False,
                         widget=forms.PasswordInput(render_value=False), **kwargs)

    def has_changed(self, initial, data) -> bool:
        return bool(data)  # an empty input means "keep", not "changed to empty"


class EndpointForm(forms.ModelForm):
    auth_secret = WriteOnlySecretField(
        max_length=1000, label="Auth secret",
        help_text="Token, password or client secret; never shown. Leave empty to keep the "
                  "stored one.")

    class Meta:
        model = Endpoint
        fields = ["auth_secret"]  # the admin adds the fieldsets' fields

    def clean_auth_secret(self) -> str:
        return self.cleaned_data.get("auth_secret") or self.instance.auth_secret


class SecretForm(forms.ModelForm):
    value = WriteOnlySecretField(max_length=1000,
                                 help_text="Never shown. Leave empty to keep the stored one.")

    class Meta:
        model = ContractSecret
        fields = ["name", "value"]

    def clean_value(self) -> str:
        value = self.cleaned_data.get("value") or self.instance.value
        if not value:
            raise forms.ValidationError("Give the secret's value.")
        return value


class SecretInline(admin.TabularInline):
    model = ContractSecret
    form = SecretForm
    extra = 0
    verbose_name_plural = ("Secrets (API tokens, vendor keys: write @secret.<name> as a "
                           "mapping source, {secret.<name>} in a URL or header)")


class EndpointInline(admin.StackedInline):
    model = Endpoint
    form = EndpointForm
    extra = 0
    max_num = 2
    fieldsets = [
        (None, {"fields": [("kind", "method", "body_format", "key_style", "timeout_ms"), "url",
                           "sandbox_url",
                           ("auth_type", "auth_name", "auth_username", "auth_secret"),
                           ("oauth_token_url", "xml_root"), "headers"]}),
        ("Response rules", {"fields": [("response_format", "success_statuses"),
                                       ("success_path", "success_values", "success_regex"),
                                       ("price_path", "token_path", "reason_path")]}),
    ]


class MappingFormSet(BaseInlineFormSet):
    """The mapping rows of one endpoint kind, shown as their own table on the contract."""

    kind = ""

    @classmethod
    def get_default_prefix(cls) -> str:
        return f"mappings-{cls.kind}"

    def get_queryset(self):
        return super().get_queryset().filter(kind=self.kind)

    def save_new(self, form, commit=True):
        form.instance.kind = self.kind
        return super().save_new(form, commit)


class PingMappingFormSet(MappingFormSet):
    kind = EndpointKind.PING


class ContractCheckFormSet(MappingFormSet):
    """The post mappings — and, being the last table of the page, the place where the whole
    contract is checked once every other table is clean (``siblings``: all formsets)."""

    kind = EndpointKind.POST
    siblings: list = []

    def clean(self) -> None:
        super().clean()
        contract = self.instance
        if contract.vertical_id is None or any(fs.errors and any(fs.errors)
                                               for fs in self.siblings if fs is not self):
            return
        rows = {fs: [f for f in fs.forms if f.has_changed() or f.instance.pk]
                for fs in self.siblings}
        rows = {fs: [f for f in forms_ if f.cleaned_data and not f.cleaned_data.get("DELETE")]
                for fs, forms_ in rows.items()}
        by_model = {fs.model: fs for fs in self.siblings if not isinstance(fs, MappingFormSet)}
        mapping_sets = {fs.kind: fs for fs in self.siblings if isinstance(fs, MappingFormSet)}
        endpoint_forms = {f.cleaned_data["kind"]: f for f in rows.get(by_model[Endpoint], [])}
        mapping_forms = {kind: rows[fs] for kind, fs in mapping_sets.items()}
        secret_forms = {f.cleaned_data["name"]: f
                        for f in rows.get(by_model.get(ContractSecret), [])}
        # without the secrets table (no permission for it), the stored secrets stand
        secret_names = (frozenset(secret_forms) if ContractSecret in by_model
                        else frozenset(contract.secrets.values_list("name", flat=True))
                        if contract.pk else frozenset())
        fields = list(contract.vertical.fields.values_list("key", "pii"))
        draft = ContractDraft(
            mode=contract.mode,
            field_keys=frozenset(k for k, _ in fields),
            pii_keys=frozenset(k for k, pii in fields if pii),
            endpoints={kind: f.cleaned_data for kind, f in endpoint_forms.items()},
            mappings={kind: [f.cleaned_data for f in fs] for kind, fs in mapping_forms.items()},
            filters=[f.cleaned_data for f in rows.get(by_model[ContractFilter], [])],
            secret_names=secret_names,
            test_flag={name: getattr(contract, name) for name in (
                "test_flag", "test_flag_key", "test_flag_value", "test_flag_type")},
        )
        problems = contract_draft_errors(draft)
        if not problems:
            return
        filter_forms = rows.get(by_model[ContractFilter], [])
        for where, messages_ in problems.items():
            form, name = _form_for(where, endpoint_forms, mapping_forms, filter_forms,
                                   secret_forms)
            for message in messages_:
                if form is not None and name in form.fields:
                    form.add_error(name, message)
        raise forms.ValidationError(
            [f"{where}: {message}" for where, ms in problems.items() for message in ms])


def _form_for(where: str, endpoint_forms, mapping_forms, filter_forms, secret_forms):
    """The form and field a problem path (``mappings.post.2.source``) points at."""
    parts = where.split(".")
    try:
        if parts[0] == "secrets":
            return secret_forms.get(parts[1]), "name"
        if parts[0] == "endpoints":
            return endpoint_forms.get(parts[1]), parts[2] if len(parts) > 2 else None
        if parts[0] == "mappings":
            return mapping_forms.get(parts[1], [])[int(parts[2])], parts[3]
        if parts[0] == "filters":
            return filter_forms[int(parts[1])], parts[2]
    except (IndexError, ValueError):
        pass
    return None, None


class _MappingInline(admin.TabularInline):
    model = FieldMapping
    form = MappingForm
    extra = 0
    fields = ["position", "target", "source", "constant", "constant_type", "transform", "arg",
              "wire_key"]
    readonly_fields = ["wire_key"]

    @admin.display(description="sent as")
    def wire_key(self, row: FieldMapping) -> str:
        """The exact form/query key of a saved row (json and xml bodies nest: blank)."""
        endpoint = next((e for e in row.contract.endpoints.all() if e.kind == row.kind),
                        None) if row.pk else None
        if endpoint is None:
            return ""
        return wire_key(row.target, body_format=endpoint.body_format,
                        key_style=endpoint.key_style) or ""


class PingMappingInline(_MappingInline):
    formset = PingMappingFormSet
    verbose_name = "ping field"
    verbose_name_plural = "Ping mapping (what the buyer receives on ping; PII never allowed)"


class PostMappingInline(_MappingInline):
    formset = ContractCheckFormSet
    verbose_name = "post field"
    verbose_name_plural = "Post mapping (what the buyer receives on post; carry @ping.token)"


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = ["__str__", "vertical", "state", "mode", "exclusive", "priority",
                    "auto_paused_at"]
    list_filter = ["status", "mode", "exclusive", "vertical"]
    list_select_related = ["buyer", "vertical"]
    search_fields = ["name", "buyer__company"]
    readonly_fields = ["auto_paused_at", "auto_pause_reason", "last_health_ping_at",
                       "posts_recent", "accepted_recent", "floor_applies"]
    filter_horizontal = ["allowed_sources", "blocked_sources"]
    inlines = [EndpointInline, SecretInline, FilterInline, CapInline, ScheduleInline,
               PingMappingInline, PostMappingInline]
    change_form_template = "admin/buyers/contract/change_form.html"
    change_list_template = "admin/buyers/contract/change_list.html"
    fieldsets = [
        (None, {"fields": [("buyer", "vertical"), ("name", "status", "mode")]}),
        ("Price and ranking", {"fields": [("fixed_price", "min_bid"), "floor_applies",
                                          ("bid_multiplier", "bid_penalty"),
                                          ("priority", "weight", "traffic_share_pct")]}),
        ("Sale", {"fields": [("exclusive", "shared_max_sales"),
                             ("is_secondary", "accepts_test_leads"), "consent_brand"]}),
        ("Tests on the wire", {
            "fields": [("test_flag", "test_flag_key", "test_flag_value", "test_flag_type")],
            "description": "How the test ping and the test round trip tell this buyer they "
                           "are tests: a field in the body, a header, or each endpoint's "
                           "sandbox URL."}),
        ("Returns", {"fields": [("return_window_days", "return_cap_pct", "return_cap_days")],
                     "description": "How long after a sale the buyer may return the lead "
                                    "(0: no returns), and at most what share of the "
                                    "contract's sales over the cap period."}),
        ("Sources", {"fields": ["allowed_sources", "blocked_sources"],
                     "classes": ["collapse"]}),
        ("Health settings", {"fields": [("slow_threshold_ms", "slow_count", "error_count",
                                         "health_ping_interval_s")],
                             "classes": ["collapse"]}),
    ]

    actions = ["go_live"]

    @admin.display(description="Floor that applies")
    def floor_applies(self, contract: Contract) -> str:
        return floor_html(contract)

    @admin.display(description="status", ordering="status")
    def state(self, contract: Contract) -> str:
        """What the contract does with live traffic, in words."""
        if contract.status == ContractStatus.TESTING:
            return "testing — no live traffic"
        if contract.status == ContractStatus.PAUSED:
            return "paused"
        return "live, auto-paused" if contract.auto_paused_at else "live"

    @admin.action(description="Switch the selected contracts live (from testing)",
                  permissions=["change"])
    def go_live(self, request: HttpRequest, queryset) -> None:
        contracts_go_live(request, queryset)

    def _create_formsets(self, request, obj, change):
        # Django's private hook, the one place all of a form's formsets exist before they are
        # validated; django-stubs does not declare it.
        formsets, inline_instances = super()._create_formsets(  # type: ignore[misc]
            request, obj, change)
        for formset in formsets:
            if isinstance(formset, ContractCheckFormSet):
                formset.siblings = formsets
        return formsets, inline_instances

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("draft/", wrap(self.draft_view), name="buyers_contract_draft"),
            path("<int:contract_id>/test-ping/", wrap(self.test_ping_view),
                 name="buyers_contract_test_ping"),
            path("<int:contract_id>/round-trip/", wrap(self.round_trip_view),
                 name="buyers_contract_round_trip"),
            path("<int:contract_id>/preview/", wrap(self.preview_view),
                 name="buyers_contract_preview"),
            path("<int:contract_id>/switch/", wrap(require_POST(self.switch_view)),
                 name="buyers_contract_switch"),
            path("<int:contract_id>/go-live/", wrap(require_POST(self.go_live_view)),
                 name="buyers_contract_go_live"),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), **mapping_pickers(None), "draft_templates": [
            (slug, template.label) for slug, template in TEMPLATES.items()]}
        return super().add_view(request, form_url, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        contract = self.get_object(request, object_id)
        if contract is not None:
            extra_context = {**(extra_context or {}), **mapping_pickers(contract),
                             "health": contract_health(contract),
                             "cap_usage": contract_cap_usage(contract)}
        return super().change_view(request, object_id, form_url, extra_context)

    def _contract(self, request: HttpRequest, contract_id: int, *, change: bool) -> Contract:
        contract = get_object_or_404(Contract.objects.select_related("buyer", "vertical"),
                                     pk=contract_id)
        allowed = (self.has_change_permission(request, contract) if change
                   else self.has_view_permission(request, contract))
        if not allowed:
            raise PermissionDenied
        return contract

    def _render(self, request, template: str, contract: Contract, **context) -> HttpResponse:
        return TemplateResponse(request, template, {
            **self.admin_site.each_context(request), "opts": self.opts, "original": contract,
            "title": f"{context.pop('heading')}: {contract}", **context})

    def draft_view(self, request: HttpRequest) -> HttpResponse:
        return contract_draft_view(self, request)

    def test_ping_view(self, request: HttpRequest, contract_id: int) -> HttpResponse:
        contract = self._contract(request, contract_id, change=True)
        result = None
        form = SampleLeadForm(request.POST if request.method == "POST" else None,
                              contract=contract)
        if form.is_valid():
            private = _private_keys(request, form)
            result = contract_test_ping(contract, lead=form.cleaned_data["lead"])
            audit_record(request.user, contract, f"Sent a test {result.kind}: {result.outcome}.")
            if private is not None:
                result = exchange_hidden(result, private)
        return self._render(request, "admin/buyers/contract/test_ping.html", contract,
                            heading="Send test ping", result=result, form=form,
                            flagged=test_flag_text(contract),
                            can_reveal=can_reveal(request.user))

    def round_trip_view(self, request: HttpRequest, contract_id: int) -> HttpResponse:
        contract = self._contract(request, contract_id, change=True)
        result = None
        form = SampleLeadForm(request.POST if request.method == "POST" else None,
                              contract=contract)
        if form.is_valid():
            private = _private_keys(request, form)
            result = contract_test_round_trip(contract, lead=form.cleaned_data["lead"])
            audit_record(request.user, contract, f"Ran a test round trip: {result.outcome}.")
            if private is not None:
                result = round_trip_hidden(result, private)
        return self._render(request, "admin/buyers/contract/round_trip.html", contract,
                            heading="Test round trip", result=result, form=form,
                            flagged=test_flag_text(contract), has_change_permission=True,
                            can_reveal=can_reveal(request.user))

    def preview_view(self, request: HttpRequest, contract_id: int) -> HttpResponse:
        contract = self._contract(request, contract_id, change=False)
        form = SampleLeadForm(request.GET, contract=contract)
        previews = None
        if form.is_valid():
            # an explicit GET (the checkbox) may reveal here: a preview sends nothing
            private = _private_keys(request, form)
            previews = contract_payload_preview(contract, lead=form.cleaned_data["lead"])
            if private is not None:
                previews = previews_hidden(previews, private)
        return self._render(request, "admin/buyers/contract/preview.html", contract,
                            heading="Payload preview", previews=previews, form=form,
                            recent_leads=contract_recent_leads(contract),
                            can_reveal=can_reveal(request.user))

    def switch_view(self, request: HttpRequest, contract_id: int) -> HttpResponse:
        contract = self._contract(request, contract_id, change=True)
        on = request.POST.get("on") == "1"
        try:
            contract_switch(contract, on=on, reason=f"{'resumed' if on else 'paused'} by "
                                                    f"{request.user.get_username()}")
        except ApplicationError as error:
            messages.error(request, error.detail)
        else:
            audit_record(request.user, contract, "Resumed." if on else "Paused.")
            messages.success(request, f"{contract} is {'on' if on else 'paused'}.")
        return HttpResponseRedirect(reverse("admin:buyers_contract_change", args=[contract.pk]))

    def go_live_view(self, request: HttpRequest, contract_id: int) -> HttpResponse:
        contracts_go_live(request, [self._contract(request, contract_id, change=True)])
        return HttpResponseRedirect(reverse("admin:buyers_contract_change", args=[contract_id]))
