"""Mains power from a UPS through NUT (Network UPS Tools): a small asyncio client of upsd's protocol.

Theory of operation. upsd (TCP 3493) answers one line per command, or a
`BEGIN LIST ...` / `END LIST ...` block; words are separated by spaces, a word with spaces
is double-quoted with `\\"` and `\\\\` escaped, and a failure is `ERR <CODE>`. The driver
keeps one connection to `host:port` and, every `poll` seconds (default 5), asks
`LIST VAR <ups>` for each configured UPS and reads `ups.status`, `battery.charge` and
`battery.runtime`. On connecting it sends `USERNAME`/`PASSWORD` when set (upsd needs
them only for commands a monitor does not send; we never `LOGIN`, which would make a
primary upsmon wait for us at shutdown) and `LIST UPS`, to name the UPSes the server
does not know in the log.

Each UPS is one device: address `<ups>@<host>:<port>`, kinds ("power",). The meaning of
what it reports, decided by drivers.power_supply.MainsMonitor (shared with the
power_supply driver):

    ups.status has OB (on battery)   for `debounce` s (default 60)   -> power zone active
    ups.status has OL (on line)                                    -> restored at once
    OB and OL together (a transition)                              -> OB
    neither (WAIT while the driver starts, OFF, ...)               -> unknown: no change,
                                                                      the OB count restarts
    LB (low battery) or FSD (forced shutdown)                      -> battery_low=True
    battery.charge                                                 -> battery (percent)
    ERR DRIVER-NOT-CONNECTED / DATA-STALE / UNKNOWN-UPS / other ERR-> online=False (a fault)
    connection refused, lost, timed out, garbled                   -> online=False for every
                                                                      UPS; reconnect with backoff
    answers again                                                  -> online=True and the
                                                                      zone's current state

`readings()` never raises for a protocol problem: everything the server or the network
can do ends in a log line and `online=False`. The reply parser (`parse_reply`) is pure
and total: any text gives a `Reply`, never an exception (tests/reliability fuzz it).

Options: `host` (default "127.0.0.1"), `port` (3493), `ups` (a name or a list of names,
required), `username`, `password`, `debounce` (seconds, default 60), `poll` (seconds,
default 5), `timeout` (seconds per request, default 10). A `type` key equal to "nut" is
tolerated, so the hub may pass a whole `[[drivers]]` table.

Modules: `protocol` parses upsd's lines and `ups.status` (pure); `client` is `NutClient`,
one connection to upsd; `options` checks the `[[drivers]]` table; `driver` is
`NutDriver`, the polling loop.
"""

from __future__ import annotations

from drivers.nut.client import NutClient, NutConnectionError, NutError, NutProtocolError, NutReplyError
from drivers.nut.driver import NutDriver
from drivers.nut.protocol import Reply, UpsStatus, parse_percent, parse_reply, parse_status, quote, split_words

_percent = parse_percent  # its name before the package, which tests/reliability/test_fuzz_nut.py imports

__all__ = [
    "NutClient",
    "NutConnectionError",
    "NutDriver",
    "NutError",
    "NutProtocolError",
    "NutReplyError",
    "Reply",
    "UpsStatus",
    "parse_reply",
    "parse_status",
    "quote",
    "split_words",
]
