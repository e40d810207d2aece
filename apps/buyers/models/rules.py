"""A contract's rules as rows: filters, caps, schedule, endpoints, field mappings, secrets."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models

from apps.buyers.models.buyers import Contract
from apps.core.sealing import SealedTextField


class FilterOperator(models.TextChoices):
    EQ = "eq", "equals"
    NE = "ne", "does not equal"
    IN = "in", "is one of"
    NOT_IN = "not_in", "is none of"
    GT = "gt", ">"
    GTE = "gte", "≥"
    LT = "lt", "<"
    LTE = "lte", "≤"
    BETWEEN = "between", "between (inclusive)"
    CONTAINS = "contains", "contains"
    REGEX = "regex", "matches regex"
    EXISTS = "exists", "is present"
    NOT_EXISTS = "not_exists", "is missing"


class ContractFilter(models.Model):
    """The lead must satisfy every filter row of a contract to be offered to it."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="filters")
    field = models.CharField(max_length=63, help_text="A lead field key, or @source / @sub_id.")
    operator = models.CharField(max_length=12, choices=FilterOperator.choices)
    value = models.JSONField(
        default=None, null=True, blank=True,
        help_text='A value, a list for in/not_in, [low, high] for between.')

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.field} {self.operator} {self.value!r}"


class CapPeriod(models.TextChoices):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    TOTAL = "total"


class CapMetric(models.TextChoices):
    LEADS = "leads"
    SPEND = "spend"


class ContractCap(models.Model):
    """A limit per period (in the buyer's time zone) on leads bought or money spent."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="caps")
    period = models.CharField(max_length=8, choices=CapPeriod.choices)
    metric = models.CharField(max_length=8, choices=CapMetric.choices, default=CapMetric.LEADS)
    limit = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["contract", "period", "metric"],
                                               name="uniq_contract_cap")]

    def __str__(self) -> str:
        return f"{self.limit} {self.metric}/{self.period}"


class CapCounter(models.Model):
    """Usage of one cap in one window. Reserved with ``UPDATE … WHERE used + n <= limit``."""

    cap = models.ForeignKey(ContractCap, on_delete=models.CASCADE, related_name="counters")
    window_start = models.DateTimeField()
    used = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    # room held for pinged leads not posted yet (apps.auctions.caps): the sum of the window's
    # live CapHold rows and of expired ones not yet swept, which a check subtracts
    held = models.DecimalField(max_digits=12, decimal_places=2, default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cap", "window_start"],
                                               name="uniq_cap_window")]

    def __str__(self) -> str:
        return f"{self.cap_id} from {self.window_start:%Y-%m-%d %H:%M}: {self.used}"


class ScheduleWindow(models.Model):
    """Weekly open hours in the buyer's time zone; a contract without rows is always open."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="schedule")
    weekday = models.PositiveSmallIntegerField(
        choices=[(0, "Monday"), (1, "Tuesday"), (2, "Wednesday"), (3, "Thursday"),
                 (4, "Friday"), (5, "Saturday"), (6, "Sunday")])
    opens_at = models.TimeField()
    closes_at = models.TimeField(help_text="Exclusive; 00:00 means midnight (end of day).")

    class Meta:
        ordering = ["weekday", "opens_at"]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens_at:%H:%M}–{self.closes_at:%H:%M}"


class EndpointKind(models.TextChoices):
    PING = "ping"
    POST = "post"


class BodyFormat(models.TextChoices):
    JSON = "json"
    FORM = "form"
    XML = "xml"
    QUERY = "query"


class KeyStyle(models.TextChoices):
    """How a form or query body spells a nested target such as ``Lead.FirstName``."""

    BRACKETS = "brackets", "Brackets: Lead[FirstName]"
    DOTTED = "dotted", "Dotted: Lead.FirstName"
    FLAT = "flat", "Flat: single keys only"


class AuthType(models.TextChoices):
    NONE = "none"
    HEADER = "header", "Header (name: secret)"
    BEARER = "bearer", "Bearer token"
    BASIC = "basic", "Basic (user / password)"
    QUERY_KEY = "query_key", "Query-string key"
    OAUTH2 = "oauth2", "OAuth2 client credentials"


class ResponseFormat(models.TextChoices):
    JSON = "json"
    XML = "xml"
    FORM = "form"
    TEXT = "text"


