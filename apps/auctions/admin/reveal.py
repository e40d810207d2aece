"""Admin pages that show a lead's personal data masked, with a button to reveal it.

A page built on ``PiiRevealAdmin`` displays the personal data through ``personal(obj)``:
masked for everyone (apps.leads.disclosure). A user who may reveal (``leads.view_pii``) sees
a *Reveal personal data* button; it POSTs to ``<id>/reveal/``, which writes the audit entry
naming the lead and renders the same page with the clear values. Nothing is remembered: the
next visit is masked again. Without the permission the reveal is a 403 and writes nothing.
"""

from __future__ import annotations

import copy
from typing import Any

from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import URLPattern, path, reverse

from apps.core.admin import ReadOnlyAdmin
from apps.leads.disclosure import PersonalData, Where, can_reveal, pii_masked, pii_reveal
from apps.leads.models import Lead

_REVEALED = "_pii_revealed"  # the request attribute holding a reveal's clear data
_SHOWN = "_pii_shown"  # the attribute of the page's object holding what it shows


class PiiRevealAdmin(ReadOnlyAdmin):
    """A read-only admin whose change page shows a lead's personal data masked until a
    permitted user reveals it. Subclasses say which lead an object belongs to."""

    change_form_template = "admin/auctions/reveal_change_form.html"

    def pii_lead(self, obj: Any) -> Lead:
        """The lead whose personal data ``obj``'s page shows."""
        raise NotImplementedError

    def personal(self, obj: Any) -> PersonalData:
        """What ``obj``'s page shows of its lead's personal data: the reveal's clear values
        when this request revealed them, else the mask."""
        shown = getattr(obj, _SHOWN, None)
        return shown if shown is not None else pii_masked(self.pii_lead(obj))

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_reveal"
        return [path("<path:object_id>/reveal/", self.admin_site.admin_view(self.reveal_view),
                     name=name), *super().get_urls()]

    def get_object(self, request: HttpRequest, object_id: str,
                   from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            setattr(obj, _SHOWN, getattr(request, _REVEALED, None))
        return obj

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        revealed = getattr(request, _REVEALED, None) is not None
        url = None
        if can_reveal(request.user) and not revealed:
            url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_reveal",
                          args=[quote(object_id)], current_app=self.admin_site.name)
        context = {"pii_revealed": revealed, "pii_reveal_url": url, **(extra_context or {})}
        return super().change_view(request, object_id, form_url, context)

    def reveal_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: audit the reveal, then the change page with the clear values. 403 without
        the permission (or without the right to view the object), 404 for no object."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj: Model | None = super().get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        page = copy.copy(request)
        # rendered as the page's GET: the admin takes a POST to a change page for an edit
        page.method = "GET"
        setattr(page, _REVEALED, pii_reveal(request.user, self.pii_lead(obj), Where.ADMIN))
        return self.change_view(page, object_id)
