"""Revealing a consumer's personal data is a permission, and each reveal is audited (issue 14,
item 1): the admin's lead and post pages and the dashboards' lead page show it masked; a user
with ``leads.view_pii`` (or a superuser) reveals it with a POST, which writes one audit entry
naming the lead; anyone else gets a 403 and no entry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from apps.auctions.models import Auction, Post
from apps.buyers.models import Contract
from apps.leads.disclosure import HIDDEN_BODY, MASK
from apps.leads.models import Lead
from tests.factories import BuyerFactory, SourceFactory, VerticalFactory

pytestmark = pytest.mark.django_db

EMAIL, PHONE = "jane.doe@example.com", "+12125550147"
CERT = "https://cert.trustedform.com/2d9f0c1e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d"
IP, AGENT = "198.51.100.23", "Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0"
SENT = '{"Email": "jane.doe@example.com", "Phone": "+12125550147", "Zip": "10001"}'
ANSWER = '{"status": "accepted", "echo": "jane.doe@example.com"}'
CLEAR = [EMAIL, PHONE, CERT, IP, AGENT, "Jane"]


@pytest.fixture
def lead() -> Lead:
    vertical = VerticalFactory(slug="auto-insurance")
    lead = Lead.objects.create(
        source=SourceFactory(), vertical=vertical, status="sold",
        fields={"first_name": "Jane", "email": EMAIL, "phone": PHONE, "zip": "10001",
                "vehicle_year": 2019},
        consent={"trustedform_cert_url": CERT}, consumer_ip=IP, user_agent=AGENT)
    now = datetime(2026, 3, 12, 14, tzinfo=UTC)
    auction = Auction.objects.create(lead=lead, started_at=now, ping_deadline_at=now)
    contract = Contract.objects.create(buyer=BuyerFactory(), vertical=vertical, name="c1")
    Post.objects.create(auction=auction, contract=contract, outcome="accepted", price=9,
                        request_body=SENT, response_body=ANSWER)
    return lead


def _user(name: str, *, group: str | None = None, reveal: bool = False,
          superuser: bool = False):
    user = get_user_model().objects.create_user(name, is_staff=True, is_superuser=superuser)
    if group:
        user.groups.add(Group.objects.get(name=group))
    if reveal:
        user.user_permissions.add(Permission.objects.get(content_type__app_label="leads",
                                                         codename="view_pii"))
    return user


def _pages(lead: Lead) -> dict[str, str]:
    post = Post.objects.get(auction__lead=lead)
    return {"admin lead": f"/admin/leads/lead/{lead.pk}/change/",
            "admin post": f"/admin/auctions/post/{post.pk}/change/",
            "dashboard lead": f"/dashboard/leads/{lead.uuid}/"}


def _reveal_url(page: str, url: str) -> str:
    return url.replace("/change/", "/reveal/") if page.startswith("admin") else url


def _audit(lead: Lead) -> list[LogEntry]:
    return list(LogEntry.objects.filter(content_type__model="lead", object_id=str(lead.pk)))


PAGES = ["admin lead", "admin post", "dashboard lead"]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("role", ["Managers", "Account managers"])
def test_roles_see_personal_data_masked_and_no_reveal_button(client, lead, page, role):
    client.force_login(_user("mark", group=role))

    response = client.get(_pages(lead)[page])

    assert response.status_code == 200
    html = response.content.decode()
    for clear in CLEAR:
        assert clear not in html
    assert "Reveal personal data" not in html
    if page == "admin post":
        assert html.count(HIDDEN_BODY) == 2  # the request and the response
    else:
        assert MASK in html
        assert "10001" in html and "2019" in html  # non-PII fields stay visible


def test_the_admin_lead_page_shows_the_exact_masks(client, lead):
    client.force_login(_user("mark", group="Managers"))

    html = client.get(_pages(lead)["admin lead"]).content.decode()

    masked = ('{"email": "•••", "first_name": "•••", "phone": "•••", "vehicle_year": 2019, '
              '"zip": "10001"}')
    assert masked.replace('"', "&quot;") in html
    assert '{&quot;trustedform_cert_url&quot;: &quot;•••&quot;}' in html
    assert html.count(f'<div class="readonly">{MASK}</div>') == 2  # consumer ip, user agent


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("role", ["Managers", "Account managers"])
def test_a_reveal_without_the_permission_is_a_403_and_writes_nothing(client, lead, page,
                                                                     role):
    client.force_login(_user("mark", group=role))

    response = client.post(_reveal_url(page, _pages(lead)[page]))

    assert response.status_code == 403
    assert EMAIL not in response.content.decode()
    assert LogEntry.objects.count() == 0


@pytest.mark.parametrize("page", PAGES)
def test_a_user_with_the_permission_sees_masks_until_the_reveal(client, lead, page):
    user = _user("pat", group="Managers", reveal=True)
    client.force_login(user)
    url = _pages(lead)[page]

    before = client.get(url).content.decode()
    revealed = client.post(_reveal_url(page, url))
    again = client.get(url).content.decode()

    assert "Reveal personal data" in before
    assert EMAIL not in before and EMAIL not in again  # nothing is remembered
    assert revealed.status_code == 200
    html = revealed.content.decode()
    if page == "admin post":
        assert SENT.replace('"', "&quot;") in html
        assert ANSWER.replace('"', "&quot;") in html
        assert HIDDEN_BODY not in html
    else:
        for clear in CLEAR:
            assert clear in html
    assert "Reveal personal data" not in html
    [entry] = _audit(lead)
    where = "dashboard" if page.startswith("dashboard") else "admin"
    assert (entry.user_id, entry.object_repr) == (user.pk, str(lead.uuid))
    assert entry.change_message == f"Revealed the consumer's personal data ({where})."
    assert LogEntry.objects.count() == 1


@pytest.mark.parametrize("page", PAGES)
def test_a_superuser_can_reveal(client, lead, page):
    client.force_login(_user("root", superuser=True))

    response = client.post(_reveal_url(page, _pages(lead)[page]))

    assert response.status_code == 200
    assert EMAIL in response.content.decode()
    assert len(_audit(lead)) == 1


def test_a_get_of_the_admin_reveal_url_reveals_nothing(client, lead):
    client.force_login(_user("root", superuser=True))

    response = client.get(f"/admin/leads/lead/{lead.pk}/reveal/")

    assert response.status_code == 405
    assert LogEntry.objects.count() == 0
