from django.urls import path

from pricing import vault_views

app_name = "pricing_vault"

urlpatterns = [
    path("<int:pk>/security/", vault_views.vault_security, name="security"),
    path("<int:pk>/security/upgrade/", vault_views.vault_upgrade, name="upgrade"),
]
