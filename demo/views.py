"""The demo's pages: public journey (sign-up, receipt, withdrawal, notices, SMS tools) and admin."""

from __future__ import annotations

import hmac
import io
import re
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from babel.dates import format_datetime
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from itsdangerous import BadData, URLSafeTimedSerializer
from markupsafe import Markup

from toolkit import capture, carriers
from toolkit import confirm as confirmation
from toolkit.artefacts import ARTEFACTS
from toolkit.confirm import Sender
from toolkit.csvio import CsvError, SafeWriter, read_csv
from toolkit.flask import (
    ConsentFormError,
    record_consent,
    record_withdrawal,
    request_locale,
    state,
)
from toolkit.i18n import translations
from toolkit.proof import ConsentEvent, LedgerError, normalise_subject
from toolkit.proof.audit import phone_column, run_audit
from toolkit.proof.labels import ACTION_LABELS, METHOD_LABELS, REASON_LABELS, labeller
from toolkit.proof.pack import pack_data, pack_pdf
from toolkit.proof.receipt import receipt_html, receipt_pdf
from toolkit.rules import days
from toolkit.sms import SmsError, preview

from .admin_sessions import AdminSessions

public = Blueprint("public", __name__)
admin = Blueprint("admin", __name__, url_prefix="/admin")


def _(message: str, locale: str | None = None, **values: Any) -> str:
    text = translations(locale or request_locale()).gettext(message)
    return text % values if values else text


# --- sign-up, receipt, withdrawal ------------------------------------------------------------


@public.get("/")
def index() -> str:
    return render_template("index.html")


@public.post("/")
def sign_up() -> Any:
    try:
        events = record_consent(request.form)
    except ConsentFormError as exc:
        return _form_error("index.html", exc)
    if not events:
        return render_template(
            "index.html",
            notice=_("You ticked no box, so we recorded nothing. Thank you for your visit."),
        )
    _ask_confirmation(events)
    # Post/Redirect/Get: reloading the receipt page never records the consent twice.
    ids = ",".join(event.id for event in events)
    return redirect(url_for("public.thanks", ids=ids, lang=request_locale()), 303)


def _sender() -> Sender:
    return current_app.extensions["optin_sender"]  # type: ignore[no-any-return]


def _links() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="optin-confirm")


def _ask_confirmation(events: list[ConsentEvent]) -> None:
    """Double opt-in: each consent typed on the form is confirmed by whoever receives the
    message (a YES reply, a code typed here, or a link in an e-mail), as the spec says."""
    spec, locale = state().spec, request_locale()
    for (subject, how), purposes in confirmation.pending(spec, events).items():
        if how == "code":
            code = confirmation.new_code()
            secret = current_app.config["SECRET_KEY"]
            session["confirm"] = {
                "subject": subject,
                "purposes": purposes,
                "digest": confirmation.code_digest(code, subject, secret),
                "tries": 0,
            }
            confirmation.ask(spec, subject, how, locale, _sender(), code=code)
        elif how == "email-link":
            token = _links().dumps({"subject": subject, "purposes": purposes})
            link = url_for("public.confirm_link", token=token, lang=locale, _external=True)
            confirmation.ask(spec, subject, how, locale, _sender(), link=link)
        else:
            confirmation.ask(spec, subject, how, locale, _sender())


@public.post("/confirm")
def confirm_code() -> Any:
    pending = session.get("confirm")
    code = request.form.get("code", "")
    if not pending:
        abort(400, _("There is no consent waiting for a code here."))
    secret = current_app.config["SECRET_KEY"]
    if not confirmation.code_matches(code, pending["subject"], secret, pending["digest"]):
        pending["tries"] += 1
        if pending["tries"] >= 5:  # a six-digit code, five tries: guessing is hopeless
            session.pop("confirm")
        else:
            session["confirm"] = pending
        abort(400, _("This code is not the one we sent."))
    session.pop("confirm")
    return _confirmed(pending["subject"], pending["purposes"], "code")


