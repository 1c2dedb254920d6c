from django.urls import path

from pricing import views

app_name = "pricing"

urlpatterns = [
    path("", views.subscriptions, name="subscriptions"),
    path("<int:pk>/", views.plans, name="plans"),
]
