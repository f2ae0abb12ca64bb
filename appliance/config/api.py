"""The [api] section: where the local API and touchscreen UI listen."""

from __future__ import annotations

from pydantic import Field

from appliance.config.common import StrictModel


class ApiSection(StrictModel):
    host: str = Field(
        default="127.0.0.1",
        title="Bind address",
        description="Address the local API and touchscreen UI listen on; keep it on loopback "
        "unless a second screen on the LAN needs it.",
    )
    port: int = Field(default=8080, ge=1, le=65535, title="Port", description="TCP port of the API.")
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, le=64 * 1024 * 1024, title="Largest request body",
        description="A request body (JSON, form or upload) larger than this is refused with 413 before it is "
        "read; the largest the kiosk's own clients send is a crossing with a face embedding, well under 100 kB.",
    )
