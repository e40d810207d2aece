"""Pages and public endpoints outside the JSON API: the buyers' conversion postback and the
staff ledger page."""

from __future__ import annotations

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.billing.api.serializers import (
    LedgerQuerySerializer,
    LedgerRangeSerializer,
    ledger_data,
)
from apps.billing.ledger import BUYER, MOVEMENTS, SOURCE, ledger_build, ledger_csv, ledger_summary
from apps.billing.services import conversion_record
from apps.buyers.models import Buyer
from apps.core.exceptions import ApplicationError, flatten_errors
from apps.core.ratelimit import rate_limit_take
from apps.sources.models import Source


@csrf_exempt  # called by the buyer's server, never from a browser session
@require_http_methods(["GET", "POST"])
def conversion_postback(request: HttpRequest, token: str) -> HttpResponse:
    """``/postback/b/<token>?lead=<uuid>&event=<name>&value=<amount>`` (GET, or POST with a
    form or query): record a conversion for the buyer whose postback token this is.

    200 ``{"recorded": true, …}`` the first time, ``{"recorded": false, …}`` for a repeat;
    404 for an unknown token (``not_found``) or a lead this buyer never bought
    (``not_your_lead``); 400 ``{"errors": …}`` naming a missing or bad parameter; 429 over
    ``BUYER_POSTBACK_RATE_PER_MINUTE`` per buyer."""
    buyer = Buyer.objects.filter(postback_token=token).only("pk").first() if token else None
    if buyer is None:
        return JsonResponse({"detail": "Unknown postback URL.", "code": "not_found"}, status=404)
    decision = rate_limit_take(f"buyer-postback:{buyer.pk}",
                               limit=settings.BUYER_POSTBACK_RATE_PER_MINUTE)
    if not decision.allowed:
        answer = JsonResponse({"detail": "Rate limit exceeded.", "code": "throttled"},
                              status=429)
        answer["Retry-After"] = str(decision.retry_after)
        return answer
    params = {**request.GET.dict(), **request.POST.dict()}
    missing = {name: ["This parameter is required."] for name in ("lead", "event")
               if not params.get(name, "").strip()}
    if missing:
        return JsonResponse({"errors": missing}, status=400)
    try:
        conversion, created = conversion_record(buyer=buyer, lead_uuid=params["lead"].strip(),
                                                event=params["event"],
                                                value=params.get("value"))
    except ApplicationError as error:
        return JsonResponse(error.body(), status=error.status_code)
    return JsonResponse({
        "recorded": created, "lead": str(conversion.lead.uuid), "event": conversion.event,
        "value": None if conversion.value is None else f"{conversion.value:.2f}",
        "recorded_at": conversion.created_at.isoformat()})


@staff_member_required
def ledger_page(request: HttpRequest) -> HttpResponse:
    """``/billing/ledger/``: without a party, every buyer's and source's balance over the
    range (``ledger_summary``), each linked to its own ledger; with one, its ledger by period,
    the same figures as ``GET /api/v1/staff/ledger`` (``billing.view_return``);
    ``format=csv`` downloads them."""
    if not request.user.has_perm("billing.view_return"):
        raise PermissionDenied
    buyers, sources = Buyer.objects.order_by("company"), Source.objects.order_by("name")
    context: dict = {"title": "Ledger", "buyers": buyers, "sources": sources,
                     "params": request.GET}
    if "party" not in request.GET:
        span = LedgerRangeSerializer(data=request.GET)
        if not span.is_valid():
            context["errors"] = flatten_errors(span.errors)
            return render(request, "billing/ledger.html", context, status=400)
        start, end = span.validated_data["from"], span.validated_data["to"]
        context["summary"] = {
            "from": start, "to": end, "period": span.validated_data["period"],
            "tables": [_summary_table(BUYER, buyers, start, end),
                       _summary_table(SOURCE, sources, start, end)]}
    else:
        query = LedgerQuerySerializer(data=request.GET)
        if not query.is_valid():
            context["errors"] = flatten_errors(query.errors)
            return render(request, "billing/ledger.html", context, status=400)
        params = query.validated_data
        model: type[Buyer] | type[Source] = Buyer if params["party"] == BUYER else Source
        party = model.objects.filter(pk=params["id"]).first()
        if party is None:
            context["errors"] = {"id": [f"No {params['party']} has this id."]}
            return render(request, "billing/ledger.html", context, status=400)
        ledger = ledger_build(params["party"], party.pk, start=params["from"],
                              end=params["to"], period=params["period"])
        if request.GET.get("format") == "csv":
            response = HttpResponse(ledger_csv(ledger), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = (
                f'attachment; filename="ledger-{ledger.party}-{ledger.party_id}.csv"')
            return response
        up, down = MOVEMENTS[ledger.party]
        context.update(ledger=ledger_data(ledger, str(party)), party=party, up=up, down=down,
                       csv_query=request.GET.urlencode() + "&format=csv")
    return render(request, "billing/ledger.html", context)


def _summary_table(party: str, parties, start, end) -> dict:
    """One table of the ledger page's summary: every party of the kind with its balance."""
    balances = ledger_summary(party, start=start, end=end)
    up, down = MOVEMENTS[party]
    return {"party": party, "up": up, "down": down, "rows": [
        {"party": item, "balance": balances.get(item.pk)} for item in parties]}
