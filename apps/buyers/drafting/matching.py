"""One key of a buyer's sample request -> one mapping row: which lead field (or context
value, secret, constant) it carries, and through which transform.

A key is matched to a vertical field by its name (the field's key, or a common spelling of
the same thing: ``FirstName``, ``fname``, ``Primary_Phone``, ``DOB``) and by its value (the
sample lead's own value, in any spelling: ``5551234567`` is the phone ``+15551234567``).
The sample value's shape then picks the transform that writes the lead's value that way:
``04/12/1985`` is ``date_format %m/%d/%Y``, ``5551234567`` is ``phone_10``, ``Y`` is
``bool_yn``. Keys a ping may carry only as a derived value (an age, a birth year, a ZIP3)
read the PII field through the transform that derives it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

# Common spellings of the same field (lower-case letters and digits only), by field key and
# by field type: a vertical's "zip" field matches "PostalCode" through either.
NAME_SPELLINGS: dict[str, tuple[str, ...]] = {
    "first_name": ("firstname", "fname", "first", "givenname", "forename", "namefirst"),
    "last_name": ("lastname", "lname", "last", "surname", "familyname", "namelast"),
    "email": ("email", "emailaddress", "mail", "emailaddr", "contactemail"),
    "phone": ("phone", "phonenumber", "primaryphone", "homephone", "phonehome", "cellphone",
              "phonecell", "mobile", "mobilephone", "telephone", "tel", "phone1", "dayphone",
              "cell", "contactphone"),
    "address": ("address", "address1", "street", "streetaddress", "addressline1", "addr"),
    "city": ("city", "town"),
    "state": ("state", "statecode", "stateprovince", "province", "region", "st"),
    "zip": ("zip", "zipcode", "postalcode", "postcode", "zip5", "postal"),
    "date_of_birth": ("dob", "dateofbirth", "birthdate", "birthday"),
    "ip": ("ip", "ipaddress", "clientip", "userip", "ipaddr", "ipv4"),
    "vehicle_year": ("vehicleyear", "caryear", "autoyear", "modelyear"),
    "homeowner": ("homeowner", "ishomeowner", "ownhome", "homeownership", "ownshome"),
    "credit_rating": ("creditrating", "credit", "creditprofile", "selfcredit"),
    "income": ("income", "annualincome"),
    "website": ("website", "siteurl", "landingpage", "sourceurl", "landingpageurl"),
}
TYPE_SPELLINGS: dict[str, str] = {  # field type -> the spellings list it shares
    "email": "email", "phone": "phone", "zip": "zip", "state": "state",
    "date": "date_of_birth", "ip": "ip", "url": "website",
}
# Values derived from PII that a ping may carry (transform, field types it reads).
DERIVED_SPELLINGS: dict[str, tuple[str, tuple[str, ...]]] = {
    "age": ("age", ("date",)), "applicantage": ("age", ("date",)),
    "driverage": ("age", ("date",)), "consumerage": ("age", ("date",)),
    "birthyear": ("birth_year", ("date",)), "yob": ("birth_year", ("date",)),
    "yearofbirth": ("birth_year", ("date",)), "dobyear": ("birth_year", ("date",)),
    "zip3": ("zip3", ("zip",)), "zipprefix": ("zip3", ("zip",)),
    "areacode": ("phone_area_code", ("phone",)), "phoneareacode": ("phone_area_code", ("phone",)),
    "emaildomain": ("email_domain", ("email",)),
}
# Context values a request may carry, by spelling.
CONTEXT_SPELLINGS: dict[str, str] = {
    "pingtoken": "@ping.token", "pingid": "@ping.token", "bidid": "@ping.token",
    "bidtoken": "@ping.token", "leadtoken": "@ping.token", "pingref": "@ping.token",
    "lppingid": "@ping.token", "pingreference": "@ping.token",
    "leadid": "@lead.id", "externalid": "@lead.id", "partnerleadid": "@lead.id",
    "sellerleadid": "@lead.id", "uniqueid": "@lead.id", "vendorleadid": "@lead.id",
    "subid": "@sub_id", "subid1": "@sub_id", "lpsubid1": "@sub_id", "lps1": "@sub_id",
    "affiliatesubid": "@sub_id", "timestamp": "@now", "submittedat": "@now",
    "createdat": "@now", "leaddate": "@now", "leadtimestamp": "@now",
}
TEST_SPELLINGS = ("test", "testmode", "istest", "testlead", "lptest", "lpaction", "testflag",
                  "sandbox", "istestlead")
_TRUE_WORDS = frozenset({"1", "true", "yes", "y", "on", "test"})
_CREDENTIAL_WORDS = frozenset({"key", "token", "password", "passwd", "pwd", "secret",
                               "apikey", "apitoken", "apisecret", "auth", "signature", "sig",
                               "pass", "credential", "credentials"})
# Spellings of lead data a vertical may lack: unmatched rather than sent as a constant.
LEAD_DATA_SPELLINGS = frozenset({
    "middlename", "middleinitial", "gender", "sex", "maritalstatus", "occupation",
    "education", "income", "creditscore", "trustedform", "trustedformcerturl",
    "trustedformurl", "xxtrustedformcerturl", "jornaya", "jornayaleadid", "leadidtoken",
    "universalleadid", "tcpa", "tcpaconsent", "tcpatext", "consent", "useragent", "address2",
    "county", "country", "ssn", "driverslicense", "license", "vehiclemake", "vehiclemodel",
    "make", "model", "insured", "currentlyinsured", "currentinsurer", "insurancecompany",
    "homephone2", "workphone", "bestcalltime", "besttimetocall", "comments",
})
_DATE_LAYOUTS = ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y", "%Y/%m/%d", "%d/%m/%Y", "%d-%m-%Y",
                 "%m/%d/%y", "%Y%m%d", "%m%d%Y", "%d.%m.%Y", "%b %d, %Y", "%B %d, %Y")


@dataclass(frozen=True)
class FieldSpec:
    """A vertical field as drafting sees it, with its sample lead value (the vertical's
    example, None when it gives none)."""

    key: str
    type: str
    pii: bool = False
    sample: Any = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Match:
    """What one sample key became: a mapping row (``row``), a secret to store, a test flag,
    or nothing (``reason`` says why it stays unmatched)."""

    row: dict[str, Any] | None = None
    secret: tuple[str, str] | None = None  # (name, value)
    test_flag: tuple[str, Any] | None = None  # (target, the sample's value)
    reason: str = ""


def spelling(name: str) -> str:
    """A key as names are compared: lower-case letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", name.lower().lstrip("@"))


