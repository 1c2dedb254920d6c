""" "Was this useful?" on the alert page (with and without JavaScript), insights, suggestions, follow-up by email."""

from __future__ import annotations

import pytest
from django.urls import reverse

from alerts.models import AlertEvent
from feedback.models import Feedback, FeedbackVersion
from feedback.selectors import insights, suggestions
from feedback.services import feedback_submit
from portal.testing.factories import alert_item, make_alerts, make_user, make_vault

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert(personas):
    vault = make_vault(personas.sub, name="kv-fb")
    return make_alerts(personas.sub, [alert_item(personas.sub, vault=vault, user="bob")])[0]


def _url(alert):
    return reverse("feedback:panel", args=[alert.pk])


def test_submit_without_javascript_then_edit_keeps_history(client, personas, alert):
    client.force_login(personas.reader)
    response = client.post(
        _url(alert), {"useful": "no", "reason": "FalsePositive", "text": "Nightly job", "may_contact": "on"}
    )
    assert response.status_code == 302 and response["Location"].endswith(f"/alerts/{alert.pk}/#feedback")
    page = client.get(response["Location"]).content.decode()
    assert "You said this alert was <strong>not useful</strong>: It flags too much normal activity." in page
    assert "Nightly job" in page and ">Edit<" in page
    client.post(_url(alert), {"useful": "yes", "reason": "TruePositive", "text": ""})
    feedback = Feedback.objects.get()
    assert feedback.useful and feedback.reason == "TruePositive" and not feedback.may_contact
    assert FeedbackVersion.objects.filter(feedback=feedback).count() == 2
    assert AlertEvent.objects.filter(alert=alert, kind="feedback").count() == 2
    assert "Feedback" in client.get(reverse("alerts:detail", args=[alert.pk])).content.decode()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"reason": "FalsePositive"}, "Say whether the alert was useful."),
        ({"useful": "no"}, "Choose a reason."),
        ({"useful": "yes", "reason": "FalsePositive"}, "Choose one of the reasons offered for this answer."),
        ({"useful": "no", "reason": "TruePositive"}, "Choose one of the reasons offered for this answer."),
        ({"useful": "no", "reason": "Other", "text": ""}, "Tell us more when the reason is “Other”."),
        ({"useful": "no", "reason": "Noise", "text": "x" * 2001}, "2000"),
        ({"useful": "maybe", "reason": "Noise"}, "Select a valid choice"),
    ],
)
def test_bad_input_gets_a_clear_error_and_saves_nothing(client, personas, alert, data, error):
    client.force_login(personas.reader)
    response = client.post(_url(alert), data, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Feedback.objects.exists()


def test_double_submit_is_one_record(client, personas, alert):
    client.force_login(personas.reader)
    data = {"useful": "no", "reason": "Noise", "text": "again"}
    client.post(_url(alert), data)
    client.post(_url(alert), data)
    assert Feedback.objects.count() == 1 and FeedbackVersion.objects.count() == 1


def test_feedback_on_an_alert_you_cannot_see_is_404(client, personas, alert):
    client.force_login(personas.outsider)
    assert client.post(_url(alert), {"useful": "yes", "reason": "TruePositive"}).status_code == 404
    assert client.get(_url(alert)).status_code == 404
    client.logout()
    assert client.post(_url(alert), {"useful": "yes", "reason": "TruePositive"}).status_code == 302


def test_htmx_panel_narrows_reasons_to_the_answer(client, personas, alert):
    client.force_login(personas.reader)
    yes = client.get(_url(alert) + "?useful=yes", headers={"HX-Request": "true"}).content.decode()
    assert "TruePositive" in yes and "SpecificEntityFalsePositive" not in yes
    no = client.get(_url(alert) + "?useful=no", headers={"HX-Request": "true"}).content.decode()
    assert "SpecificEntityFalsePositive" in no and "TruePositive" not in no
    done = client.post(
        _url(alert), {"useful": "yes", "reason": "GoodContext"}, headers={"HX-Request": "true"}
    )
    assert done.status_code == 200 and "The details made the investigation quick" in done.content.decode()


def test_after_an_error_only_the_answers_reasons_are_offered(client, personas, alert):
    """A validation error showed the Yes and the No reasons together (11 options, "Other" twice)."""
    client.force_login(personas.reader)
    response = client.post(
        _url(alert), {"useful": "no", "reason": "Other", "text": ""}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400
    reasons = [value for value, _ in response.context["feedback_form"].fields["reason"].choices]
    assert reasons == [
        "",
        "AlertSeverityTooHigh",
        "FalsePositive",
        "Noise",
        "NotRelevant",
        "SpecificEntityFalsePositive",
        "Unclear",
        "Other",
    ]
    assert response.content.decode().count('value="Other"') == 1


def test_a_reason_survives_switching_the_answer_and_back(client, personas, alert):
    client.force_login(personas.reader)
    htmx = {"HX-Request": "true"}
    # picked under "No", then the answer switched to "Yes": not offered, but kept
    yes = client.get(_url(alert) + "?useful=yes&reason=Noise&kept_reason=", headers=htmx)
    form = yes.context["feedback_form"]
    assert form.initial["reason"] == "" and form.initial["kept_reason"] == "Noise"
    # ...and back to "No": selected again
    back = client.get(_url(alert) + "?useful=no&reason=&kept_reason=Noise", headers=htmx)
    assert back.context["feedback_form"].initial["reason"] == "Noise"
    assert '<option value="Noise" selected>' in back.content.decode()
    # a reason of this answer stays selected when the text or consent changes
    same = client.get(_url(alert) + "?useful=no&reason=Unclear&kept_reason=Noise", headers=htmx)
    assert same.context["feedback_form"].initial["reason"] == "Unclear"


def test_no_suggestion_for_what_an_enabled_rule_already_suppresses(personas):
    from portal.accounts.models import Role
    from portal.testing.factories import grant
    from suppression.models import SuppressionRule

    vault = make_vault(personas.sub, name="kv-rule")
    alerts = make_alerts(
        personas.sub, [alert_item(personas.sub, vault=vault, user="dave", n=750 + i) for i in range(3)]
    )
    for i, a in enumerate(alerts):
        user = make_user(f"s{i}")
        grant(user, personas.sub, Role.SECURITY_READER)
        feedback_submit(user=user, alert=a, useful=False, reason="Noise")

    def upn_suggestions():
        return [
            s.value for s in suggestions(personas.reader, threshold=3) if s.field == "entities.account.upn"
        ]

    assert upn_suggestions() == ["dave@contoso.com"]
    rule = SuppressionRule.objects.create(
        subscription=personas.sub,
        name="dave",
        alert_type="KV_TORAccess",
        reason="Noise",
        state="Disabled",
        conditions=[{"field": "entities.account.name", "in": ["dave"]}],
        local_only=True,
    )
    assert upn_suggestions() == ["dave@contoso.com"]  # a disabled rule covers nothing
    rule.state = "Enabled"
    rule.save(update_fields=["state"])
    assert upn_suggestions() == []


def test_insights_figures_on_a_known_data_set(client, personas):
    vault = make_vault(personas.sub, name="kv-known")
    alerts = make_alerts(
        personas.sub, [alert_item(personas.sub, vault=vault, user="carol", n=700 + i) for i in range(4)]
    )
    users = [make_user(f"a{i}") for i in range(4)]
    from portal.accounts.models import Role
    from portal.testing.factories import grant

    for u in users:
        grant(u, personas.sub, Role.SECURITY_READER)
    feedback_submit(user=users[0], alert=alerts[0], useful=True, reason="TruePositive")
    feedback_submit(user=users[1], alert=alerts[0], useful=False, reason="Noise")
    feedback_submit(user=users[2], alert=alerts[1], useful=False, reason="Noise")
    feedback_submit(user=users[3], alert=alerts[2], useful=False, reason="SpecificEntityFalsePositive")
    data = insights(personas.reader)
    assert (data["total"].useful, data["total"].not_useful, data["total"].percent) == (1, 3, 25)
    by_type = {r.key: (r.useful, r.not_useful) for r in data["by_type"]}
    assert by_type == {"KV_TORAccess": (1, 3)}
    assert data["reasons"][0] == {
        "reason": "Noise",
        "label": "Too noisy, the same resources again and again",
        "n": 2,
    }
    assert {r.label: r.not_useful for r in data["by_identity"]} == {"carol@contoso.com": 3}
    # the suggestion appears at the threshold (3 "not useful" for one identity and type), not below
    found = suggestions(personas.reader, threshold=3)
    assert [(s.alert_type, s.value, s.count) for s in found if s.field == "entities.account.upn"] == [
        ("KV_TORAccess", "carol@contoso.com", 3)
    ]
    assert not [s for s in suggestions(personas.reader, threshold=4) if s.field == "entities.account.upn"]
    client.force_login(personas.reader)
    page = client.get(reverse("feedback:insights")).content.decode()
    assert "25%" in page and "carol@contoso.com" in page
    drill = client.get(reverse("feedback:list") + "?useful=no&identity=carol@contoso.com").content.decode()
    assert drill.count(f'href="/alerts/{alerts[0].pk}/"') == 1
    csv_text = b"".join(client.get(reverse("feedback:list") + "?format=csv").streaming_content).decode()
    assert csv_text.count("\n") == 5
    client.force_login(personas.outsider)
    assert "carol@contoso.com" not in client.get(reverse("feedback:insights")).content.decode()


def test_follow_up_reply_emails_the_consenting_author(client, personas, alert, smtp_server):
    author = personas.reader
    feedback = feedback_submit(user=author, alert=alert, useful=False, reason="Unclear", may_contact=True)
    silent = feedback_submit(
        user=personas.secadmin, alert=alert, useful=True, reason="GoodContext", may_contact=False
    )
    client.force_login(personas.reader)
    assert client.post(reverse("feedback:reply", args=[feedback.pk]), {"body": "x"}).status_code == 403
    client.force_login(personas.secadmin)
    page = client.get(reverse("feedback:follow_up")).content.decode()
    assert author.email in page and f'action="/feedback/{silent.pk}/reply/"' not in page
    response = client.post(
        reverse("feedback:reply", args=[feedback.pk]), {"body": "Thanks, we added a runbook."}, follow=True
    )
    assert "Your reply was emailed" in response.content.decode()
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["rcpt"] == [author.email]
    assert "Thanks, we added a runbook." in message["message"].get_body(("plain",)).get_content()
    response = client.post(reverse("feedback:reply", args=[silent.pk]), {"body": "hi"}, follow=True)
    assert "did not agree to be emailed" in response.content.decode() and len(smtp_server.messages) == 1
