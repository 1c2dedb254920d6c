from django.urls import path

from triage import views

app_name = "triage"

urlpatterns = [
    path("alerts/<int:pk>/assign/", views.alert_assign, name="assign"),
    path("alerts/<int:pk>/comments/", views.comment_add, name="comment_add"),
    path("alerts/comments/<int:pk>/edit/", views.comment_edit, name="comment_edit"),
    path("alerts/bulk/assign/", views.bulk_assign, name="bulk_assign"),
    path("alerts/views/", views.saved_views, name="views"),
    path("alerts/views/<int:pk>/delete/", views.saved_view_delete, name="view_delete"),
    path("incidents/", views.incident_list, name="incidents"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident"),
    path("alerts/<int:pk>/incident/", views.alert_incident, name="alert_incident"),
    path("incidents/<int:pk>/status/", views.incident_status, name="incident_status"),
    path("incidents/<int:pk>/assign/", views.incident_assign, name="incident_assign"),
    path("metrics/", views.metrics, name="metrics"),
    path("webhooks/", views.webhook_list, name="webhooks"),
    path("webhooks/new/", views.webhook_edit, name="webhook_create"),
    path("webhooks/<int:pk>/", views.webhook_edit, name="webhook"),
    path("webhooks/<int:pk>/test/", views.webhook_test, name="webhook_test"),
    path("webhooks/<int:pk>/delete/", views.webhook_delete, name="webhook_delete"),
    path("retention/", views.retention, name="retention"),
]
