"""The JSON API, one router per area: session, crossings, captures, statistics, lists, devices, health."""
