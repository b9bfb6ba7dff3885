"""The owner's private phone pages under /accounts/phones/, and the e-mail opt-in and opt-out.

Every page needs a login (anonymous visitors are sent to the login page) and shows only phones
the account claims (accounts/pairing.py); any other phone number is a 404, the same whether the
phone exists, is someone else's or is a JSON detector. Each page is built from the owner's own
uploads only (docs/security.md, "Pairing and owner pages"): no public pseudonym, nothing that
someone else's uploads under the same Device-id sent. Bad page numbers are a 400.
"""
from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from elastic_transport import TransportError
from elasticsearch import ApiError

from accounts import gallery, joined, notify, pairing, phones
from accounts.forms import PhoneMailForm
from ops.elastic import get_es, index_prefix

PREVIEW_EVENTS = 6
MAX_PAGE = 100_000


class BadPage(ValueError):
    pass


def _page_number(request, name: str) -> int:
    raw = request.GET.get(name, "1")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise BadPage(f"{name} must be a whole number from 1 to {MAX_PAGE}")
    return int(raw)


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def phone_list(request):
    return _private(render(request, "accounts/phones.html", {"phones": pairing.phones_of(request.user)}))


def _joined(claim, uploads, summaries) -> list[dict] | None:
    try:
        return joined.joined_candidates(get_es(), index_prefix(), claim.device_id, uploads, summaries)
    except (TransportError, ApiError):
        return None   # the page stands without them; it says they cannot be read now


@login_required
@require_GET
def phone(request, claim_id: int):
    claim = phones.own_claim(request.user, claim_id)
    try:
        number = _page_number(request, "uploads")
    except BadPage as exc:
        return HttpResponseBadRequest(str(exc))
    now = timezone.now()
    uploads = pairing.own_uploads(claim)
    phones.summarize_missing(uploads)
    summaries = phones.own_summaries(uploads)
    health = phones.phone_health(uploads, now)
    rows, more = phones.upload_rows(uploads, number, settings.CRAYFIS_OWNER_UPLOADS_PAGE)
    context = {
        "claim": claim, "label": pairing.label_of(claim.device_id), "health": health,
        "fates": phones.fate_counts(uploads), "uploads": rows, "uploads_page": number, "uploads_more": more,
        "series": phones.series(summaries, now, health.network_rate),
        "joined": _joined(claim, uploads, summaries),
        "preview": gallery.page(uploads, summaries, 1, PREVIEW_EVENTS),
    }
    return _private(render(request, "accounts/phone.html", context))


@login_required
@require_GET
def phone_gallery(request, claim_id: int):
    claim = phones.own_claim(request.user, claim_id)
    try:
        number = _page_number(request, "page")
    except BadPage as exc:
        return HttpResponseBadRequest(str(exc))
    uploads = pairing.own_uploads(claim)
    phones.summarize_missing(uploads)
    found = gallery.page(uploads, phones.own_summaries(uploads), number, settings.CRAYFIS_OWNER_GALLERY_PAGE)
    return _private(render(request, "accounts/gallery.html",
                           {"claim": claim, "label": pairing.label_of(claim.device_id), "gallery": found}))


@login_required
@require_GET
def event_image(request, claim_id: int, upload_id: int, index: int):
    claim = phones.own_claim(request.user, claim_id)
    upload = pairing.own_uploads(claim).defer(None).filter(id=upload_id).first()
    png = gallery.event_png(upload, index) if upload is not None else None
    if png is None:
        raise Http404("no such event")
    return _private(HttpResponse(png, content_type="image/png"))


@login_required
@require_POST
def phone_mail(request):
    form = PhoneMailForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
        return redirect("accounts:home")
    user = request.user
    wanted = form.cleaned_data["active"]
    if form.cleaned_data["email"] != user.email:
        user.email = form.cleaned_data["email"]
        user.save(update_fields=["email"])
    if wanted and not user.email:
        messages.error(request, "Give an e-mail address to receive e-mails about your phones.")
        return redirect("accounts:home")
    notify.set_subscription(user, wanted)
    messages.success(request, "E-mails about your phones are on." if wanted else "E-mails about your phones are off.")
    return redirect("accounts:home")


@csrf_exempt   # the signed token is the authority (a mail client's one-click POST has no session)
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    if request.method == "GET":
        valid = notify.unsubscribe_token_valid(token)
        return render(request, "accounts/unsubscribe.html", {"token": token, "valid": valid, "done": False},
                      status=200 if valid else 400)
    done = notify.unsubscribe(token)
    return render(request, "accounts/unsubscribe.html", {"token": token, "valid": done, "done": done},
                  status=200 if done else 400)
