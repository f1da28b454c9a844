"""The alarm path's machinery: the Hub runtime, the outbox, device supervision,
storage-failure handling, fan-out to dashboards, the clock, wrong-code lockout."""
