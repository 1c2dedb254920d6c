from django.urls import path

from portal.inventory import views

app_name = "inventory"

urlpatterns = [
    path("keyvaults/", views.vaults, name="vaults"),
    path("keyvaults/<int:pk>/", views.vault_overview, name="vault_overview"),
]