@public.get("/confirm/<token>")
def confirm_link(token: str) -> Any:
    seconds = days(state().spec.confirmation.expires) * 86400
    try:
        data = _links().loads(token, max_age=seconds)
    except BadData:
        abort(400, _("This confirmation link is not valid, or has expired."))
    return _confirmed(str(data["subject"]), list(data["purposes"]), "email-link")


def _confirmed(subject: str, purposes: list[str], method: str) -> Any:
    spec = state().spec
    events = confirmation.confirm(
        state().ledger, subject, purposes, method, request_locale(), region=spec.controller.country
    )
    names = {p.id: p.text[request_locale()].name for p in spec.purposes}
    return render_template("receipt.html", events=events, names=names, confirmed=True)


@public.get("/thanks")
def thanks() -> str:
    ledger = state().ledger
    try:
        events = [ledger.event(i) for i in request.args.get("ids", "").split(",")[:20] if i]
    except LedgerError:
        abort(404, _("There is no receipt at this address."))
    if not events:
        abort(404, _("There is no receipt at this address."))
    names = {p.id: p.text[request_locale()].name for p in state().spec.purposes}
    waiting = confirmation.pending(state().spec, events)
    return render_template(
        "receipt.html",
        events=events,
        names=names,
        waiting=sorted({how for _subject, how in waiting}),
        code_form="confirm" in session,
    )


@public.get("/receipt/<event_id>.json")
def receipt_json(event_id: str) -> Response:
    data = _receipt(event_id)
    response = jsonify(data)
    response.headers["Content-Disposition"] = f'attachment; filename="receipt-{event_id}.json"'
    return response


@public.get("/receipt/<event_id>.pdf")
def receipt_as_pdf(event_id: str) -> Response:
    data = _receipt(event_id)
    return Response(
        receipt_pdf(data),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="receipt-{event_id}.pdf"'},
    )


@public.get("/receipt/<event_id>")
def receipt_page(event_id: str) -> str:
    """The receipt inside the site (menu, stylesheet, a way to withdraw), in the receipt's
    own language: the toolkit's receipt document, its article taken as it is."""
    data = _receipt(event_id)
    document = str(receipt_html(data))
    article = document.split("<main>", 1)[1].split("</main>", 1)[0]
    return render_template(
        "receipt_page.html",
        article=Markup(article),  # noqa: S704 - the toolkit's autoescaped template
        language=data["language"],
        controller=data["piiControllers"][0]["piiController"],
    )


def _receipt(event_id: str) -> dict[str, Any]:
    try:
        return state().ledger.receipt(event_id)
    except LedgerError:
        abort(404, _("There is no receipt at this address."))


def _form_error(template: str, exc: ConsentFormError, **context: Any) -> tuple[str, int]:
    """The form again, with the error beside its field (in the page's language) and what
    was typed kept."""
    typed = {k: v for k, v in request.form.items() if k in ("phone", "email")}
    page = render_template(
        template, error=exc.message, error_field=exc.field, typed=typed, **context
    )
    return page, 400


@public.route("/withdraw", methods=["GET", "POST"])
def withdraw() -> Any:
    purposes = capture.form_purposes(state().spec)
    if request.method == "GET":
        done = request.args.get("done", "")
        events = [_event(event_id) for event_id in done.split(",") if event_id]
        return render_template("withdraw.html", purposes=purposes, done=events)
    try:
        events = record_withdrawal(request.form)
    except ConsentFormError as exc:
        return _form_error("withdraw.html", exc, purposes=purposes)
    if not events:
        return render_template(
            "withdraw.html",
            purposes=purposes,
            notice=_("You ticked no box, so we recorded nothing."),
        )
    # Post/Redirect/Get: a reload never withdraws twice; the receipts are on the next page.
    ids = ",".join(event.id for event in events)
    return redirect(url_for("public.withdraw", done=ids, lang=request_locale()), 303)


def _event(event_id: str) -> ConsentEvent:
    try:
        return state().ledger.event(event_id)
    except LedgerError:
        abort(404, _("There is no receipt at this address."))


