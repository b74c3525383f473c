"""HTTP endpoints: webhooks, REST API, health."""
