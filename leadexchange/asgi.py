import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadexchange.settings")
application = get_asgi_application()

# Build the offline ZIP index now (~0.6 s) rather than inside the first lead's request.
from apps.leads.enrich import zip_lookup  # noqa: E402

zip_lookup("10001")
