from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "portal.inventory"
    label = "inventory"
    verbose_name = "Azure inventory"

    def ready(self) -> None:
        from portal.inventory import chrome

        chrome.register_all()