def key_match(
    target: str, name: str, value: Any, fields: Sequence[FieldSpec], *, kind: str,
    ping_token: str | None = None, ping_price: Decimal | None = None, has_ping: bool = True,
    typed: bool = True,
) -> Match:
    """The mapping of the sample leaf ``target`` (its last key ``name``, its sample
    ``value``) on a ``kind`` request (``ping``/``post``) of a vertical with ``fields``.
    ``ping_token`` and ``ping_price`` are what the sample ping answer carried: a post key
    holding one of them carries the live value (``@ping.token``, ``@ping.bid``). ``typed``:
    the sample's format has types (JSON), so a number written as text is sent as text."""
    said = spelling(name)
    text = _text(value)
    if kind == "post" and has_ping and text and (
            text == ping_token or (said in CONTEXT_SPELLINGS
                                   and CONTEXT_SPELLINGS[said] == "@ping.token")):
        return Match(row={"target": target, "source": "@ping.token"})
    if kind == "post" and ping_price is not None and _price(value) == ping_price:
        return Match(row={"target": target, "source": "@ping.bid"})
    derived = DERIVED_SPELLINGS.get(said)
    if derived is not None:
        source = _field_of_types(fields, derived[1], prefer=("date_of_birth",))
        if source is not None:
            return Match(row={"target": target, "source": source.key,
                              "transform": derived[0]})
    word = "true" if value is True else (text or "").lower()
    if said in TEST_SPELLINGS and word in _TRUE_WORDS:
        return Match(test_flag=(target, value))
    field_spec = _field_for(said, value, fields)
    if field_spec is not None:
        return _field_row(target, value, field_spec, kind=kind, typed=typed)
    context = CONTEXT_SPELLINGS.get(said)
    if context is not None and context != "@ping.token":
        return Match(row={"target": target, "source": context})
    if _credential(name) and text:
        return Match(row={"target": target, "source": f"@secret.{secret_name(name)}"},
                     secret=(secret_name(name), text))
    if said in LEAD_DATA_SPELLINGS or _looks_personal(text):
        return Match(reason="no field of the vertical holds this")
    return Match(row={"target": target, **constant_of(value)})


