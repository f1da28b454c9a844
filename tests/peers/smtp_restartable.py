"""The aiosmtpd server of `tests.peers.smtp`, which can go down and come back on the same port.

`serve_smtp` runs for a whole `with` block; a mail server that crashes and restarts is what an
outage test needs. `RestartableSmtp(cert)` serves the same `Mailbox` (STARTTLS + AUTH as
`USER` / `PASSWORD`) on one fixed port: `stop()` closes the listener (the hub then finds the
connection refused), `start()` listens again, and `server` is the `Server` that
`Household.write_config` reads the port from.
"""

from __future__ import annotations

from typing import Any

from aiosmtpd.controller import Controller

from tests.peers import free_port
from tests.peers.smtp import Mailbox, Server, authenticator
from tests.peers.tls import Cert

__all__ = ["RestartableSmtp"]


class RestartableSmtp:
    def __init__(self, cert: Cert, port: int | None = None) -> None:
        self.cert = cert
        self.mailbox = Mailbox()
        self.server = Server(port or free_port(), self.mailbox)
        self._controller: Controller | None = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        if self._controller is not None:
            return
        options: dict[str, Any] = {
            "authenticator": authenticator,
            "auth_required": True,
            "tls_context": self.cert.server_context(),
            "require_starttls": True,
            "auth_require_tls": True,
        }
        controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.server.port, **options)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
