"""Returns, conversions and the ledger through their services: every rule of a return with
its code, what approving and rejecting change (lead status, clawback, the source's
``lead.returned`` event), conversions once per event, and ledger balances for a known set of
sales and returns."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.billing.ledger import ledger_build, ledger_csv, ledger_summary
from apps.billing.models import Return, ReturnChannel, ReturnReason, ReturnStatus
from apps.billing.services import conversion_record, return_submit, returns_decide
from apps.buyers.models import Contract
from apps.core.exceptions import ApplicationError, FieldErrors
from apps.leads.models import Lead, LeadStatus
from apps.webhooks.models import DeliveryKind, WebhookDelivery
from apps.webhooks.services import endpoint_create
from tests.factories.billing import Market, decided_at, utc

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def market() -> Market:
    return Market()


@pytest.fixture
def staff():
    return get_user_model().objects.create_user("rita", is_staff=True)


def _refused(excinfo) -> tuple[int, str, str]:
    error = excinfo.value
    return error.status_code, error.code, error.detail


def test_a_buyer_files_a_return_with_credit_and_clawback_fixed(market):
    lead = market.sold((market.c1, "24.00"), payout="18.00")

    filed = return_submit(buyer=market.b1, lead_uuid=lead.uuid, reason="bad_contact",
                          comment="Disconnected", channel=ReturnChannel.API)

    assert (filed.status, filed.credit, filed.clawback) == ("pending", D("24.00"), D("18.00"))
    assert (filed.buyer, filed.source, filed.contract, filed.vertical) == (
        market.b1, market.source, market.c1, market.vertical)


def test_an_unknown_lead_and_another_buyers_lead_get_the_same_404(market):
    lead = market.sold((market.c2, "24.00"), payout="18.00")
    answers = []
    for uuid in (lead.uuid, "3f2b8c1e-7a4d-4e0b-9a51-2c8e6f1d9b70", "not-a-uuid"):
        with pytest.raises(ApplicationError) as excinfo:
            return_submit(buyer=market.b1, lead_uuid=uuid, reason="fraud")
        answers.append(_refused(excinfo))

    assert answers == [(404, "not_your_lead", "No lead with this id was sold to you.")] * 3


def test_a_second_return_of_the_same_sale_is_already_returned_even_after_rejection(market,
                                                                                   staff):
    lead = market.sold((market.c1, "24.00"), payout="18.00")
    first = return_submit(buyer=market.b1, lead_uuid=lead.uuid, reason="fraud")
    returns_decide([first], approve=False, by=staff, note="Lead is fine")

    with pytest.raises(ApplicationError) as excinfo:
        return_submit(buyer=market.b1, lead_uuid=lead.uuid, reason="fraud")

    assert _refused(excinfo)[:2] == (409, "already_returned")
    assert "now rejected" in excinfo.value.detail


def test_a_return_after_the_window_is_refused_naming_the_window_and_its_end(market):
    market.c1.return_window_days = 7
    market.c1.save()
    lead = market.sold((market.c1, "24.00"), payout="18.00", at=utc("2026-01-01T10:00:00"))

    with pytest.raises(ApplicationError) as excinfo:
        return_submit(buyer=market.b1, lead_uuid=lead.uuid, reason="fraud")

    assert _refused(excinfo) == (422, "return_window_closed",
                                 "The return window of 7 days closed on 2026-01-08.")


def test_a_contract_with_a_zero_window_takes_no_returns(market):
    market.c1.return_window_days = 0
    market.c1.save()
    lead = market.sold((market.c1, "24.00"), payout="18.00")

    with pytest.raises(ApplicationError) as excinfo:
        return_submit(buyer=market.b1, lead_uuid=lead.uuid, reason="fraud")

    assert _refused(excinfo)[:2] == (422, "return_window_closed")


def test_the_return_cap_counts_pending_and_approved_returns_against_the_periods_sales(market,
                                                                                     staff):
    market.c1.return_cap_pct, market.c1.return_cap_days = D("20"), 30
    market.c1.save()
    leads = [market.sold((market.c1, "10.00"), payout="7.00") for _ in range(10)]
    market.sold((market.c1, "10.00"), payout="7.00", at=timezone.now() - timedelta(days=31))
    first = return_submit(buyer=market.b1, lead_uuid=leads[0].uuid, reason="fraud")
    returns_decide([first], approve=True, by=staff)
    return_submit(buyer=market.b1, lead_uuid=leads[1].uuid, reason="fraud")  # 2 of 10: 20%

    with pytest.raises(ApplicationError) as excinfo:
        return_submit(buyer=market.b1, lead_uuid=leads[2].uuid, reason="fraud")

    assert _refused(excinfo) == (
        422, "return_cap_reached", "The return cap of 20% of sales over 30 days is reached: "
                                   "2 returns for 10 sales (at most 2).")


def test_a_rejected_return_frees_its_place_under_the_cap(market, staff):
    market.c1.return_cap_pct = D("10")
    market.c1.save()
    leads = [market.sold((market.c1, "10.00"), payout="7.00") for _ in range(10)]
    first = return_submit(buyer=market.b1, lead_uuid=leads[0].uuid, reason="fraud")
    returns_decide([first], approve=False, by=staff, note="no")

    again = return_submit(buyer=market.b1, lead_uuid=leads[1].uuid, reason="fraud")

    assert again.status == "pending"


def test_an_unknown_reason_is_a_field_error_listing_the_verticals_codes(market):
    lead = market.sold((market.c1, "24.00"), payout="18.00")
    ReturnReason.objects.create(vertical=market.vertical, code="wrong_state", label="x")
    ReturnReason.objects.create(vertical=market.vertical, code="bad_phone", label="x")
    ReturnReason.objects.create(vertical=market.vertical, code="old", label="x",
                                is_active=False)

    with pytest.raises(FieldErrors) as excinfo:
        return_submit(buyer=market.b1, lead_uuid=lead.uuid, reason="fraud")

    assert excinfo.value.errors == {"reason": ["Use one of: bad_phone, wrong_state."]}


def test_a_vertical_without_reasons_takes_the_default_codes(market):
    lead = market.sold((market.c1, "24.00"), payout="18.00")

    with pytest.raises(FieldErrors) as excinfo:
        return_submit(buyer=market.b1, lead_uuid=lead.uuid, reason="meh")

    assert excinfo.value.errors == {"reason": [
        "Use one of: bad_contact, not_interested, duplicate, fraud, out_of_criteria, other."]}


def test_approving_returns_the_lead_and_tells_the_source_with_the_clawback(market, staff):
    endpoint_create(source=market.source, url="https://hooks.example.com/lx")
    market.source.postback_url_template = "https://track.example.com/pb?p={payout}"
    market.source.save()
    lead = market.sold((market.c1, "24.00"), payout="18.00")
    filed = return_submit(buyer=market.b1, lead_uuid=lead.uuid, reason="fraud")

    done = returns_decide([filed.pk], approve=True, by=staff, note="Checked the call")

    filed.refresh_from_db()
    lead.refresh_from_db()
    assert (done.decided, done.skipped) == (1, 0)
    assert (filed.status, filed.decided_by, filed.note) == ("approved", staff,
                                                            "Checked the call")
    assert filed.decided_at is not None
    assert lead.status == LeadStatus.RETURNED
    sent = {(row.kind, row.event, row.payout) for row in WebhookDelivery.objects.filter(
        lead=lead)}
    assert sent == {(DeliveryKind.WEBHOOK, "lead.returned", D("-18.00")),
                    (DeliveryKind.POSTBACK, "lead.returned", D("-18.00"))}
    assert LogEntry.objects.filter(object_id=str(filed.pk), user=staff,
                                   change_message="Approved: Checked the call").exists()


def test_a_source_that_absorbs_returns_gets_no_clawback(staff):
    market = Market(return_policy="absorb")
    lead = market.sold((market.c1, "24.00"), payout="18.00")
    filed = return_submit(buyer=market.b1, lead_uuid=lead.uuid, reason="fraud")

    returns_decide([filed], approve=True, by=staff)

    filed.refresh_from_db()
    assert filed.clawback == D("0.00")
    assert WebhookDelivery.objects.filter(lead=lead).count() == 0  # no endpoint, no template
    assert ledger_build("source", market.source.pk, start=timezone.now().date(),
                        end=timezone.now().date()).closing == D("18.00")


def test_rejecting_needs_a_note_and_moves_no_money(market, staff):
    lead = market.sold((market.c1, "24.00"), payout="18.00")
    filed = return_submit(buyer=market.b1, lead_uuid=lead.uuid, reason="fraud")
    with pytest.raises(FieldErrors) as excinfo:
        returns_decide([filed], approve=False, by=staff, note="  ")
    assert excinfo.value.errors == {"note": ["Say why the returns are rejected."]}

    returns_decide([filed], approve=False, by=staff, note="Consumer confirmed")

    filed.refresh_from_db()
    lead.refresh_from_db()
    today = timezone.now().date()
    assert (filed.status, lead.status) == ("rejected", LeadStatus.SOLD)
    assert not WebhookDelivery.objects.filter(lead=lead).exists()
    assert ledger_build("buyer", market.b1.pk, start=today, end=today).closing == D("24.00")


def test_only_pending_returns_are_decided(market, staff):
    a = return_submit(buyer=market.b1, reason="fraud",
                      lead_uuid=market.sold((market.c1, "10.00"), payout="7.00").uuid)
    b = return_submit(buyer=market.b1, reason="fraud",
                      lead_uuid=market.sold((market.c1, "10.00"), payout="7.00").uuid)
    returns_decide([a], approve=False, by=staff, note="no")

    done = returns_decide([a, b, 999999], approve=True, by=staff)

    assert (done.decided, done.skipped) == (1, 2)
    assert Return.objects.get(pk=a.pk).status == ReturnStatus.REJECTED


def test_a_shared_lead_is_returned_only_once_every_sale_is(market, staff):
    lead = market.sold((market.c1, "30.00"), (market.c2, "10.00"), payout="20.00")
    one = return_submit(buyer=market.b1, lead_uuid=lead.uuid, reason="fraud")
    two = return_submit(buyer=market.b2, lead_uuid=lead.uuid, reason="fraud")
    assert (one.clawback, two.clawback) == (D("15.00"), D("5.00"))

    returns_decide([one], approve=True, by=staff)
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.SOLD

    returns_decide([two], approve=True, by=staff)
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.RETURNED


def test_conversions_are_recorded_once_per_lead_buyer_and_event(market):
    lead = market.sold((market.c1, "24.00"), payout="18.00")

    first, created = conversion_record(buyer=market.b1, lead_uuid=lead.uuid,
                                       event="policy_sold", value="125.50")
    again, created_again = conversion_record(buyer=market.b1, lead_uuid=str(lead.uuid),
                                             event="policy_sold", value="999")
    other, created_other = conversion_record(buyer=market.b1, lead_uuid=lead.uuid,
                                             event="contacted")

    assert (created, created_again, created_other) == (True, False, True)
    assert again.pk == first.pk and again.value == D("125.50")
    assert (other.value, other.sale.contract) == (None, market.c1)


@pytest.mark.parametrize(("event", "value", "errors"), [
    ("policy sold", "1", {"event": ["Enter an event name of 1 to 64 letters, digits, '-' or "
                                    "'_' (e.g. policy_sold)."]}),
    ("x" * 65, "1", {"event": ["Enter an event name of 1 to 64 letters, digits, '-' or "
                               "'_' (e.g. policy_sold)."]}),
    ("sold", "-1", {"value": ["Enter an amount of 0 or more."]}),
    ("sold", "ten", {"value": ["Enter an amount such as 125.00."]}),
    ("sold", "NaN", {"value": ["Enter an amount such as 125.00."]}),
    ("sold", "1.234", {"value": ["Enter an amount with at most 2 decimals."]}),
    ("sold", "1e12", {"value": ["Enter an amount of at most 999999999.99."]}),
])
def test_a_bad_conversion_is_refused_naming_the_field(market, event, value, errors):
    lead = market.sold((market.c1, "24.00"), payout="18.00")

    with pytest.raises(FieldErrors) as excinfo:
        conversion_record(buyer=market.b1, lead_uuid=lead.uuid, event=event, value=value)

    assert excinfo.value.errors == errors


def test_a_conversion_of_a_lead_the_buyer_never_bought_is_not_your_lead(market):
    lead = market.sold((market.c2, "24.00"), payout="18.00")

    with pytest.raises(ApplicationError) as excinfo:
        conversion_record(buyer=market.b1, lead_uuid=lead.uuid, event="sold")

    assert _refused(excinfo)[:2] == (404, "not_your_lead")


@pytest.fixture
def booked(market, staff):
    """March 2026: B1 buys L1 (exclusive, 10.00, payout 7.00) on the 1st and shares L2 with B2
    (B1 30.00, B2 10.00, payout 28.00) on the 2nd; a test lead on the 2nd (never booked);
    on the 3rd B1's return of L1 is approved (credit 10.00, clawback 7.00), on the 4th B1's
    return of L2 (credit 30.00, clawback 21.00); B2's return of L2 stays pending. An earlier
    sale on Feb 20 (20.00, payout 14.00) gives an opening balance."""
    m = market
    Contract.objects.update(return_window_days=3650)  # March is long past
    m.sold((m.c1, "20.00"), payout="14.00", at=utc("2026-02-20T12:00:00"))
    l1 = m.sold((m.c1, "10.00"), payout="7.00", at=utc("2026-03-01T12:00:00"))
    l2 = m.sold((m.c1, "30.00"), (m.c2, "10.00"), payout="28.00",
                at=utc("2026-03-02T23:59:30"))
    m.sold((m.c1, "99.00"), payout="0.00", at=utc("2026-03-02T12:00:00"), test=True)
    r1 = return_submit(buyer=m.b1, lead_uuid=l1.uuid, reason="fraud")
    r2 = return_submit(buyer=m.b1, lead_uuid=l2.uuid, reason="fraud")
    return_submit(buyer=m.b2, lead_uuid=l2.uuid, reason="fraud")
    returns_decide([r1, r2], approve=True, by=staff)
    decided_at(r1, utc("2026-03-03T08:00:00"))
    decided_at(r2, utc("2026-03-04T08:00:00"))
    return m


def _rows(ledger) -> list[tuple]:
    """Each period's figures as text, so 36 and 36.00 differ."""
    return [tuple(str(v) for v in (p.start, p.opening, p.raised, p.lowered, p.closing))
            for p in ledger.periods]


