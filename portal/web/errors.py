"""Styled error pages. The 500 page never shows details outside DEBUG (Django's default view is used)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, HttpResponseServerError
from django.template import loader


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    template = loader.get_template("404.html")
    return HttpResponseNotFound(template.render({"request_path": request.path}, request))


def server_error(request: HttpRequest) -> HttpResponse:
    # Rendered without the request context: whatever broke must not break the error page too.
    template = loader.get_template("500.html")
    return HttpResponseServerError(template.render({}))
