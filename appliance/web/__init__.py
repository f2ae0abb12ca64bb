"""The touchscreen UI and the local API: app factory, routers, templates, static files."""
