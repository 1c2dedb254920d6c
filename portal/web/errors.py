"""Styled error pages. The 500 page never shows details outside DEBUG (Django's default view is used).
Under /api/ the same errors come in the API's JSON error shape."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, HttpResponseServerError, JsonResponse
from django.template import loader


def _api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") and not request.path.startswith("/api/docs/")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _api(request):
        return JsonResponse(
            {"error": {"status": 404, "code": "not_found", "message": "No such endpoint or object."}},
            status=404,
        )
    template = loader.get_template("404.html")
    return HttpResponseNotFound(template.render({"request_path": request.path}, request))


def server_error(request: HttpRequest) -> HttpResponse:
    if _api(request):
        return JsonResponse(
            {"error": {"status": 500, "code": "server_error", "message": "Internal error."}}, status=500
        )
    # Rendered without the request context: whatever broke must not break the error page too.
    template = loader.get_template("500.html")
    return HttpResponseServerError(template.render({}))