def _text(rows: list[tuple]) -> list[tuple]:
    return [tuple(str(v) for v in row) for row in rows]


def test_the_buyers_ledger_books_charges_at_the_sale_and_credits_at_approval(booked):
    ledger = ledger_build("buyer", booked.b1.pk, start=utc("2026-03-01T00:00:00").date(),
                          end=utc("2026-03-04T00:00:00").date())

    assert ledger.opening == D("20.00")
    assert _rows(ledger) == _text([
        ("2026-03-01", D("20.00"), D("10.00"), D("0.00"), D("30.00")),
        ("2026-03-02", D("30.00"), D("30.00"), D("0.00"), D("60.00")),
        ("2026-03-03", D("60.00"), D("0.00"), D("10.00"), D("50.00")),
        ("2026-03-04", D("50.00"), D("0.00"), D("30.00"), D("20.00")),
    ])


def test_the_sources_ledger_books_the_payout_once_at_the_first_sale(booked):
    ledger = ledger_build("source", booked.source.pk, start=utc("2026-02-01T00:00:00").date(),
                          end=utc("2026-03-31T00:00:00").date(), period="month")

    assert ledger.opening == D("0.00")
    assert _rows(ledger) == _text([
        ("2026-02-01", D("0.00"), D("14.00"), D("0.00"), D("14.00")),
        ("2026-03-01", D("14.00"), D("35.00"), D("28.00"), D("21.00")),
    ])


