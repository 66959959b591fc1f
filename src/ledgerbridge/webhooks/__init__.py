"""Outgoing webhooks: host-app endpoints, signed (Standard Webhooks) durable deliveries of
the event feed, inspectable and replayable; receivers are guarded against SSRF."""
