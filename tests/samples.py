"""Sample MRZs and lists shipped with the package, named for what each one exercises."""

from __future__ import annotations

from importlib import resources

from appliance.lists.csv_import import import_csv

_DEMO = resources.files("appliance").joinpath("demo_data")
SPECIMENS = _DEMO.joinpath("specimens.mrz").read_text(encoding="utf-8").strip().split("\n\n")

EXPIRED_ERIKSSON = SPECIMENS[0]  # ICAO specimen, expired 2012
CLEAR_OKAFOR = SPECIMENS[1]
PERSON_HIT_DOE = SPECIMENS[2]  # on the demo persons list (P-0001)
STOLEN_DOC_MARTIN = SPECIMENS[3]  # TD1, document on the demo documents list


def import_demo_lists(store) -> None:
    for kind in ("persons", "documents"):
        with resources.as_file(_DEMO.joinpath(f"{kind}.csv")) as path:
            import_csv(store, kind, path, actor="test")


def with_bad_check_digit(mrz: str) -> str:
    """The same MRZ with the document number's check digit changed (TD3: line 2, column 10)."""
    lines = mrz.split("\n")
    digit = lines[1][9]
    lines[1] = lines[1][:9] + str((int(digit) + 1) % 10) + lines[1][10:]
    return "\n".join(lines)


def portrait_png(background=(225, 220, 215), skin=(210, 160, 120), hair=(60, 40, 30), centre=(160, 190),
                 size=(320, 400)) -> bytes:
    """A drawn head and shoulders (RGB colours) on a plain background, as PNG bytes: a photo
    the reference detector finds a face in. Different arguments give a different photo."""
    import cv2
    import numpy as np

    width, height = size
    x, y = centre
    image = np.full((height, width, 3), background, np.uint8)
    cv2.ellipse(image, (x, y + 190), (150, 90), 0, 180, 360, (40, 60, 120), -1)  # shoulders
    cv2.ellipse(image, (x, y), (70, 95), 0, 0, 360, skin, -1)
    cv2.ellipse(image, (x, y - 60), (75, 50), 0, 180, 360, hair, -1)
    for dx in (-28, 28):
        cv2.circle(image, (x + dx, y - 15), 9, (250, 250, 250), -1)
        cv2.circle(image, (x + dx, y - 15), 4, (30, 30, 30), -1)
    cv2.ellipse(image, (x, y + 45), (25, 8), 0, 0, 180, (160, 60, 60), -1)
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(image[:, :, ::-1]))  # RGB -> OpenCV's BGR
    assert ok
    return encoded.tobytes()


def blank_png(level: int = 128, size=(320, 400)) -> bytes:
    """A uniform grey photo: no face for any detector."""
    import cv2
    import numpy as np

    ok, encoded = cv2.imencode(".png", np.full((size[1], size[0], 3), level, np.uint8))
    assert ok
    return encoded.tobytes()


def undecodable_png() -> bytes:
    """A PNG signature and header (so the camera accepts it and reports its size) over junk."""
    header = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (320).to_bytes(4, "big") + (400).to_bytes(4, "big")
    return header + b"\x08\x02\x00\x00\x00" + b"\x00" * 4 + b"not the rest of an image" * 4
