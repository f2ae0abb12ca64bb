"""``python -m appliance`` is the ``kiosk`` command."""

from .cli import main

main()
