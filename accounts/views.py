"""Account pages: sign up, the account page, app codes, JSON API devices and keys, the switch of
the e-mails about one's phones (the phone pages themselves are in accounts/phone_views.py).

The account page shows an owner's phones only as his own uploads described them
(accounts/pairing.py ``phones_of``): no public pseudonym, nothing another account's uploads sent.

Every change is a POST (CSRF-protected) by the logged-in owner. A new API key is rendered in
the reply to the POST that made it and nowhere else: it is not stored in clear, not put in the
session, and cannot be shown again; like every account page (the App-code is on it too) that
reply says `Cache-Control: no-store`, so no browser cache or shared proxy keeps it.

Sign-ups are limited per client address (CRAYFIS_ACCOUNTS_SIGNUP_RATE: 429 past it); log-ins are
locked out after repeated failures by django-axes (accounts/lockout.py).
"""
from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST

from accounts import keys, notify, pairing, services
from accounts.forms import KeyNameForm, RegisterDeviceForm, SignUpForm
from accounts.models import RegisteredDevice
from api.throttles import SignUpThrottle, retry_after


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("accounts:home")
    if request.method == "POST":
        throttle = SignUpThrottle()
        if not throttle.allow_request(request, None):
            wait = retry_after(throttle)
            response = render(request, "accounts/signup.html", {"form": SignUpForm(), "retry_after_s": int(wait)},
                              status=429)
            response["Retry-After"] = wait
            return response
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        services.issue_app_code(user)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("accounts:home")
    return render(request, "accounts/signup.html", {"form": form}, status=400 if form.errors else 200)


def _page(request, *, new_key: str | None = None, new_key_for: str | None = None, status: int = 200,
          device_form: RegisterDeviceForm | None = None):
    user = request.user
    registered = (RegisteredDevice.objects.filter(user=user).select_related("device")
                  .prefetch_related("device__api_keys"))
    devices = [{"reg": reg, "keys": sorted(reg.device.api_keys.all(), key=lambda k: k.created, reverse=True)}
               for reg in registered]
    context = {
        "app_code": services.current_app_code(user),
        "phones": pairing.phones_of(user),
        "devices": devices,
        "device_form": device_form or RegisterDeviceForm(),
        "can_read_exact": keys.can_read_exact(user),
        "read_keys": user.read_api_keys.order_by("-created"),
        "new_key": new_key,
        "new_key_for": new_key_for,
        "mail_on": notify.subscribed(user),
        "silent_hours": settings.CRAYFIS_NOTIFY_SILENT_HOURS,
    }
    response = render(request, "accounts/home.html", context, status=status)
    add_never_cache_headers(response)
    return response


@login_required
def home(request):
    return _page(request)


@login_required
@require_POST
def new_app_code(request):
    code = services.issue_app_code(request.user)
    messages.success(request, f"New app code {code.code}: type it into the CRAYFIS app's settings.")
    return redirect("accounts:home")


@login_required
@require_POST
def register_device(request):
    form = RegisterDeviceForm(request.POST)
    if not form.is_valid():
        return _page(request, device_form=form, status=400)
    reg, key = services.register_device(request.user, form.cleaned_data["name"], form.cleaned_data["kind"])
    return _page(request, new_key=key, new_key_for=reg.name, status=201)


@login_required
@require_POST
def new_device_key(request, device_pk: int):
    reg = get_object_or_404(RegisteredDevice, pk=device_pk, user=request.user)
    return _page(request, new_key=services.new_device_key(reg), new_key_for=reg.name, status=201)


@login_required
@require_POST
def revoke_device_key(request, prefix: str):
    if not services.revoke_device_key(request.user, prefix):
        return _page(request, status=404)
    messages.success(request, f"Key {prefix}... revoked: uploads with it now get 401.")
    return redirect("accounts:home")


@login_required
@require_POST
def new_read_key(request):
    if not keys.can_read_exact(request.user):
        return _page(request, status=403)
    form = KeyNameForm(request.POST)
    name = form.cleaned_data["name"] if form.is_valid() else ""
    return _page(request, new_key=services.new_scientist_key(request.user, name),
                 new_key_for="read API", status=201)


@login_required
@require_POST
def revoke_read_key(request, prefix: str):
    if not services.revoke_scientist_key(request.user, prefix):
        return _page(request, status=404)
    messages.success(request, f"Read key {prefix}... revoked.")
    return redirect("accounts:home")