# --- notices ---------------------------------------------------------------------------------


@public.get("/notice")
def notice() -> str:
    return render_template("notice.html")


@public.get("/notice.pdf")
def notice_pdf() -> Response:
    """The person's full notice as PDF: the public one, not the legal-review pack."""
    from toolkit.pdf import notice_pdf as public_notice_pdf

    locale = request_locale()
    data = public_notice_pdf(state().spec, locale)
    return Response(
        data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="notice-{locale}.pdf"'},
    )


# --- SMS: inbound webhook, preview, "can I send?" ----------------------------------------------


@public.post("/sms/inbound")
def sms_inbound() -> Response:
    """A carrier's webhook: checked by the signature it carries, then handled; the reply is
    TwiML for Twilio (and the generic form), sent through the Sender for the others."""
    body = request.get_data()  # read (and kept) before the form is parsed out of it
    form = request.values  # Vonage may sign a GET-style query as well as a form
    try:
        inbound = carriers.read_inbound(
            carriers.configured(current_app.config),
            request.url,
            request.headers,
            form,
            body,
            allow_unsigned=bool(current_app.config["OPTIN_WEBHOOK_UNSIGNED"]),
        )
        answer = capture.inbound_sms(
            state().ledger,
            inbound.sender,
            inbound.text,
            request_locale(),
            message_id=inbound.message_id,
        )
    except carriers.WebhookError as exc:
        abort(403, str(exc))
    except ConsentFormError as exc:
        abort(400, exc.message)
    if inbound.carrier in ("vonage", "telnyx"):
        if answer.reply:
            _sender().send(confirmation.Outgoing("sms", inbound.sender, answer.reply))
        return jsonify({})
    return _twiml(answer.reply)


def _twiml(message: str | None) -> Response:
    return Response(carriers.twiml(message), mimetype="application/xml")


@public.get("/preview")
def preview_page() -> str:
    return render_template("preview.html")