def constant_of(value: Any) -> dict[str, Any]:
    """A sample literal as a typed constant (a JSON false stays a boolean)."""
    if value is None:
        return {"constant": None, "constant_type": "null"}
    if isinstance(value, bool):
        return {"constant": "true" if value else "false", "constant_type": "boolean"}
    if isinstance(value, int):
        return {"constant": str(value), "constant_type": "integer"}
    if isinstance(value, Decimal | float):
        return {"constant": str(value), "constant_type": "decimal"}
    if isinstance(value, dict | list):  # an empty object or list
        return {"constant": "", "constant_type": "string"}
    return {"constant": str(value), "constant_type": "string"}


def secret_name(name: str) -> str:
    """A secret's name for a credential key: ``API-Key`` -> ``api_key``."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.lstrip("@"))
    snake = re.sub(r"[^A-Za-z0-9]+", "_", words).strip("_").lower() or "key"
    return snake if not snake[0].isdigit() else f"_{snake}"


def _credential(name: str) -> bool:
    words = set(secret_name(name).split("_"))
    if words & _CREDENTIAL_WORDS:
        return True
    return "api" in words and words - {"api", "id", "user", "username"} == set() and (
        len(words) > 1 or name.lower() == "api")


def _field_for(said: str, value: Any, fields: Sequence[FieldSpec]) -> FieldSpec | None:
    """The field a key is: by name first — the field's own key or spellings, then the
    spellings of its type, then its key ending a longer name — when the value fits the
    field; else by value, the sample lead's own value in any spelling."""
    for named in (_named_exactly, _named_by_type, _named_by_suffix):
        for spec in fields:
            if named(said, spec) and _fits(value, spec):
                return spec
    by_value = [spec for spec in fields if spec.sample is not None and _same(value, spec)]
    if len(by_value) == 1:
        return by_value[0]
    return None  # several fields share the sample value: too close to call


def _named_exactly(said: str, spec: FieldSpec) -> bool:
    return said == spelling(spec.key) or said in NAME_SPELLINGS.get(spec.key, ())


def _named_by_type(said: str, spec: FieldSpec) -> bool:
    shared = TYPE_SPELLINGS.get(spec.type)
    return shared is not None and said in NAME_SPELLINGS.get(shared, ())


def _named_by_suffix(said: str, spec: FieldSpec) -> bool:
    """"ContactFirstName", "Lead_ZipCode": the field's own key ending a longer name (not
    a spelling of other lead data, such as "WorkPhone")."""
    own = spelling(spec.key)
    return len(own) >= 4 and said.endswith(own) and said not in LEAD_DATA_SPELLINGS


def _fits(value: Any, spec: FieldSpec) -> bool:
    """Whether a sample value could be this field's, in some spelling."""
    text = _text(value)
    if text is None:
        return value is None or (isinstance(value, bool) and spec.type == "boolean")
    if spec.type == "phone":
        return len(re.sub(r"\D", "", text)) in (10, 11)
    if spec.type == "date":
        return _date_layout(text) is not None
    if spec.type == "zip":
        return re.fullmatch(r"\d{5}(?:-?\d{4})?", text) is not None
    if spec.type == "email":
        return "@" in text
    if spec.type in ("integer", "decimal"):
        return _price(value) is not None or re.fullmatch(r"-?\d+", text) is not None
    if spec.type == "boolean":
        return text.lower() in {"1", "0", "true", "false", "yes", "no", "y", "n"}
    if spec.type == "state":
        return re.fullmatch(r"[A-Za-z]{2}", text) is not None or len(text) > 3
    return True


