"""``python -m appliance`` is the ``kiosk`` command."""

from appliance.cli import main

main()
