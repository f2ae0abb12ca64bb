"""Listed persons' photos embedded at HQ with the kiosks' own face pipeline and model pack.

A persons export's faces must come from the same embedder file the kiosks run, with the same
detection, alignment and quality gates, or a kiosk's photo of the listed person will not
match. ``enrol`` embeds each photo of a folder named by entry id (``P-001.jpg``) with
``appliance.inference.face_pipeline`` and the pack's chosen embedder, and returns the records
with their ``face`` vectors and the embedder's SHA-256 for the bundle's ``face_model``. A photo
that fails a gate (no face, several faces, too small, turned, dark, blurred...) is refused
with its entry id and reason, and nothing is published.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from appliance.errors import BundleError, KioskError
from appliance.inference.face_pipeline import PackEmbedder

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


def photos_by_entry(folder: Path) -> dict[str, Path]:
    """{entry id: photo file} of a folder of JPEG/PNG photos named by entry id.

    Raises BundleError for a missing folder or two photos of one entry.
    """
    if not folder.is_dir():
        raise BundleError(f"photo folder {folder} does not exist")
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in PHOTO_SUFFIXES or not path.is_file():
            continue
        if path.stem in found:
            raise BundleError(f"entry {path.stem} has two photos: {found[path.stem].name} and {path.name}")
        found[path.stem] = path
    return found


def enrol(records: list[dict[str, Any]], folder: Path, pack: Path, variant: str | None = None,
          threads: int = 1) -> tuple[list[dict[str, Any]], str]:
    """``records`` (persons) with ``face`` set from their photos in ``folder``, and the embedder's SHA-256.

    Raises BundleError naming every photo that cannot be embedded (entry id and reason), a photo
    whose entry is not in the export, or a pack that cannot be loaded; nothing is returned then.
    """
    try:
        embedder = PackEmbedder(pack, variant, threads)
    except KioskError as exc:
        raise BundleError(f"face model pack {pack}: {exc}") from None
    photos = photos_by_entry(folder)
    ids = {record["id"] for record in records}
    problems = [f"photo {path.name}: no entry {entry_id} in the export" for entry_id, path in photos.items()
                if entry_id not in ids]
    enrolled = []
    for record in records:
        path = photos.get(record["id"])
        if path is None:
            enrolled.append(record)
            continue
        try:
            vector = embedder.embed(path.read_bytes()).vector
        except OSError as exc:
            problems.append(f"entry {record['id']} ({path.name}): cannot read: {exc.strerror or exc}")
            continue
        except KioskError as exc:
            problems.append(f"entry {record['id']} ({path.name}): {exc}")
            continue
        enrolled.append({**record, "face": [round(float(v), 6) for v in vector]})
    if problems:
        raise BundleError(f"{len(problems)} photo(s) cannot be enrolled; nothing was published:\n"
                          + "\n".join(f"  {p}" for p in problems))
    return enrolled, embedder.embedder_sha256
