from django.urls import path

from portal.inventory import views

app_name = "inventory"

urlpatterns = [
    path("keyvaults/", views.vaults, name="vaults"),
    path("keyvaults/<int:pk>/", views.vault_overview, name="vault_overview"),
    path("keyvaults/<int:pk>/security/", views.vault_security, name="vault_security"),
    path("keyvaults/<int:pk>/security/upgrade/", views.vault_upgrade, name="vault_upgrade"),
    path("sync/", views.sync_status, name="sync_status"),
    path("sync/<int:pk>/now/", views.sync_now, name="sync_now"),
]
