"""/api/v1/...: every app's API views; /api/schema/ (OpenAPI 3) and /api/docs/ (Swagger UI, assets served here)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required, login_required
from django.urls import path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerSplitView

from alerts import api as alerts_api
from feedback import api as feedback_api
from notifications import api as notifications_api
from portal.api import views
from portal.inventory import api as inventory_api
from pricing import api as pricing_api
from suppression import api as suppression_api
from sync import api as sync_api
from triage import api as triage_api

app_name = "api"


def api(view: Any) -> Any:
    """DRF authenticates (token or session) and answers 401 itself: not the sign-in redirect of the pages."""
    return login_not_required(view.as_view())


v1 = [
    ("alerts/", alerts_api.AlertList, "alerts"),
    ("alerts/<int:pk>/", alerts_api.AlertDetail, "alert"),
    ("alerts/<int:pk>/activity/", alerts_api.AlertActivity, "alert_activity"),
    ("alerts/<int:pk>/status/", alerts_api.AlertStatus, "alert_status"),
    ("alerts/<int:pk>/feedback/", feedback_api.AlertFeedback, "alert_feedback"),
    ("alerts/<int:pk>/assign/", triage_api.Assign, "alert_assign"),
    ("alerts/<int:pk>/comments/", triage_api.Comments, "alert_comments"),
    ("alerts/bulk-status/", alerts_api.BulkStatus, "bulk_status"),
    ("alerts/bulk-status/<int:pk>/", alerts_api.BulkJob, "bulk_job"),
    ("suppression-rules/", suppression_api.RuleList, "rules"),
    ("suppression-rules/simulate/", suppression_api.RuleSimulate, "rule_simulate"),
    ("suppression-rules/<int:pk>/", suppression_api.RuleDetail, "rule"),
    ("subscriptions/", inventory_api.SubscriptionList, "subscriptions"),
    ("subscriptions/<int:pk>/plans/", pricing_api.Plans, "plans"),
    ("subscriptions/<int:pk>/security-contacts/", notifications_api.Contacts, "contacts"),
    ("subscriptions/<int:pk>/sync/", sync_api.SyncNow, "sync"),
    ("key-vaults/", inventory_api.VaultList, "vaults"),
    ("key-vaults/<int:pk>/", inventory_api.VaultDetail, "vault"),
    ("sync-runs/", sync_api.SyncRunList, "sync_runs"),
    ("incidents/", triage_api.IncidentList, "incidents"),
    ("incidents/<int:pk>/", triage_api.IncidentDetail, "incident"),
    ("incidents/<int:pk>/status/", triage_api.IncidentStatus, "incident_status"),
    ("saved-views/", triage_api.SavedViews, "saved_views"),
    ("saved-views/<int:pk>/", triage_api.SavedViewDetail, "saved_view"),
    ("webhooks/", triage_api.Webhooks, "webhooks"),
    ("webhooks/<int:pk>/", triage_api.WebhookDetail, "webhook"),
    ("webhooks/<int:pk>/test/", triage_api.WebhookTest, "webhook_test"),
    ("webhooks/<int:pk>/deliveries/", triage_api.WebhookDeliveries, "webhook_deliveries"),
    ("tokens/", views.Tokens, "tokens"),
    ("tokens/<int:pk>/", views.TokenDetail, "token"),
]

urlpatterns = [
    *[path(f"v1/{route}", api(view), name=name) for route, view, name in v1],
    path("schema/", api(SpectacularJSONAPIView), name="schema"),
    # The docs page is HTML for a signed-in browser: the pages' sign-in redirect applies.
    path("docs/", login_required(SpectacularSwaggerSplitView.as_view(url_name="api:schema")), name="docs"),
    path("tokens/", views.tokens_page, name="tokens_page"),
    path("tokens/<int:pk>/revoke/", views.token_revoke_page, name="token_revoke_page"),
]
