from django.apps import AppConfig


class PricingConfig(AppConfig):
    name = "pricing"
    verbose_name = "Defender plans"

    def ready(self) -> None:
        from pricing import hooks

        hooks.register_all()
