from django.apps import AppConfig


def _urls_warm() -> None:
    from django.urls import get_resolver

    # Imports the URLconf (every view module) and builds the reverse lookup: ~0.2 s that
    # would otherwise land on a new process's first request (``process_tune`` runs this).
    get_resolver().reverse_dict  # noqa: B018 - read for its side effect


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        # imported for what they register: the OpenAPI auth extensions, the key ring's check
        from apps.core import schema, sealing  # noqa: F401
        from apps.core.process import process_warmup_register

        process_warmup_register(_urls_warm)
