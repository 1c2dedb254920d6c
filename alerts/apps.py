from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Security alerts"

    def ready(self) -> None:
        from alerts import wiring

        wiring.register_all()