@public.post("/api/sms/preview")
def api_preview() -> Any:
    """The preview page's live view, JSON in and out (errors too, in the page's language):
    the message cut into cells with their segment, the counters, warnings and suggestions."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("body"), str):
        abort(400, "expected JSON {body, locale, first_contact, smart_encoding, samples}")
    ui = request_locale()
    if not payload["body"].strip():
        return jsonify({"error": _("Type a message to see its preview."), "code": "empty"}), 400
    locale = str(payload.get("locale") or ui)
    samples = payload.get("samples")
    if not isinstance(samples, dict):
        samples = {}
    try:
        result = preview(
            state().spec,
            payload["body"],
            locale,
            bool(payload.get("first_contact")),
            smart_encoding=bool(payload.get("smart_encoding")),
            samples={str(k): str(v) for k, v in samples.items()},
            ui_locale=ui,
        )
    except (SmsError, ValueError) as exc:
        message = str(exc)
        if message.startswith("template position"):
            message = _(
                "A brace { or } stands alone: write a placeholder as {first_name}, "
                "a brace as {{ or }}."
            )
        return jsonify({"error": message, "code": "invalid"}), 400
    data = result.as_json()
    cells = result.cells()
    data["cells"] = cells
    data["characters"] = len(cells)
    sent = result.analysis.sent if result.analysis.sent is not None else result.message
    data["segments_text"] = [
        sent[a:b]
        for a, b in zip(
            (0, *result.analysis.breaks),
            (*result.analysis.breaks, len(sent)),
            strict=True,
        )
    ]
    return jsonify(data)


def _api_caller() -> Response | None:
    """The consent API's gate: its own token (OPTIN_API_TOKEN), never the admin's. Whether a
    number is in the files, and when its owner consented or objected, is personal data
    (L-09, M1): the API says allowed or blocked, and the reason codes, nothing more."""
    header = request.headers.get("Authorization", "")
    if capture.bearer_matches(header, current_app.config["OPTIN_API_TOKEN"]):
        return None
    response = jsonify({"error": _("This API needs its token (Authorization: Bearer).")})
    response.headers["WWW-Authenticate"] = 'Bearer realm="optin-api"'
    response.status_code = 401
    return response


@public.get("/api/consent")
def api_consent() -> Any:
    refused = _api_caller()
    if refused is not None:
        return refused
    subject, purpose = request.args.get("subject", ""), request.args.get("purpose", "")
    if not subject or not purpose:
        abort(400, "expected ?subject=...&purpose=...")
    try:
        (verdict,) = capture.verdicts(state().ledger, purpose, [subject])
    except ConsentFormError as exc:
        abort(400, exc.message)
    if verdict["codes"] == ["invalid"]:
        abort(400, f"not a phone number or an e-mail address: {subject!r}")
    return jsonify({"purpose": purpose, **verdict})


@public.post("/api/consent/batch")
def api_consent_batch() -> Any:
    """``{"purpose": ..., "subjects": [...]}`` -> one verdict per subject, in order; an
    unreadable subject gets ``"codes": ["invalid"]`` instead of failing the batch."""
    refused = _api_caller()
    if refused is not None:
        return refused
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("subjects"), list):
        abort(400, "expected JSON {purpose, subjects: [...]}")
    purpose = str(payload.get("purpose") or "")
    try:
        results = capture.verdicts(state().ledger, purpose, [str(s) for s in payload["subjects"]])
    except ConsentFormError as exc:
        abort(400, exc.message)
    return jsonify({"purpose": purpose, "results": results})


@public.post("/api/consent/record")
def api_consent_record() -> Any:
    """A form another stack received (a page made with ``optin build``), relayed by its server:
    recorded as the demo's own sign-up records it, then confirmed the same way."""
    refused = _api_caller()
    if refused is not None:
        return refused
    try:
        events = capture.relayed(state().ledger, request.get_json(silent=True))
    except ConsentFormError as exc:
        return jsonify({"error": exc.message, "field": exc.field}), 400
    _ask_confirmation(events)
    pending = sorted({how for _subject, how in confirmation.pending(state().spec, events)})
    return jsonify({"recorded": [e.id for e in events], "confirmation": pending}), 201


# --- admin -----------------------------------------------------------------------------------


def _is_admin() -> bool:
    header = request.headers.get("Authorization", "")
    if capture.bearer_matches(header, current_app.config["OPTIN_ADMIN_TOKEN"]):
        return True
    return _admin_sessions().valid(str(session.get("admin_sid", "")))


def _admin_sessions() -> AdminSessions:
    return current_app.extensions["optin_admin_sessions"]  # type: ignore[no-any-return]


@admin.before_request
def require_admin() -> Any:
    if request.endpoint in ("admin.login",) or _is_admin():
        return None
    return render_template("admin_login.html"), 401


@admin.post("/login")
def login() -> Any:
    token = current_app.config["OPTIN_ADMIN_TOKEN"]
    if not hmac.compare_digest(request.form.get("token", "").encode(), token.encode()):
        current_app.logger.warning("admin sign-in refused from %s", request.remote_addr)
        return render_template("admin_login.html", error=_("Wrong token.")), 401
    session.clear()
    session["admin_sid"] = _admin_sessions().open()
    return render_template("admin_login.html", ok=True)


@admin.post("/logout")
def logout() -> str:
    _admin_sessions().close(str(session.get("admin_sid", "")))
    session.clear()
    return render_template("admin_login.html")


@admin.get("/", strict_slashes=False)  # /admin serves too, without a redirect
def dashboard() -> str:
    """What a compliance officer looks at first: the chain's state, the records per purpose
    and kind, a search, the newest records page by page. Its cost does not grow with the
    ledger: the check reads only the records appended since the last one (ledger.check)."""
    ledger = state().ledger
    before = request.args.get("before", type=int)
    rows = ledger.page(before, PAGE_SIZE)
    return render_template(
        "admin.html",
        rows=rows,
        older=rows[-1][0] if len(rows) == PAGE_SIZE and rows[-1][0] > 1 else None,
        newest=before is not None,
        check=ledger.check(),
        full=ledger.last_check(full=True),
        verifying=_verifying(),
        optin_purposes=[p.id for p in state().spec.purposes],
        marketing_purposes=[p.id for p in state().spec.purposes if p.direct_marketing],
        notice=session.pop("admin_notice", None),
        outbox=_outbox()[::-1][:PAGE_SIZE],
        **_labels(),
    )


