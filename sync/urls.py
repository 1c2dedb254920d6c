from django.urls import path

from sync import views

app_name = "sync"

urlpatterns = [
    path("sync/", views.sync_status, name="sync_status"),
    path("sync/<int:pk>/now/", views.sync_now, name="sync_now"),
]
