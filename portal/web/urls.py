from django.urls import path

from portal.web import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("search/", views.search, name="search"),
    path("pending/<slug:kind>/<int:pk>/", views.pending_state, name="pending"),
    path("account/preferences/", views.preferences, name="preferences"),
    path("account/timezone/", views.browser_timezone, name="timezone"),
    path("account/theme/", views.theme, name="theme"),
    path("subscriptions/", views.subscriptions, name="subscriptions"),
    path("subscriptions/<int:pk>/access/", views.subscription_access, name="subscription_access"),
    path("subscriptions/<int:pk>/access/<int:assignment_pk>/revoke/", views.role_revoke, name="role_revoke"),
]
