from django.apps import AppConfig


class AccesslogsConfig(AppConfig):
    name = "accesslogs"
    verbose_name = "Access logs and local detections"

    def ready(self) -> None:
        from accesslogs import hooks

        hooks.register_all()
