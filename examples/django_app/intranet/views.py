"""Views that use ``request.user`` like any Django view; the gate is invisible here."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import format_html


@login_required
def home(request: HttpRequest) -> HttpResponse:
    # request.user is a real django.contrib.auth User, created by
    # RemoteUserBackend from the email address the gate verified.
    return HttpResponse(
        format_html(
            "<!doctype html><title>Intranet</title>"
            '<p>Signed in as <strong id="username">{}</strong>.</p>'
            '<p><a href="/_gate/logout">Sign out</a></p>',
            request.user.get_username(),
        )
    )


@login_required
def me(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "username": request.user.get_username(),
            "is_authenticated": request.user.is_authenticated,
            "user_id": request.user.pk,
            # The gate's extras are still in the environ for views that want them.
            "sub": request.META["pwless_gate.user"].sub,
        }
    )
