"""The touchscreen officer UI: templates, static assets, translations and charts (routes in ``appliance.ui_routes``)."""
