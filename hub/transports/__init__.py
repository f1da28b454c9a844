"""Delivery transports: the I/O side of notification (SMS, voice, email, push, ntfy, GSM
modem, the assistance centre's DC-09 link or webhook, the demo's log).

Each transport module delivers one message and classifies the result (`base.py`);
`registry.py` builds the ones the config asks for, importing a transport's libraries
only when its section is configured. Retrying, backoff, fallback and dead-lettering are
not here: they live once, in the hub's outbox dispatcher (hub/core/outbox.py).

What to say (texts, the DC-09 codec, who to tell) is the pure domain's, in `alarms/`.
"""
