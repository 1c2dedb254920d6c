from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

from portal.accounts import oidc
from portal.accounts.login import LoginView
from portal.web import views as web_views


def favicon(request: HttpRequest) -> HttpResponse:
    return HttpResponsePermanentRedirect(static("img/shield.svg"))  # resolved per request (the manifest)


urlpatterns = [
    # Browsers ask for /favicon.ico on pages without an icon link (the admin's): the portal's shield.
    path("favicon.ico", login_not_required(favicon)),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/sso/", oidc.start, name="oidc_start"),
    path("accounts/sso/callback/", oidc.callback, name="oidc_callback"),
    path("accounts/sso/link/", oidc.link, name="oidc_link"),
    path("accounts/sso/link/confirm/", oidc.link_confirm, name="oidc_link_confirm"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The admin signs in through the portal's throttled sign-in, not a second, unthrottled form; a signed-in person
    # who is not staff is told the administration is for staff (not sent round in a redirect loop).
    path("admin/login/", web_views.admin_login),
    path("admin/", admin.site.urls),
    path("", include("portal.web.urls")),
    path("", include("portal.inventory.urls")),
    path("", include("sync.urls")),
    path("api/", include("portal.api.urls")),
    path("", include("triage.urls")),
    path("alerts/", include("suppression.urls")),
    path(
        "alerts/", include("notifications.urls")
    ),  # the rules stay at /alerts/rules/, as in the Azure portal
    path("alerts/", include("alerts.urls")),
    path("pricing/", include("pricing.urls")),
    path("keyvaults/", include("pricing.vault_urls")),
    path("feedback/", include("feedback.urls")),
    path("", include("accesslogs.urls")),
]

handler404 = "portal.web.errors.page_not_found"
handler500 = "portal.web.errors.server_error"
