from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "sync"
    verbose_name = "Sync with Azure"

    def ready(self) -> None:
        from sync import hooks

        hooks.register_all()
