from django.apps import AppConfig


class TriageConfig(AppConfig):
    name = "triage"
    verbose_name = "Team triage"

    def ready(self) -> None:
        from triage import hooks

        hooks.register_all()
