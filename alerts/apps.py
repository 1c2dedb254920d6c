from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Security alerts"

    def ready(self) -> None:
        from alerts import pending_kinds

        pending_kinds.register_all()