def _same(value: Any, spec: FieldSpec) -> bool:
    """Whether a sample value is the field's sample value, spelled some way."""
    text, sample = _text(value), _text(spec.sample)
    if text is None or sample is None:
        return False
    if text.strip().casefold() == sample.strip().casefold():
        return True
    if spec.type == "phone":
        digits, own = re.sub(r"\D", "", text), re.sub(r"\D", "", sample)
        return len(digits) >= 10 and own.endswith(digits[-10:])
    if spec.type == "date":
        layout = _date_layout(text)
        return layout is not None and _parsed(text, layout) == _iso_date(sample)
    return False


def _field_row(target: str, value: Any, spec: FieldSpec, *, kind: str, typed: bool) -> Match:
    if kind == "ping" and spec.pii:
        return Match(reason=f"'{spec.key}' is personal data, never sent on a ping (ask the "
                            "buyer for a value derived from it: an age, a ZIP3 …)")
    row: dict[str, Any] = {"target": target, "source": spec.key}
    transform, arg = _transform(value, spec, typed=typed)
    if transform:
        row["transform"] = transform
        if arg:
            row["arg"] = arg
    return Match(row=row)


def _transform(value: Any, spec: FieldSpec, *, typed: bool) -> tuple[str, str]:
    """The transform (and its argument) writing the field's value as the sample spells it."""
    text = _text(value)
    if text is None:
        return ("bool_10", "") if isinstance(value, bool) and spec.type != "boolean" else (
            "", "")
    digits = re.sub(r"\D", "", text)
    if spec.type == "phone":
        if text.startswith("+"):
            return "phone_e164", ""
        if re.fullmatch(r"\d{3}-\d{3}-\d{4}", text):
            return "phone_dashed", ""
        return ("digits_only", "") if len(digits) == 11 else ("phone_10", "")
    if spec.type == "date":
        layout = _date_layout(text)
        # spelled out even for ISO dates: the row says what the buyer wants, whatever the
        # lead's own storage
        return ("date_format", layout) if layout else ("", "")
    if spec.type == "boolean":
        word = text.lower()
        if isinstance(value, int) or word in ("1", "0"):
            return "bool_10", ""
        if word in ("y", "n"):
            return "bool_yn", ""
        if word in ("yes", "no"):
            return "bool_text", "Yes|No" if text[0].isupper() else "yes|no"
        return "", ""
    if spec.type in ("integer", "decimal") and isinstance(value, str) and typed:
        return "string", ""  # the buyer wants the number as text
    if spec.type == "zip" and len(digits) == 9:
        return "", ""
    sample = _text(spec.sample)
    if sample and text != sample and text.casefold() == sample.casefold():
        if text == sample.upper():
            return "upper", ""
        if text == sample.lower():
            return "lower", ""
        if text == sample.title():
            return "title", ""
    if spec.type == "choice" and text.casefold() in {c.casefold() for c in spec.choices}:
        # another choice than the sample's: its casing says how the buyer spells them all
        if text.isupper() and not all(c.isupper() for c in spec.choices):
            return "upper", ""
        if text.istitle() and not all(c.istitle() for c in spec.choices):
            return "title", ""
        if text.islower() and not all(c.islower() for c in spec.choices):
            return "lower", ""
    return "", ""


def _field_of_types(fields: Sequence[FieldSpec], types: tuple[str, ...], *,
                    prefer: tuple[str, ...] = ()) -> FieldSpec | None:
    candidates = [spec for spec in fields if spec.type in types]
    return next((spec for spec in candidates if spec.key in prefer),
                candidates[0] if candidates else None)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, bool | dict | list):
        return None
    return str(value)


def _price(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        return None
    return amount if amount.is_finite() else None


def _date_layout(text: str) -> str | None:
    for layout in _DATE_LAYOUTS:
        # month-first layouts come first: 04/12/1985 is April 12th, 25/12/1985 day-first
        try:
            datetime.strptime(text.strip(), layout)
        except ValueError:
            continue
        return layout
    return None


def _parsed(text: str, layout: str) -> date:
    return datetime.strptime(text.strip(), layout).date()


def _iso_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _looks_personal(text: str | None) -> bool:
    """An e-mail address or a phone number: lead data that must not go out as a constant."""
    if not text:
        return False
    return bool(re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text.strip()) or re.fullmatch(
        r"\+?1?[\s.-]?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}", text.strip()))
