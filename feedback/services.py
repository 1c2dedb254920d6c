"""Writes for "Was this useful?": submit (or edit) feedback, and reply by email to consenting authors."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage, make_msgid
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert, AlertEvent
from feedback.models import TEXT_LIMIT, Feedback, FeedbackReply, FeedbackVersion, reasons_for
from portal import text
from portal.accounts.selectors import can_see, can_write
from portal.audit.services import audit_record
from portal.text import header_safe, multi_line_error


def validate(*, useful: object, reason: str, text: str) -> tuple[bool, str, str]:
    """The rules of the form, enforced again here for every caller (pages, API)."""
    errors: dict[str, str] = {}
    if useful not in (True, False):
        errors["useful"] = "Say whether the alert was useful."
    text = (text or "").strip()
    if len(text) > TEXT_LIMIT:
        errors["text"] = f"Keep additional feedback to {TEXT_LIMIT} characters (this is {len(text)})."
    elif multi_line_error(text):
        errors["text"] = multi_line_error(text) or ""
    if useful in (True, False):
        allowed = dict(reasons_for(bool(useful)))
        if not reason:
            errors["reason"] = "Choose a reason."
        elif reason not in allowed:
            errors["reason"] = f"“{reason}” is not a reason for a{'' if useful else ' not'} useful alert."
        elif reason == "Other" and not text:
            errors["text"] = "Tell us more when the reason is “Other”."
    if errors:
        raise ValidationError(errors)
    return bool(useful), reason, text


def feedback_submit(
    *,
    user: User,
    alert: Alert,
    useful: object,
    reason: str,
    text: str = "",
    may_contact: bool = False,
    request: HttpRequest | None = None,
) -> Feedback:
    """One feedback per user per alert: created, or edited (with the previous version kept). A double submit of
    the same answer changes nothing."""
    if not can_see(user, alert.subscription_id):
        raise PermissionDenied("You can't see this alert.")
    useful, reason, text = validate(useful=useful, reason=reason, text=text)
    now = timezone.now()
    values = {"useful": useful, "reason": reason, "text": text, "may_contact": bool(may_contact)}
    with transaction.atomic():
        feedback = Feedback.objects.select_for_update().filter(alert=alert, user=user).first()
        if feedback is not None and all(getattr(feedback, k) == v for k, v in values.items()):
            return feedback
        created = feedback is None
        before = None if created else {k: getattr(feedback, k) for k in values}
        if feedback is None:
            try:
                with transaction.atomic():
                    feedback = Feedback.objects.create(
                        alert=alert,
                        user=user,
                        subscription_id=alert.subscription_id,
                        created_at=now,
                        updated_at=now,
                        **values,
                    )
            except IntegrityError:  # a concurrent double submit created it first
                feedback = Feedback.objects.select_for_update().get(alert=alert, user=user)
                created = False
                before = {k: getattr(feedback, k) for k in values}
        if not created:
            for key, value in values.items():
                setattr(feedback, key, value)
            feedback.updated_at = now
            feedback.save(update_fields=[*values, "updated_at"])
        FeedbackVersion.objects.create(feedback=feedback, created_at=now, **values)
        AlertEvent.objects.create(
            alert=alert,
            kind=AlertEvent.Kind.FEEDBACK,
            actor=user,
            created_at=now,
            data={"useful": useful, "reason": reason, "edited": not created},
        )
        audit_record(
            actor=user,
            action="feedback.create" if created else "feedback.update",
            obj=feedback,
            before=before,
            after=values,
            request=request,
            subscription=alert.subscription_id,
        )
    return feedback


def feedback_reply(
    *, user: User, feedback: Feedback, body: str, request: HttpRequest | None = None
) -> FeedbackReply:
    """Email the author of consenting feedback (Security Admins and Owners of the alert's subscription)."""
    if not can_write(user, feedback.subscription_id):
        raise PermissionDenied("Only Security Admins and Owners reply to feedback.")
    if not feedback.may_contact:
        raise ValidationError("The author of this feedback did not agree to be emailed.")
    body = text.check_multi_line(body or "", field="body").strip()
    if not body:
        raise ValidationError({"body": "Write a reply."})
    if len(body) > TEXT_LIMIT * 2:
        raise ValidationError({"body": f"Keep the reply to {TEXT_LIMIT * 2} characters."})
    if not feedback.user.email:
        raise ValidationError("The author has no email address.")
    link = settings.PORTAL_BASE_URL + reverse("alerts:detail", args=[feedback.alert_id])
    message_id = make_msgid(domain="kv-console")
    email = EmailMessage(
        subject=header_safe(f"About your feedback on “{header_safe(feedback.alert.title, max_length=120)}”"),
        body=f"{body}\n\n—\nYour feedback: {'useful' if feedback.useful else 'not useful'}, "
        f"{feedback.reason_label}.\nThe alert: {link}\n",
        to=[feedback.user.email],
        reply_to=[user.email] if user.email else None,
        headers={"Message-ID": message_id},
    )
    email.send(fail_silently=False)
    reply = FeedbackReply.objects.create(
        feedback=feedback, author=user, body=body, sent_at=timezone.now(), message_id=message_id
    )
    audit_record(
        actor=user,
        action="feedback.reply",
        obj=feedback,
        after={"to": feedback.user.get_username()},
        request=request,
        subscription=feedback.subscription_id,
    )
    return reply
