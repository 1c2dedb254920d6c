"""The chrome's registries: the menu the apps registered (one current entry), the home page, the search and the
Preferences page's sections from other apps."""

from __future__ import annotations

import re

from django.urls import reverse

from portal.web import chrome


def _menu_current(html: str) -> list[str]:
    nav = html.split('id="leftnav"', 1)[1].split("</nav>", 1)[0]
    return re.findall(r'<a href="([^"]+)" class="active"\s+aria-current="page"', nav)


def test_the_menu_marks_one_current_entry(client, personas):
    client.force_login(personas.owner)
    html = client.get(reverse("alerts:overview")).content.decode()
    assert _menu_current(html) == [reverse("alerts:overview")]  # not Security alerts (/alerts/) as well
    html = client.get(reverse("alerts:list")).content.decode()
    assert _menu_current(html) == [reverse("alerts:list")]


def test_every_app_registered_its_menu_entries_in_order(client, personas):
    labels = [i.label for i in chrome.menu_items("Security Center", superuser=False)]
    assert labels == [
        "Overview",
        "Security alerts",
        "Incidents",
        "Alert types",
        "Suppression rules",
        "Feedback",
        "Metrics",
        "Pricing & settings",
        "Email notifications",
        "Sync status",
    ]
    assert "Retention" not in [i.label for i in chrome.menu_items("Settings", superuser=False)]
    assert "Retention" in [i.label for i in chrome.menu_items("Settings", superuser=True)]


def test_home_is_the_first_menu_entry(client, personas):
    client.force_login(personas.reader)
    assert client.get(reverse("web:home")).url == reverse("alerts:overview")


def test_preferences_save_the_notification_section_too(client, personas):
    from notifications.models import NotificationPreference

    client.force_login(personas.owner)
    page = client.get(reverse("web:preferences")).content.decode()
    assert 'name="notify_mode"' in page and 'name="theme"' in page
    response = client.post(
        reverse("web:preferences"), {"theme": "dark", "notify_mode": "daily", "notify_min_severity": "High"}
    )
    assert response.status_code == 302
    pref = NotificationPreference.objects.get(user=personas.owner)
    assert (pref.mode, pref.minimal_severity) == ("daily", "High")
    bad = client.post(reverse("web:preferences"), {"theme": "dark", "notify_mode": "weekly"})
    assert bad.status_code == 200 and "Select a valid choice" in bad.content.decode()
    assert NotificationPreference.objects.get(user=personas.owner).mode == "daily"  # nothing lost


def test_model_names_read_as_english_in_the_admin():
    """Django's guess adds an "s": "Webhook deliverys", "Notification batchs" once showed in the admin."""
    from django.apps import apps

    wrong = []
    for model in apps.get_models():
        name, plural = str(model._meta.verbose_name), str(model._meta.verbose_name_plural)
        if plural == name + "s" and (
            (name.endswith("y") and name[-2:-1] not in "aeiou") or name.endswith(("s", "x", "ch", "sh"))
        ):
            wrong.append(f"{model._meta.label}: {plural}")
    assert wrong == []
    assert apps.get_model("triage", "WebhookDelivery")._meta.verbose_name_plural == "webhook deliveries"
