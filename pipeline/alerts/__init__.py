"""Live alert feed: in-process bus (SSE/WebSocket), webhooks with a DB outbox, optional MQTT."""
