"""The pysiaalarm receiver of `tests.peers.sia`, also keeping every frame it parsed.

`Receiver.events` holds what pysiaalarm ACKed and handed over; a frame whose sender died before
the ACK could be written never gets there, yet the centre did see it. `TappedReceiver.frames`
holds every frame pysiaalarm parsed (ACKed, NAKed or not answered), in arrival order, as
`Heard`: account, sequence number, message type and `content`, the report it carries without
the encryption pad and the timestamp (so that one message sent twice compares equal).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tests.peers.sia import Receiver, kind_of

__all__ = ["Heard", "TappedReceiver"]


@dataclass(frozen=True)
class Heard:
    account: str
    sequence: int
    message_type: str  # "ADM-CID", "SIA-DCS" or "NULL"
    content: tuple[str | None, ...]  # what the frame reports; equal for two copies of one message
    encrypted: bool
    timestamp: str | None
    at: float = field(default_factory=time.perf_counter)

    @property
    def cid(self) -> str | None:
        """`QEEE GG ZZZ` of an ADM-CID report (`1154 01 003`), None for other frames."""
        if self.message_type != "ADM-CID":
            return None
        qualifier, event, partition, zone = self.content[:4]
        return f"{qualifier}{event} {partition} {zone}"


def _heard(event: Any) -> Heard | None:
    account, sequence = getattr(event, "account", None), getattr(event, "sequence", None)
    if not account or sequence is None or not str(sequence).isdigit():
        return None  # pysiaalarm's NAKEvent for a line it could not parse at all
    kind = kind_of(event)
    if kind == "ADM-CID":
        content: tuple[str | None, ...] = (event.event_qualifier, event.event_type, event.partition, event.ri)
    elif kind == "NULL":
        content = ()
    else:
        content = (event.code, event.ri, event.message)
    stamp = event.timestamp
    return Heard(
        account=str(account).upper(),
        sequence=int(str(sequence)),
        message_type=kind,
        content=content,
        encrypted=bool(event.encrypted),
        timestamp=stamp.isoformat() if hasattr(stamp, "isoformat") else stamp,
    )


class TappedReceiver(Receiver):
    """A `Receiver` that also records every frame it parses in `frames`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.frames: list[Heard] = []

    async def start(self) -> None:
        await super().start()
        assert self._client is not None
        server = self._client.sia_server
        parse = server.parse_and_check_event  # type: ignore[union-attr]

        def tapped(data: bytes) -> Any:
            event = parse(data)
            heard = _heard(event) if event is not None else None
            if heard is not None:
                self.frames.append(heard)
            return event

        server.parse_and_check_event = tapped  # type: ignore[union-attr,method-assign]
