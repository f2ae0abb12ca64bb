"""The technician's self-test: open and exercise every configured device, one row per device.

``run(config)`` never raises for a device fault: each device gets a row with ``device``,
``backend``, ``port`` (what it is attached to), ``ok``, ``result`` (what was seen) and a
``hint`` (what to check) when it failed. Devices are opened one at a time and closed
again, so a broken one cannot keep another's port busy. When a face embedder is
configured, one more row (``face_models``) loads the models and runs them once on a blank
image. A ``time`` row says what each configured time source answers now. The last row (``sd_card``) is the card of the data partition: free space against the
storage budget, error counters, bytes written. Stop the service first (``systemctl stop
kiosk``): it holds the serial ports exclusively.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from appliance.config import Config, HardwareSection
from appliance.domain import clock, mrz
from appliance.domain.reasons import N_
from appliance.errors import DeviceError, FrameError, InferenceError, MRZError
from appliance.hw import KINDS, NOT_FITTED, backend_class, timesource
from appliance.hw.photo_quality import assess
from appliance.inference import face_embedder, face_pipeline, litert, model_pack
from appliance.storage import card_health

log = logging.getLogger(__name__)

MRZ_READ_S = 0.5
INDICATOR_STEP_S = 0.2
# When the back-end itself cannot be found or loaded, there is no class to ask for its hint.
UNKNOWN_BACKEND_HINT = N_("check the [hardware] section")


def _probe_mrz_reader(device: Any) -> str:
    if getattr(device, "connected", True) is False:
        raise DeviceError(device.health()[1])
    text = device.read(MRZ_READ_S)
    if text is None:
        return f"{device.health()[1]}; no document on the reader"
    try:
        parsed = mrz.parse(text)
    except MRZError as exc:
        raise FrameError(f"reader sent text that is not an MRZ: {exc}") from None
    checks = "check digits ok" if not parsed.to_dict()["failed_checks"] else "CHECK DIGITS FAILED"
    return f"read a {parsed.to_dict()['format']} document ({checks})"


def _probe_camera(device: Any) -> str:
    photo = device.capture()
    quality = assess(photo)
    notes = "; ".join(quality["hints"])
    return f"captured {photo.width}x{photo.height} {photo.media_type}" + (f" ({notes})" if notes else "")


def _probe_power(device: Any) -> str:
    reading = device.read()
    parts = [f"battery {reading.battery_percent:g}%" if reading.battery_percent is not None else "no percentage"]
    if reading.voltage is not None:
        parts.append(f"{reading.voltage:g} V")
    if reading.charging is not None:
        parts.append("charging" if reading.charging else "not charging")
    if reading.on_mains is not None:
        parts.append("on mains" if reading.on_mains else "mains lost")
    if reading.solar_watts is not None:
        parts.append(f"solar {reading.solar_watts:g} W")
    if reading.low_battery:
        parts.append("UPS reports battery low")
    return ", ".join(parts)


def _probe_fingerprint(device: Any) -> str:
    # Opening already did the handshake; ask again so the row proves the link now.
    parameters = device.handshake()
    return (f"module answered: capacity {parameters['capacity']}, packets of {parameters['packet_size']} bytes, "
            f"security level {parameters['security_level']}")


def _probe_indicators(device: Any) -> str:
    # A technician watching the kiosk sees each LED in turn and hears one short beep.
    for state in ("ready", "busy", "alert"):
        device.set_state(state)
        time.sleep(INDICATOR_STEP_S)
    device.set_state("ready")
    if "buzzer" in device.parts:
        device.pattern("selftest", background=False)
    return device.health()[1]


PROBES: dict[str, Callable[[Any], str]] = {
    "mrz_reader": _probe_mrz_reader,
    "camera": _probe_camera,
    "power": _probe_power,
    "fingerprint": _probe_fingerprint,
    "indicators": _probe_indicators,
}


def check(kind: str, hardware: HardwareSection) -> dict[str, Any]:
    """The self-test row of one device kind; its port and hint are what the back-end class says."""
    backend = getattr(hardware, kind)
    row: dict[str, Any] = {"device": kind, "backend": backend, "port": "-", "ok": True, "result": "", "hint": ""}
    if backend == NOT_FITTED:
        row["result"] = "not fitted (configured as none)"
        return row
    try:
        cls = backend_class(kind, backend)
    except DeviceError as exc:
        row.update(ok=False, result=str(exc), hint=UNKNOWN_BACKEND_HINT)
        return row
    row["port"] = cls.attached_to(hardware)
    device = None
    try:
        device = cls.from_config(hardware)
        row["result"] = PROBES[kind](device)
    except (DeviceError, OSError) as exc:
        row.update(ok=False, result=str(exc), hint=cls.hint)
    except Exception as exc:  # a bug or an unexpected library error: still one row, never a traceback
        log.exception("self-test of %s crashed", kind)
        row.update(ok=False, result=f"{type(exc).__name__}: {exc}", hint=cls.hint + "; unexpected error, see the log")
    finally:
        if device is not None:
            try:
                device.close()
            except Exception as exc:
                log.warning("closing %s after its self-test failed: %s", kind, exc)
    return row


FACE_MODELS_HINT = N_("check screening.face_embedder_model and face_detector_model are TFLite models that follow "
                    "docs/faces.md (`kiosk faces models DIR` writes reference ones) and that ai-edge-litert is "
                    "installed")
BLANK_IMAGE = (480, 640)  # a camera-sized mid-grey frame


def check_face_models(config: Config) -> dict[str, Any] | None:
    """The self-test row of the face models: load them and run them once on a blank image;
    None when no embedder is configured (nothing to check, not a failure)."""
    settings = config.screening
    if settings.face_embedder_model is None:
        pack = model_pack.installed(settings.face_pack)
        return check_face_pack(pack, settings) if pack is not None else None
    port = settings.face_embedder_model.name
    if settings.face_detector_model is not None:
        port += f" + {settings.face_detector_model.name}"
    row: dict[str, Any] = {"device": "face_models", "backend": "litert", "port": port, "ok": True, "result": "",
                           "hint": ""}
    try:
        runtime = litert.runtime_info()
        row["backend"] = f"{runtime['runtime']} {runtime['version']}"
        started = time.perf_counter()
        embedder = face_embedder.FaceEmbedder(settings.face_embedder_model, settings.face_detector_model,
                                              settings.face_detector_min_score, settings.inference_threads)
        loaded = time.perf_counter()
        blank = np.full((*BLANK_IMAGE, 3), 128, dtype=np.uint8)
        # Both models run, whatever the detector thinks of a blank frame: the row proves the
        # runtime executes them, not that a face is there.
        detections = embedder.detect(blank)
        vector = embedder.embed_crop(face_embedder.centre_square(blank))
        ran = time.perf_counter()
        info = embedder.describe()
        size = info["embedder"]["input"][1]
        parts = [f"embedder {size}x{size} {info['embedder']['input_type']} -> {vector.shape[0]}-d"]
        if info["detector"] is not None:
            height, width = info["detector"]["input"][1:3]
            best = f"best score {detections[0].score:.2f}" if detections else "no box"
            parts.append(f"detector {width}x{height} {info['detector']['input_type']}, {info['detector']['boxes']} "
                         f"boxes ({best} on a blank image)")
        else:
            parts.append("no detector (centre crop)")
        row["result"] = "; ".join(parts) + f"; loaded in {(loaded - started) * 1000:.0f} ms, ran in " \
                                           f"{(ran - loaded) * 1000:.0f} ms"
    except InferenceError as exc:
        row.update(ok=False, result=str(exc), hint=FACE_MODELS_HINT)
    except Exception as exc:  # a runtime crash is still one row, never a traceback
        log.exception("self-test of the face models crashed")
        row.update(ok=False, result=f"{type(exc).__name__}: {exc}", hint=FACE_MODELS_HINT + "; unexpected error, "
                                                                                          "see the log")
    return row


FACE_PACK_HINT = N_("rebuild the pack (`kiosk models build DIR` on a laptop, docs/faces.md) or reinstall the image; "
                  "check screening.face_pack and face_pack_embedder")


def check_face_pack(pack: Path, settings: Any) -> dict[str, Any]:
    """The self-test row of a model pack: its files checked against the manifest, every model
    loaded and run once (detectors on a blank frame, the embedder on a blank face), with timings."""
    row: dict[str, Any] = {"device": "face_models", "backend": "litert", "port": str(pack), "ok": True, "result": "",
                           "hint": ""}
    try:
        runtime = litert.runtime_info()
        row["backend"] = f"{runtime['runtime']} {runtime['version']}"
        started = time.perf_counter()
        embedder = face_pipeline.PackEmbedder(pack, settings.face_pack_embedder, settings.inference_threads)
        loaded = time.perf_counter()
        blank = np.full((*BLANK_IMAGE, 3), 128, dtype=np.uint8)
        analysis = embedder.analyse(blank)  # every detector runs: a blank frame has no face
        detected = time.perf_counter()
        vector = embedder.embed_aligned(np.full((112, 112, 3), 128, dtype=np.uint8))
        embedded = time.perf_counter()
        row["port"] = f"{pack} ({embedder.variant})"
        row["result"] = (f"{len(embedder.detectors)} detector(s), {analysis.verdict.code or 'a face'} on a blank frame; "
                         f"embedder {embedder.variant} -> {vector.shape[0]}-d, threshold {embedder.threshold}; "
                         f"loaded and checked in {(loaded - started) * 1000:.0f} ms; detect "
                         f"{(detected - loaded) * 1000:.1f} ms, embed {(embedded - detected) * 1000:.1f} ms")
    except InferenceError as exc:
        row.update(ok=False, result=str(exc), hint=FACE_PACK_HINT)
    except Exception as exc:  # a runtime crash is still one row, never a traceback
        log.exception("self-test of the face model pack crashed")
        row.update(ok=False, result=f"{type(exc).__name__}: {exc}", hint=FACE_PACK_HINT + "; unexpected error, see the log")
    return row


SD_CARD_HINT = N_("back up (uplink or `kiosk export --to /media/kiosk-usb`), then replace the card; a full budget: "
                "see [storage] in docs/operations.md")


def check_sd_card(config: Config) -> dict[str, Any]:
    """The self-test row of the card holding the data partition: free space against the storage budget,
    ext4's error counter, bytes written and the age estimate (``storage/card_health.py``)."""
    health = card_health.report(config)
    port = f"/dev/{health['partition']}" if health["partition"] else str(config.kiosk.data_dir)
    result = card_health.summary(health)
    if health["problems"]:
        result = "; ".join(health["problems"]) + (f" ({result})" if result else "")
    return {"device": "sd_card", "backend": "sysfs", "port": port, "ok": not health["problems"], "result": result,
            "hint": SD_CARD_HINT if health["problems"] else ""}


