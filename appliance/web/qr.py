"""A QR code of a short text as inline SVG (segno, pure Python): the kiosk's public key for enrolment at HQ."""

from __future__ import annotations

import segno
from markupsafe import Markup


def qr_svg(text: str, label: str) -> Markup:
    """``text`` as an inline SVG QR code (error correction M, 4-module quiet zone), named ``label`` for screen readers.

    Drawn black on white at a whole number of pixels per module, so a phone or a webcam
    at HQ reads it off the touchscreen; no script, no request to any server.
    """
    code = segno.make(text, error="m", micro=False)
    svg = code.svg_inline(scale=4, border=4, dark="#000000", light="#ffffff", title=label, svgclass="qr")
    return Markup(svg.replace("<svg ", '<svg role="img" ', 1))
