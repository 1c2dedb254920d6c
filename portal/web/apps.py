from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "portal.web"
    label = "web"
    verbose_name = "Portal shell"

    def ready(self) -> None:
        from portal.web import chrome

        chrome.menu_item(
            chrome.MenuItem("Settings", "Subscriptions & access", "web:subscriptions", "access", order=10)
        )
        chrome.menu_item(chrome.MenuItem("Settings", "Preferences", "web:preferences", "prefs", order=30))