class Endpoint(models.Model):
    """Where and how a contract is pinged or posted, and how its answers are read."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="endpoints")
    kind = models.CharField(max_length=4, choices=EndpointKind.choices)
    url = models.URLField(max_length=1000)
    sandbox_url = models.URLField(
        max_length=1000, blank=True,
        help_text="Where test requests go when the contract flags tests with sandbox URLs.")
    method = models.CharField(max_length=6, default="POST",
                              choices=[("POST", "POST"), ("GET", "GET"), ("PUT", "PUT")])
    body_format = models.CharField(max_length=5, choices=BodyFormat.choices,
                                   default=BodyFormat.JSON)
    xml_root = models.CharField(max_length=64, default="lead", blank=True)
    key_style = models.CharField(
        max_length=8, choices=KeyStyle.choices, default=KeyStyle.BRACKETS,
        help_text="Form and query bodies: how a nested target is spelled on the wire. Escape "
                  "a literal dot or bracket in a target with a backslash (Lead\\.FirstName).")
    headers = models.JSONField(default=dict, blank=True)
    timeout_ms = models.PositiveIntegerField(default=1000)
    auth_type = models.CharField(max_length=10, choices=AuthType.choices, default=AuthType.NONE)
    auth_name = models.CharField(max_length=128, blank=True,
                                 help_text="Header name or query parameter name.")
    auth_username = models.CharField(max_length=255, blank=True,
                                     help_text="Basic user or OAuth2 client id.")
    auth_secret = SealedTextField(max_length=1000, blank=True, purpose="endpoint.auth_secret")
    oauth_token_url = models.URLField(max_length=1000, blank=True)

    response_format = models.CharField(max_length=5, choices=ResponseFormat.choices,
                                       default=ResponseFormat.JSON)
    success_statuses = models.JSONField(default=list, blank=True,
                                        help_text="Empty: 200, 201, 202.")
    success_path = models.CharField(max_length=255, blank=True)
    success_values = models.JSONField(default=list, blank=True)
    success_regex = models.CharField(max_length=255, blank=True)
    price_path = models.CharField(max_length=255, blank=True)
    token_path = models.CharField(max_length=255, blank=True)
    reason_path = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contract", "kind"],
                                               name="uniq_contract_endpoint_kind")]

    def __str__(self) -> str:
        return f"{self.kind} {self.url}"


class ConstantType(models.TextChoices):
    """How a mapping constant's text is typed on the wire (JSON ``false``, not ``"false"``)."""

    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    NULL = "null"


class FieldMapping(models.Model):
    """One key of the payload a buyer receives on a ping or a post: from a lead field, a
    context value (``@ping.token``, ``@lead.id`` …), a secret (``@secret.api_key``) or a
    typed constant, through an optional transform. No rows for a kind = every allowed field
    under its own name."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="mappings")
    kind = models.CharField(max_length=4, choices=EndpointKind.choices)
    target = models.CharField(max_length=255, help_text='e.g. "zip", "Lead.FirstName", '
                              '"drivers[0].age".')
    source = models.CharField(max_length=63, blank=True,
                              help_text="Lead field key or @context; empty for a constant.")
    constant = models.CharField(max_length=1000, blank=True, null=True)
    constant_type = models.CharField(
        max_length=8, choices=ConstantType.choices, default=ConstantType.STRING,
        help_text="How the constant is sent: 12 as a number, true as a boolean, null.")
    transform = models.CharField(max_length=32, blank=True)
    arg = models.CharField(max_length=1000, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["kind", "position", "id"]
        indexes = [models.Index(fields=["contract", "kind"], name="mapping_contract_kind")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.target} ← {self.source or repr(self.constant)}"


class ContractSecret(models.Model):
    """A secret value a contract sends its buyer (an API token in the body, a key in the
    query string), kept apart from the endpoint configuration: mapping rows read it as
    ``@secret.<name>``, URLs and header values write ``{secret.<name>}``. The value is never
    shown or returned by the API, and is masked wherever a request is stored, shown or
    logged (apps.buyers.transports.secrets). Sealed at rest (apps.core.sealing)."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="secrets")
    name = models.CharField(
        max_length=63, validators=[RegexValidator(
            r"^[A-Za-z_][A-Za-z0-9_]*\Z", "A name is letters, digits and _ (api_key).")])
    value = SealedTextField(max_length=1000, purpose="contract_secret.value")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["contract", "name"],
                                               name="uniq_contract_secret_name")]

    def __str__(self) -> str:
        return self.name  # never the value: this is what the admin history shows
