"""What the contract admin says and does about a contract being onboarded: switching
contracts in testing live (the page's button, the list's action) and the floor a bid must
reach, shown next to the bid settings."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib import messages
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from apps.auctions.health import contract_go_live
from apps.auctions.selectors import contract_floors
from apps.buyers.models import Contract, ContractStatus
from apps.core.audit import audit_record
from apps.core.exceptions import ApplicationError


def contracts_go_live(request: HttpRequest, contracts: Iterable[Contract]) -> None:
    """Switch the ``contracts`` in testing live, each written to its history; says what
    became of them in the admin's messages (a paused one is refused: it is resumed)."""
    switched, refused = [], []
    for contract in contracts:
        if contract.status != ContractStatus.TESTING:
            refused.append(f"{contract} is not in testing")
            continue
        try:
            contract_go_live(contract, reason=f"switched live by {request.user.get_username()}")
        except ApplicationError as error:
            refused.append(f"{contract}: {error.detail}")
            continue
        audit_record(request.user, contract, "Switched live.")
        switched.append(contract)
    if len(switched) == 1:
        messages.success(request, f"{switched[0]} is live: it takes live leads from the next "
                                  "auction.")
    elif switched:
        messages.success(request, f"{len(switched)} contracts switched live.")
    for problem in refused:
        messages.warning(request, f"{problem}; left as it is.")


def floor_html(contract: Contract) -> str:
    """The floor a bid of ``contract`` must reach: for most leads (the vertical's default
    floor or the contract's minimum bid, whichever is higher), and for the sources whose
    own floor is higher."""
    if contract.pk is None:
        return ("The vertical's default floor, each source's floor and this minimum bid: the "
                "highest applies (shown once saved).")
    floors = contract_floors(contract)
    base = format_html("<strong class=\"floor-base\">{}</strong> for most leads (vertical "
                       "default {}{})", floors.base, floors.vertical,
                       format_html(", this contract's minimum bid {}", floors.min_bid)
                       if floors.min_bid is not None else "")
    if not floors.by_source:
        return format_html("<span class=\"bid-floor\">{}</span>", base)
    return format_html("<span class=\"bid-floor\">{}; leads of {}</span>", base,
                       format_html_join(", ", "{} <strong>{}</strong>", floors.by_source))
