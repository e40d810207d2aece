"""One-to-one consent ("ping, pick, post").

Consent rules push toward a consumer agreeing to be contacted by each named company rather
than by "marketing partners". The flow:

1. the source pings with ``"one_to_one": true``: the contracts that take part (a
   ``consent_brand`` set by their account manager) are pinged, and the answer lists the
   bidders' public brand names, best first, without prices (``ping_brands``);
2. the source shows those brands to the consumer with a consent text each;
3. its post names the brands the consumer picked (``consent.one_to_one``: brand and text),
   checked against the listing (``picks_check``); the lead keeps them in ``Lead.consent``.

From then on the lead reaches only contracts of a picked brand — in the replayed ranking,
the fallback, a secondary re-ping, a scheduled retry or a re-drive alike, since the picks
travel with the lead (``consent_brands``) and the engine's eligibility excludes every other
contract (``not_picked``). Each sale stores its evidence (``sale_evidence``), and the post
mapping can send it to the buyer (``@consent.*`` keys, ``post_context``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from apps.auctions.engine import Ranking
from apps.auctions.setups import ContractSetup


def consent_brands(consent: Mapping[str, Any]) -> frozenset[str] | None:
    """The brand keys a lead's one-to-one consent names (None: no such consent)."""
    picks = consent.get("one_to_one") if isinstance(consent, Mapping) else None
    if not picks:
        return None
    return frozenset(str(pick["brand"]) for pick in picks if isinstance(pick, Mapping))


def taking_part(setups: Mapping[int, ContractSetup]) -> frozenset[str]:
    """Every brand key a one-to-one ping may list: the contracts that opted in."""
    return frozenset(s.terms.consent_brand for s in setups.values() if s.terms.consent_brand)


def ping_brands(ranking: Ranking, setups: Mapping[int, ContractSetup]) -> list[dict[str, str]]:
    """The bidders' brands, best bid first, each once: ``{"brand": key, "name": name}``."""
    listed: dict[str, str] = {}
    for ranked in ranking.ranked:
        setup = setups[ranked.bid.contract_id]
        if setup.terms.consent_brand and setup.terms.consent_brand not in listed:
            listed[setup.terms.consent_brand] = setup.brand
    return [{"brand": key, "name": name} for key, name in listed.items()]


def picks_check(listed: Sequence[Mapping[str, str]], consent: Any) -> dict[str, list[str]]:
    """The errors of a post's picks against the brands its ping listed (by dotted key)."""
    picks = consent.get("one_to_one") if isinstance(consent, Mapping) else None
    keys = [b["brand"] for b in listed]
    if not picks or not isinstance(picks, list):
        return {"consent.one_to_one": [
            "This ping listed brands for one-to-one consent: name the ones the consumer "
            f"picked (listed: {', '.join(keys) or 'none'})."]}
    errors: dict[str, list[str]] = {}
    for index, pick in enumerate(picks):
        brand = pick.get("brand") if isinstance(pick, Mapping) else None
        if isinstance(brand, str) and brand not in keys:
            errors[f"consent.one_to_one.{index}.brand"] = [
                f"'{brand}' was not listed by this ping (listed: {', '.join(keys)})."]
    return errors


def _pick(consent: Mapping[str, Any], brand: str) -> Mapping[str, Any] | None:
    return next((p for p in consent.get("one_to_one") or () if p.get("brand") == brand), None)


def _picked_names(consent: Mapping[str, Any], setups: Mapping[int, ContractSetup]) -> list[str]:
    names = {s.terms.consent_brand: s.brand for s in setups.values() if s.terms.consent_brand}
    return [names.get(p["brand"], p["brand"]) for p in consent.get("one_to_one") or ()]


def sale_evidence(consent: Mapping[str, Any], setup: ContractSetup,
                  setups: Mapping[int, ContractSetup]) -> dict[str, Any] | None:
    """What a sale to ``setup`` keeps as proof of the consumer's one-to-one consent: the
    brand and the text shown for it, every brand picked, when, and the certificate URL;
    None for a lead without such consent."""
    pick = _pick(consent, setup.terms.consent_brand) if consent_brands(consent) else None
    if pick is None:
        return None
    return {"brand": setup.brand, "brand_key": setup.terms.consent_brand,
            "text": pick.get("text", ""), "picked": _picked_names(consent, setups),
            "consented_at": consent.get("consented_at", ""),
            "certificate_url": consent.get("trustedform_cert_url", "")}


def post_context(evidence: Mapping[str, Any] | None,
                 consent: Mapping[str, Any]) -> dict[str, Any]:
    """The ``@consent.*`` values a post mapping may send: the one-to-one evidence for this
    buyer when there is some, and the lead's consent tokens either way."""
    context = {"consent.certificate_url": consent.get("trustedform_cert_url"),
               "consent.jornaya_leadid": consent.get("jornaya_leadid"),
               "consent.text": consent.get("tcpa_text"),
               "consent.consented_at": consent.get("consented_at")}
    if evidence is not None:
        context.update({"consent.brand": evidence["brand"], "consent.text": evidence["text"],
                        "consent.picked": ", ".join(evidence["picked"])})
    return context
