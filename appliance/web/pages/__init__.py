"""The touchscreen's pages, one router per screen: login, home, crossing, result, history, statistics, diagnostics.

Pages are rendered on the server (Jinja2, one translation catalogue, see ``render``) over
the same workflow functions the JSON API uses; the crossing screen's script calls the JSON
API itself (reader, captures, record) so every way in applies the same checks. The session
cookie and the page script's header are ``appliance.web.deps``'s.
"""
