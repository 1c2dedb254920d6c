"""REST API for "Was this useful?": submit and read one's own feedback on an alert."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.selectors import alert_get_for_user
from feedback.models import NOT_USEFUL_REASONS, TEXT_LIMIT, USEFUL_REASONS, Feedback
from feedback.selectors import own_feedback
from feedback.services import feedback_submit
from portal.api.idempotency import idempotent
from portal.api.schema import errors
from portal.web.http import signed_in_user


class FeedbackSerializer(serializers.Serializer[Feedback]):
    useful = serializers.BooleanField()
    reason = serializers.ChoiceField(
        choices=sorted({*NOT_USEFUL_REASONS, *USEFUL_REASONS}),
        help_text="A reason that fits the answer (useful or not)",
    )
    text = serializers.CharField(
        required=False, allow_blank=True, max_length=TEXT_LIMIT, help_text="Additional feedback"
    )
    may_contact = serializers.BooleanField(
        required=False, default=False, help_text="The security team may email me about this feedback"
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class AlertFeedback(APIView):
    @extend_schema(
        operation_id="feedback_retrieve",
        responses={200: FeedbackSerializer, **errors(404)},
        summary="My feedback on this alert",
    )
    def get(self, request: Request, pk: int) -> Response:
        alert = alert_get_for_user(signed_in_user(request), pk)
        feedback = own_feedback(signed_in_user(request), alert.pk)
        if feedback is None:
            raise NotFound("You have not given feedback on this alert.")
        return Response(FeedbackSerializer(feedback).data)

    @extend_schema(
        operation_id="feedback_submit",
        request=FeedbackSerializer,
        responses={200: FeedbackSerializer, **errors(400, 404, 422)},
        summary="Was this useful? (a second answer edits the first; the earlier one is kept)",
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        alert = alert_get_for_user(signed_in_user(request), pk)
        data = FeedbackSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        feedback = feedback_submit(
            user=signed_in_user(request),
            alert=alert,
            request=request._request,
            **data.validated_data,
        )
        return Response(FeedbackSerializer(feedback).data)
