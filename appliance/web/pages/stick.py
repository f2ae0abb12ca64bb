"""The supervisor's USB stick screen: crossings to HQ on a stick, and HQ's receipt and list bundles back from it.

The screen calls the same workflow as ``kiosk export`` and ``kiosk import-receipt``
(``appliance.workflow.stick``), which checks, applies and audits; this module only picks
the stick's folder (``[stick] mount_dir``) and HQ's newest receipt for this kiosk on it, and
says each outcome in the supervisor's language. The workflow's refusals are English
sentences for a technician; ``refusal_text`` picks the supervisor's sentence from the
words each refusal is known by (``tests/test_ui_stick.py`` makes every kind happen), and
the workflow's own sentence stays beside it for a technician.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from appliance.config import Config
from appliance.errors import Forbidden, KioskError
from appliance.storage.officers import Officer, require_role
from appliance.storage.store import Store
from appliance.web import reasons
from appliance.web.deps import ConfigDep, PageOfficer, StoreDep
from appliance.web.errors import status_of
from appliance.web.i18n import N_
from appliance.web.pages.render import Translate, message, render, translate
from appliance.workflow import stick

router = APIRouter(include_in_schema=False)

MIB = 1024 * 1024
NO_STICK = N_("No USB stick: put one in the kiosk's USB port, wait a few seconds, then tap Check again.")
NO_RECEIPT = N_("No receipt from HQ for this kiosk on the stick.")
NOTHING_CHANGED = N_("Nothing changed on this kiosk.")

# The workflow's refusals, by the words each is known by (first match wins), as the supervisor reads them.
RECEIPT_REFUSALS: tuple[tuple[str, str], ...] = (
    ("was already applied", N_("This receipt was already applied. If crossings still wait, write a new export "
                               "for HQ.")),
    ("is older than the receipt", N_("This receipt is older than one already applied: what it names went to HQ "
                                     "with that one.")),
    ("not this kiosk", N_("This receipt is another kiosk's.")),
    ("did not make", N_("This receipt names an export this kiosk did not make.")),
    ("not signed by this kiosk's HQ", N_("This receipt is not signed by this kiosk's HQ (altered, or from another "
                                         "HQ).")),
    ("truncated", N_("The receipt file is incomplete (the copy was interrupted): copy it again at HQ.")),
    ("not a kiosk receipt", N_("This file is not a receipt from HQ.")),
    ("not a stick receipt", N_("This file is not a receipt from HQ.")),
    ("cannot read", N_("The stick could not be read: take it out, put it in again and retry.")),
    ("hq_public_key is not set", N_("This kiosk has no HQ public key to check a receipt with: a technician must "
                                    "set [uplink] hq_public_key.")),
)
RECEIPT_REFUSED = N_("The receipt file is damaged or not readable by this kiosk.")
EXPORT_REFUSALS: tuple[tuple[str, str], ...] = (
    ("hq_stick_key is not set", N_("This kiosk has no HQ stick key to encrypt an export with: a technician must "
                                   "set [uplink] hq_stick_key.")),
    ("signing key", N_("This kiosk has no signing key: a technician must create it (kiosk uplink keygen).")),
    ("is not a directory", NO_STICK),
    ("cannot write the export", N_("The stick could not be written (full, or locked?): try another stick.")),
    ("another export was made at the same time", N_("Another export was being written at the same time: "
                                                    "write again.")),
)
EXPORT_REFUSED = N_("The export could not be written.")


def refusal_text(exc: KioskError, table: tuple[tuple[str, str], ...], fallback: str) -> str:
    """The English sentence the supervisor reads for a workflow refusal (``_()`` it to show it)."""
    text = str(exc)
    return next((sentence for words, sentence in table if words in text), fallback)


def supervisor_refused(request: Request, officer: Officer) -> HTMLResponse | None:
    """The "Not allowed" screen (403) for a role other than supervisor, else None (``require_role``, as the API)."""
    try:
        require_role(officer, "supervisor")
    except Forbidden:
        return message(request, officer, 403, N_("Not allowed"), N_("Only a supervisor can use the USB stick."))
    return None


def _screen(request: Request, officer: Officer, config: Config, store: Store, result: dict[str, Any] | None = None,
            status_code: int = 200) -> HTMLResponse:
    state = stick.survey(store, config, config.stick.mount_dir)
    newest = state["receipts"][0] if state["receipts"] else None
    return render(request, "stick.html", officer, status_code=status_code, state=state, result=result,
                  receipt=newest, receipt_number=_export_number(newest), NO_STICK=NO_STICK, NO_RECEIPT=NO_RECEIPT)


def _export_number(name: str | None) -> int | None:
    # kiosk-export-<post>-<kiosk>-<seq>.receipt: survey only lists names of that shape.
    return int(Path(name).stem.rsplit("-", 1)[1]) if name else None


def _refused(_: Translate, title: str, text: str, detail: str | None = None) -> dict[str, Any]:
    return {"ok": False, "title": _(title), "lines": [(_(text), "bad"), (_(NOTHING_CHANGED), "")], "detail": detail}


@router.get("/stick")
def stick_screen(request: Request, officer: PageOfficer, config: ConfigDep, store: StoreDep) -> Response:
    return supervisor_refused(request, officer) or _screen(request, officer, config, store)


@router.post("/stick/export")
def stick_export(request: Request, officer: PageOfficer, config: ConfigDep, store: StoreDep,
                 photos: Annotated[str, Form(max_length=8)] = "") -> Response:
    """Write an export of everything HQ has not receipted onto the stick (with the photos if asked)."""
    refused = supervisor_refused(request, officer)
    if refused is not None:
        return refused
    _ = translate(request)
    title = N_("Nothing was written")
    if not stick.survey(store, config, config.stick.mount_dir)["mounted"]:
        return _screen(request, officer, config, store, _refused(_, title, NO_STICK), 409)
    try:
        done = stick.export(store, config, config.stick.mount_dir, photos=bool(photos),
                            max_photo_bytes=config.stick.max_photo_mib * MIB, actor=officer.id)
    except KioskError as exc:
        result = _refused(_, title, refusal_text(exc, EXPORT_REFUSALS, EXPORT_REFUSED), str(exc))
        return _screen(request, officer, config, store, result, status_of(exc))
    lines = [(_("Crossings written: {count}", count=done["crossings"]), "good"),
             (_("File: {file}", file=Path(done["file"]).name), "file")]
    if photos:
        lines.append((_("Photos and fingerprints written: {count}", count=done["captures"]), ""))
        if done["captures_left"]:
            lines.append((_("Photos and fingerprints that did not fit, for the next stick: {count}",
                            count=done["captures_left"]), ""))
    lines.append((_("Take the stick to HQ. The crossings stay on this kiosk until HQ's receipt comes back."), ""))
    return _screen(request, officer, config, store,
                   {"ok": True, "title": _("Export #{number} written to the stick", number=done["export_seq"]),
                    "lines": lines, "detail": None})


@router.post("/stick/receipt")
def stick_receipt(request: Request, officer: PageOfficer, config: ConfigDep, store: StoreDep) -> Response:
    """Apply HQ's newest receipt for this kiosk from the stick, then the list bundles beside it."""
    refused = supervisor_refused(request, officer)
    if refused is not None:
        return refused
    _ = translate(request)
    title = N_("HQ's receipt was not applied")
    before = stick.survey(store, config, config.stick.mount_dir)
    if not before["mounted"]:
        return _screen(request, officer, config, store, _refused(_, title, NO_STICK), 409)
    if not before["receipts"]:
        return _screen(request, officer, config, store, _refused(_, title, NO_RECEIPT), 404)
    try:
        done = stick.apply_receipt(store, config, config.stick.mount_dir / before["receipts"][0], actor=officer.id)
    except KioskError as exc:
        result = _refused(_, title, refusal_text(exc, RECEIPT_REFUSALS, RECEIPT_REFUSED), str(exc))
        return _screen(request, officer, config, store, result, status_of(exc))
    after = stick.survey(store, config, config.stick.mount_dir)
    lines = [(_("Crossings released (HQ holds them): {count}",
                count=max(before["crossings"] - after["crossings"], 0)), "good"),
             (_("Still waiting for HQ: {count}", count=after["crossings"]), "")]
    lines += _list_lines(_, done["lists"])
    # A refused bundle's own reason (signature, version chain...) is for a technician, as a receipt's is.
    detail = "; ".join(f"{item['file']}: {item['error']}" for item in done["lists"] if "error" in item) or None
    return _screen(request, officer, config, store,
                   {"ok": True, "title": _("HQ's receipt of export #{number} applied", number=done["export_seq"]),
                    "lines": lines, "detail": detail})


def _list_lines(_: Translate, results: list[dict[str, Any]]) -> list[tuple[str, str]]:
    if not results:
        return [(_("No list bundles on the stick."), "")]
    lines = []
    for item in results:
        if "error" in item:
            lines.append((_("List file {file} refused: that list is unchanged.", file=item["file"]), "bad"))
        elif item["applied"]:
            lines.append((_("List {name} version {version} applied.", name=reasons.list_name(_, item["list"]),
                            version=item["version"]), "good"))
        else:
            lines.append((_("List {name} version {version} already in force.",
                            name=reasons.list_name(_, item["list"]), version=item["version"]), ""))
    return lines
