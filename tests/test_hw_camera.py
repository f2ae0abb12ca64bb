"""Camera back-ends that cannot run here fail clearly; photo quality and preview on real images."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from appliance.domain import clock
from appliance.config import CameraSettings, HardwareSection
from appliance.errors import DeviceError
from appliance.hw.camera import Photo, describe_image
from appliance.hw.camera_picamera2 import Picamera2Camera
from appliance.hw.camera_v4l2 import V4L2Camera
from appliance.hw.photo_quality import assess, preview


def photo_of(image: np.ndarray, ext: str = ".png") -> Photo:
    ok, encoded = cv2.imencode(ext, image)
    data = encoded.tobytes()
    media_type, width, height = describe_image(data)
    return Photo(data, media_type, width, height, clock.utcnow())


def face_like(size: tuple[int, int] = (400, 320)) -> np.ndarray:
    rng = np.random.default_rng(7)
    image = np.full((*size, 3), 120, np.uint8)
    cv2.circle(image, (size[1] // 2, size[0] // 2), size[1] // 3, (200, 180, 170), -1)
    return cv2.add(image, rng.integers(0, 60, image.shape, dtype=np.uint8))


def test_v4l2_without_a_video_device_is_a_clear_device_error() -> None:
    settings = CameraSettings(device="/dev/video97")
    with pytest.raises(DeviceError, match=r"v4l2 camera: /dev/video97 does not exist .*is the USB camera plugged in"):
        V4L2Camera.from_config(HardwareSection(camera="v4l2", camera_settings=settings))


def test_v4l2_without_opencv_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_node = tmp_path / "video0"
    fake_node.write_bytes(b"")
    monkeypatch.setitem(sys.modules, "cv2", None)  # what a kiosk whose OpenCV install broke looks like
    with pytest.raises(DeviceError, match="needs OpenCV .*opencv-python-headless"):
        V4L2Camera.from_config(HardwareSection(camera="v4l2", camera_settings=CameraSettings(device=str(fake_node))))


def test_v4l2_node_that_is_not_a_camera(tmp_path: Path) -> None:
    not_a_camera = tmp_path / "video0"
    not_a_camera.write_bytes(b"")
    with pytest.raises(DeviceError, match="exists but does not open as a camera"):
        V4L2Camera.from_config(HardwareSection(camera="v4l2", camera_settings=CameraSettings(device=str(not_a_camera))))


def test_picamera2_off_a_pi_is_a_clear_device_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(DeviceError, match="needs Raspberry Pi OS's python3-picamera2 .* use camera = \"v4l2\""):
        Picamera2Camera.from_config(HardwareSection(camera="picamera2"))


def test_a_good_photo_passes_and_previews_as_jpeg() -> None:
    photo = photo_of(face_like())
    assert assess(photo) == {"ok": True, "hints": [], "reasons": []}
    url = preview(photo)
    assert url.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(url.split(",", 1)[1]).startswith(b"\xff\xd8")


def test_a_large_photo_previews_small() -> None:
    url = preview(photo_of(face_like((1200, 1600)), ".jpg"))
    _, width, height = describe_image(base64.b64decode(url.split(",", 1)[1]))
    assert (width, height) == (320, 240)


@pytest.mark.parametrize("image, hint", [
    (np.full((400, 320, 3), 15, np.uint8), "too dark"),
    (np.full((400, 320, 3), 255, np.uint8), "glare"),
    (np.full((400, 320, 3), 128, np.uint8), "no contrast"),
    (cv2.GaussianBlur(face_like(), (31, 31), 12), "blurred"),
    (face_like((100, 80)), "only 80x100"),
])
def test_poor_photos_get_a_hint(image: np.ndarray, hint: str) -> None:
    quality = assess(photo_of(image))
    assert quality["ok"] is False
    assert any(hint in text for text in quality["hints"]), quality


def test_without_opencv_only_the_size_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    photo = photo_of(face_like())
    monkeypatch.setitem(sys.modules, "cv2", None)
    assert assess(photo) == {"ok": True, "hints": ["exposure and focus not checked (OpenCV not installed)"],
                             "reasons": [{"code": "photo.not_checked", "params": {},
                                          "text": "exposure and focus not checked (OpenCV not installed)"}]}
    assert preview(photo).startswith("data:image/png;base64,")


def test_the_simulated_sample_face_passes() -> None:
    from appliance.hw.camera_simulated import SimulatedCamera

    assert assess(SimulatedCamera().capture()) == {"ok": True, "hints": [], "reasons": []}


def test_v4l2_preview_takes_the_newest_frame_and_a_photo_lets_exposure_settle(tmp_path: Path) -> None:
    # OpenCV reads a recorded clip through the same VideoCapture API as /dev/video0: the
    # clip stands in for the webcam's stream.
    clip = tmp_path / "stream.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 30, (160, 120))
    for shade in range(3000):  # more than a 20 ms settle can read, even on a fast machine
        writer.write(np.full((120, 160, 3), shade % 256, np.uint8))
    writer.release()
    stream = cv2.VideoCapture(str(clip))
    camera = V4L2Camera(CameraSettings(settle_s=0.02, width=160, height=120), stream, cv2)
    try:
        frame = camera.preview()
        assert (frame.media_type, frame.width, frame.height) == ("image/jpeg", 160, 120)
        assert stream.get(cv2.CAP_PROP_POS_FRAMES) == 1  # one frame, no settling
        photo = camera.capture()
        assert photo.media_type == "image/jpeg" and stream.get(cv2.CAP_PROP_POS_FRAMES) > 2
    finally:
        camera.close()
    with pytest.raises(DeviceError, match="closed"):
        camera.preview()
