import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadexchange.settings")
application = get_asgi_application()

from apps.core.process import process_tune  # noqa: E402

process_tune()
