from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Email notifications"

    def ready(self) -> None:
        from notifications import hooks

        hooks.register_all()