def test_the_ledger_csv_holds_the_same_figures(booked):
    ledger = ledger_build("buyer", booked.b2.pk, start=utc("2026-03-02T00:00:00").date(),
                          end=utc("2026-03-03T00:00:00").date())

    assert ledger_csv(ledger).splitlines() == [
        "party,id,period,start,opening,charges,credits,closing",
        f"buyer,{booked.b2.pk},day,2026-03-02,0.00,10.00,0.00,10.00",
        f"buyer,{booked.b2.pk},day,2026-03-03,10.00,0.00,0.00,10.00",
    ]


def test_the_summary_gives_every_party_the_balance_its_own_ledger_gives(booked):
    start, end = utc("2026-03-01T00:00:00").date(), utc("2026-03-04T00:00:00").date()

    for party, ids in (("buyer", (booked.b1.pk, booked.b2.pk)), ("source", (booked.source.pk,))):
        summary = ledger_summary(party, start=start, end=end)
        assert sorted(summary) == sorted(ids)
        for pk in ids:
            ledger = ledger_build(party, pk, start=start, end=end)
            line = summary[pk]
            assert (line.opening, line.raised, line.lowered, line.closing) == (
                ledger.opening, ledger.raised, ledger.lowered, ledger.closing)
    assert ledger_summary("buyer", start=start, end=end)[booked.b1.pk].closing == D("20.00")
