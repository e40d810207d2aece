import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadexchange.settings")
application = get_wsgi_application()

from apps.core.process import process_tune  # noqa: E402

process_tune()
