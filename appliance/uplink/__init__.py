"""The uplink to HQ: the durable outbox now; the MQTT client, telemetry and list sync build on it."""
