from django.urls import path

from alerts import notification_views, rule_views, views

app_name = "alerts"

urlpatterns = [
    path("overview/", views.overview, name="overview"),
    path("", views.alert_list, name="list"),
    path("counters/", views.alert_counters, name="counters"),
    path("new/", views.new_alerts_banner, name="new_banner"),
    path("export.csv", views.export, {"fmt": "csv"}, name="export_csv"),
    path("export.json", views.export, {"fmt": "json"}, name="export_json"),
    path("bulk/", views.bulk_status, name="bulk"),
    path("bulk/all/", views.bulk_all, name="bulk_all"),
    path("bulk/jobs/<int:pk>/", views.bulk_job, name="bulk_job"),
    path("sample/", views.sample_alerts, name="sample"),
    path("types/", views.alert_types, name="types"),
    path("rules/", rule_views.rule_list, name="rules"),
    path("rules/new/", rule_views.rule_create, name="rule_create"),
    path("rules/<int:pk>/", rule_views.rule_edit, name="rule_edit"),
    path("rules/<int:pk>/state/", rule_views.rule_state, name="rule_state"),
    path("rules/<int:pk>/delete/", rule_views.rule_remove, name="rule_delete"),
    path("rules/<int:pk>/apply/", rule_views.rule_apply, name="rule_apply"),
    path("email-notifications/", notification_views.email_settings, name="email_settings"),
    path("email-notifications/<int:pk>/", notification_views.email_settings_edit, name="email_settings_edit"),
    path("deliveries/", notification_views.deliveries, name="deliveries"),
    path("deliveries/<int:pk>/", notification_views.delivery, name="delivery"),
    path("deliveries/<int:pk>/retry/", notification_views.delivery_retry, name="delivery_retry"),
    path("<int:pk>/", views.alert_detail, name="detail"),
    path("<int:pk>/status/", views.alert_status, name="status"),
]