TIME_HINT = N_("no trusted time: check NTP or chrony and the uplink, the RTC (`dmesg | grep rtc`), gpsd's fix; "
             "or a supervisor sets it (`kiosk time set`, docs/operations.md \"Time\")")


def check_time(config: Config) -> dict[str, Any]:
    """The self-test row of the time sources: what each polled source of [time] sources answers now
    (HQ's time comes with receipts and is not polled). Fails when none answers."""
    wall = clock.utcnow()
    answers, ok = [], False
    try:
        sources = timesource.open_sources(config.time)
    except DeviceError as exc:
        return {"device": "time", "backend": config.time.backend, "port": "", "ok": False, "result": str(exc),
                "hint": TIME_HINT}
    for source in sources:
        try:
            reading = source.read(wall)
        except Exception as exc:  # a source's fault is the row's result, not the self-test's end
            reading, answer = None, f"{source.name}: failed ({exc})"
        else:
            # What a technician compares: how far the source is from the board's clock, not a raw timestamp.
            answer = f"{source.name}: " + ("no answer" if reading is None else
                                          f"{(reading.utc - wall).total_seconds():+.1f} s from the system clock "
                                          f"(±{reading.uncertainty_s:g} s)")
        ok = ok or reading is not None
        answers.append(answer)
    return {"device": "time", "backend": config.time.backend, "port": ", ".join(config.time.sources),
            "ok": ok, "result": "; ".join(answers) or "no polled source configured", "hint": "" if ok else TIME_HINT}


def run(config: Config) -> list[dict[str, Any]]:
    """One row per device kind, in start-up order: device, backend, port, ok, result, hint;
    then the face models' row when an embedder is configured; the time sources'; then the SD card's."""
    rows = [check(kind, config.hardware) for kind in KINDS]
    faces = check_face_models(config)
    if faces is not None:
        rows.append(faces)
    rows.append(check_time(config))
    rows.append(check_sd_card(config))
    return rows
