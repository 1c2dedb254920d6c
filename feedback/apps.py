from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "feedback"
    verbose_name = "Alert feedback"

    def ready(self) -> None:
        from feedback import hooks

        hooks.register_all()
