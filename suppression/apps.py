from django.apps import AppConfig


class SuppressionConfig(AppConfig):
    name = "suppression"
    verbose_name = "Alert suppression rules"

    def ready(self) -> None:
        from suppression import hooks

        hooks.register_all()
