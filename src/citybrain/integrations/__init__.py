"""Integrations: incidents handed on to the systems a city already runs.

- :mod:`~citybrain.integrations.notices`: the small typed messages the server hands in (an
  event that started, was updated or ended; a camera's health; zone occupancy; line counts);
- :mod:`~citybrain.integrations.mqtt`: an MQTT publisher with an on-disk queue, a last will
  and Home Assistant discovery;
- :mod:`~citybrain.integrations.webhooks`: CloudEvents delivered over HTTP, signed per the
  Standard Webhooks spec, from an outbox with retries, in order per webhook;
- :mod:`~citybrain.integrations.metrics`: their Prometheus metrics.

Every destination goes through the server's one :class:`~citybrain.netpolicy.NetworkPolicy`.
No image bytes ever leave through here: snapshots are referred to by URL.
"""
