from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("email-notifications/", views.email_settings, name="email_settings"),
    path("email-notifications/<int:pk>/", views.email_settings_edit, name="email_settings_edit"),
    path("deliveries/", views.deliveries, name="deliveries"),
    path("deliveries/<int:pk>/", views.delivery, name="delivery"),
    path("deliveries/<int:pk>/retry/", views.delivery_retry, name="delivery_retry"),
]
