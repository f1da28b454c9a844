"""Read-only exports of the hub's state: MQTT (Home Assistant discovery) and Prometheus metrics."""