PAGE_SIZE = 50


def _verifying() -> bool:
    """Whether this worker is verifying the whole chain now."""
    thread = current_app.extensions.get("optin_full_verify", {}).get("thread")
    return thread is not None and bool(thread.is_alive())


def _labels() -> dict[str, Any]:
    """The staff's words for the ledger's codes, in the page's language."""
    locale = request_locale()
    trans = translations(locale)
    return {
        "when": lambda at: (
            format_datetime(
                datetime.fromisoformat(at.replace("Z", "+00:00")),
                "medium",
                tzinfo=UTC,
                locale=locale,
            )
            + " UTC"
        ),
        "action_label": labeller(ACTION_LABELS, trans.gettext),
        "method_label": labeller(METHOD_LABELS, trans.gettext),
        "reason_label": labeller(REASON_LABELS, trans.gettext),
    }


@admin.post("/verify")
def verify_all() -> Any:
    """Verify the whole chain (every record and stored text), and log it. It takes about
    35 s per million records: it runs in a thread of this worker, so no request waits past
    its timeout; a small ledger's result is on the next page at once."""
    running = current_app.extensions.setdefault("optin_full_verify", {})
    thread = running.get("thread")
    if thread is None or not thread.is_alive():
        ledger = state().ledger
        thread = threading.Thread(target=lambda: ledger.check(full=True), daemon=True)
        running.update(thread=thread, since=datetime.now(UTC).isoformat())
        thread.start()
    thread.join(FULL_VERIFY_WAIT)
    done = state().ledger.last_check(full=True)
    if thread.is_alive() or done is None:
        session["admin_notice"] = _(
            "The whole chain is being verified; this page shows the result when it ends."
        )
    elif done.ok:
        session["admin_notice"] = _(
            "Whole chain verified: intact up to record #%(upto)s.", upto=done.upto
        )
    else:
        session["admin_notice"] = _(
            "Whole chain verified: BROKEN at record %(id)s.", id=done.broken_id
        )
    return redirect(url_for("admin.dashboard", lang=request_locale()), 303)


FULL_VERIFY_WAIT = 5.0  # seconds a POST waits for the whole-chain verification


def _person() -> str:
    """The person searched for (?q=, a number in any usual form or an e-mail address)."""
    query = request.args.get("q", "").strip()
    if not query:
        abort(400, _("Type a phone number or an e-mail address."))
    try:
        subject = normalise_subject(query, state().spec.controller.country)
    except LedgerError:
        abort(400, _("This is neither a phone number nor an e-mail address: %(q)s", q=query))
    return subject


@admin.get("/person")
def person() -> str:
    """One person's full history, the texts they saw, what we may do today, their pack."""
    subject = _person()
    ledger = state().ledger
    records = ledger.numbered_history(subject)
    decisions = {p.id: ledger.can_send(subject, p.id) for p in state().spec.purposes}
    return render_template(
        "admin_person.html",
        subject=subject,
        records=records,
        decisions=decisions if records else {},
        titles={n: _(a.title) for n, a in ARTEFACTS.items()},
        **_labels(),
    )


@admin.get("/person.pdf")
def person_pack() -> Response:
    """The person's proof pack as a PDF (records, texts, receipts, chain, checkpoint)."""
    subject = _person()
    try:
        data = pack_data(state().ledger, subject)  # reads the history once
    except LedgerError:
        abort(404, _("No record of %(q)s in the ledger.", q=subject))
    return Response(
        pack_pdf(data, request_locale()),
        mimetype="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="proof-pack.pdf"'},
    )


