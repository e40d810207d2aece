import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadexchange.settings")
application = get_wsgi_application()

import apps.auctions.services  # noqa: E402, F401 - imported now, not by the first lead
from apps.core.process import process_tune  # noqa: E402

process_tune()
