from django.urls import path

from feedback import views

app_name = "feedback"

urlpatterns = [
    path("", views.insights, name="insights"),
    path("details/", views.feedback_list, name="list"),
    path("follow-up/", views.follow_up, name="follow_up"),
    path("<int:pk>/reply/", views.reply, name="reply"),
    path("alerts/<int:alert_pk>/", views.panel, name="panel"),
]
