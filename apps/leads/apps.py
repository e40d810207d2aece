from django.apps import AppConfig


def _zip_index_warm() -> None:
    from apps.leads.enrich import zip_lookup

    zip_lookup("10001")  # builds the whole index (~0.6 s) once per process


def _normalizers_warm() -> None:
    from apps.leads.normalize import normalizers_warm

    normalizers_warm()


class LeadsConfig(AppConfig):
    name = "apps.leads"
    label = "leads"

    def ready(self) -> None:
        from apps.core.process import process_warmup_register

        # Web and worker processes build the ZIP index and compile the normalizers at
        # start-up (process_tune), not inside the first leads' requests.
        process_warmup_register(_zip_index_warm)
        process_warmup_register(_normalizers_warm)