@admin.get("/review-pack.pdf")
def review_pack() -> Response:
    """The legal-review pack of the spec the demo serves: every artefact in every locale,
    each page headed by its artefact's version (the public gets /notice.pdf instead)."""
    from toolkit.pdf import export_pdf

    return Response(
        export_pdf(state().spec),
        mimetype="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="review-pack.pdf"'},
    )


@admin.get("/text/<version>")
def shown_text(version: str) -> str:
    """The exact words behind a version, as stored (shown as text, never as markup)."""
    stored = state().ledger.stored_text(version)
    if stored is None:
        abort(404, _("No stored text has this version."))
    known = ARTEFACTS.get(stored.artefact)
    title = _(known.title) if known else stored.artefact
    return render_template("admin_text.html", text=stored, title=title)


def _outbox() -> list[tuple[str, Any]]:
    sender = _sender()
    return sender.messages() if isinstance(sender, confirmation.OutboxSender) else []


@admin.post("/objection")
def objection() -> Any:
    """An objection received by e-mail, on the phone or by post, recorded as the notices
    promise it can be (GDPR Art. 21(3)): one opposition per purpose chosen."""
    ledger = state().ledger
    try:
        events = capture.record(
            ledger,
            capture.objections(
                ledger,
                request.form.get("subject", ""),
                request.form.getlist("purpose"),
                method=request.form.get("method", ""),
                locale=request_locale(),
                note=request.form.get("note", "").strip(),
            ),
            request_locale(),
        )
    except ConsentFormError as exc:
        abort(400, exc.message)
    count = len(events)
    session["admin_notice"] = translations(request_locale()).ngettext(
        "Objection recorded for %(count)s purpose.",
        "Objection recorded for %(count)s purposes.",
        count,
    ) % {"count": count}
    return redirect(url_for("admin.dashboard", lang=request_locale()), 303)


@admin.get("/export.<fmt>")
def export(fmt: str) -> Response:
    if fmt not in ("jsonl", "csv"):
        abort(404)
    lines = "\n".join(state().ledger.export(fmt)) + "\n"
    mimetype = "text/csv" if fmt == "csv" else "application/x-ndjson"
    return Response(
        lines,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="ledger.{fmt}"'},
    )


@admin.post("/audit")
def audit() -> Any:
    upload = request.files.get("contacts")
    purpose = request.form.get("purpose", "")
    if upload is None:
        abort(400, _("Choose a contact file (CSV) to upload."))
    try:
        handle = io.TextIOWrapper(upload.stream, encoding="utf-8-sig", newline="")
        columns, rows = read_csv(handle, upload.filename or "upload")
        index = columns.index(phone_column(columns, None))
        out = io.StringIO()
        writer = SafeWriter(out)
        writer.writerow([*columns, "sendable", "reason"])
        summary = run_audit(
            state().ledger,
            purpose,
            rows,
            index,
            lambda row, reason: writer.writerow([*row, "yes", reason]),
            lambda row, reason: writer.writerow([*row, "no", reason]),
            region=state().spec.controller.country,
        )
    except (LedgerError, CsvError) as exc:
        abort(400, str(exc))
    # The summary on a page, the rows as a file to download from it (kept in the instance
    # folder under a random name, as the demo keeps its outbox).
    name = secrets.token_urlsafe(16)
    folder = Path(current_app.instance_path) / "audits"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.csv").write_text(out.getvalue(), encoding="utf-8")
    return render_template(
        "admin_audit.html", summary=summary, purpose=purpose, name=name, **_labels()
    )


@admin.get("/audit/<name>.csv")
def audit_file(name: str) -> Response:
    path = Path(current_app.instance_path) / "audits" / f"{name}.csv"
    if not re.fullmatch(r"[A-Za-z0-9_-]{22}", name) or not path.is_file():
        abort(404)
    return Response(
        path.read_text(encoding="utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )


__all__ = ["admin", "public"]
