from django.urls import path

from suppression import views

app_name = "suppression"

urlpatterns = [
    path("rules/", views.rule_list, name="rules"),
    path("rules/new/", views.rule_create, name="rule_create"),
    path("rules/<int:pk>/", views.rule_edit, name="rule_edit"),
    path("rules/<int:pk>/state/", views.rule_state, name="rule_state"),
    path("rules/<int:pk>/delete/", views.rule_remove, name="rule_delete"),
    path("rules/<int:pk>/apply/", views.rule_apply, name="rule_apply"),
]
