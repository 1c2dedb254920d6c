from django.urls import path

from alerts import views

app_name = "alerts"

urlpatterns = [
    path("overview/", views.overview, name="overview"),
    path("", views.alert_list, name="list"),
    path("counters/", views.alert_counters, name="counters"),
    path("chart/", views.alert_chart, name="chart"),
    path("chart/state/", views.chart_state, name="chart_state"),
    path("new/", views.new_alerts_banner, name="new_banner"),
    path("export.csv", views.export, {"fmt": "csv"}, name="export_csv"),
    path("export.json", views.export, {"fmt": "json"}, name="export_json"),
    path("bulk/", views.bulk_status, name="bulk"),
    path("bulk/all/", views.bulk_all, name="bulk_all"),
    path("bulk/jobs/<int:pk>/", views.bulk_job, name="bulk_job"),
    path("sample/", views.sample_alerts, name="sample"),
    path("types/", views.alert_types, name="types"),
    path("<int:pk>/", views.alert_detail, name="detail"),
    path("<int:pk>/status/", views.alert_status, name="status"),
    path("<int:pk>/pane/", views.alert_pane, name="pane"),
]
