"""The HTTP API and WebSocket stream (DESIGN.md section 6)."""
