"""The running kiosk: start-up, systemd notify, housekeeping thread."""
