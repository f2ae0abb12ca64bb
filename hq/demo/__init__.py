"""``kiosk-hq demo``: a broker, HQ and a fleet of simulated kiosks on one machine, for a look at the console.

The one part of ``hq`` that runs kiosk code: each simulated kiosk is the real kiosk (its
store, workflow, screening, outbox and uplink) on simulated devices, as ``kiosk demo`` is.
"""
