"""HQ's console (``kiosk-hq web``): the fleet, the alerts, the crossings and the statistics in a browser."""
