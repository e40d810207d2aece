"""Staff admin for buyers, contracts, leads and their auctions.

It lives in the auctions app (not buyers) because its tools — test ping, payload preview,
cap usage, health, the lead timeline — run and read auctions; apps import only leftwards.
"""

from apps.auctions.admin import contracts, leads  # noqa: F401 - registers the ModelAdmins
