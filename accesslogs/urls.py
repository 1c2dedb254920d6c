from django.urls import path

from accesslogs import views

app_name = "accesslogs"

urlpatterns = [
    path("keyvaults/<int:pk>/security/access-logs/", views.collect, name="collect"),
    path("keyvaults/<int:pk>/security/access-logs/stop/", views.stop, name="stop"),
    path("alerts/<int:pk>/evidence.json", views.evidence_json, name="evidence_json"),
]
