"""Delivery channels: each delivers one message and classifies the result.

Retrying, backoff, fallback and dead-lettering are not here: they live once, in the
hub's outbox dispatcher.
"""
