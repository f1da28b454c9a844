"""The HTTP API and WebSocket stream (README, HTTP API)."""
