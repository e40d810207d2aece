from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        # imported for what they register: the OpenAPI auth extensions, the key ring's check
        from apps.core import schema, sealing  # noqa: F401
