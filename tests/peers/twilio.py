"""A double of Twilio's REST API on loopback, for the real `twilio` SDK (docs/architecture.md section 5).

There is no Twilio to run on loopback, so `TwilioDouble` implements the three endpoints casahub
uses and checks what Twilio checks: HTTP Basic auth (account SID + auth token, the SID matching the
URL), the form encoding, the required fields, E.164 `To` numbers, a `From` number the account owns,
well-formed TwiML. Its answers have Twilio's shapes: 201 with `sid`/`status`, errors as
`{"code", "message", "more_info", "status"}`, and Twilio's magic test numbers (+15005550001 invalid,
+15005550004 unsubscribed) behave as with Twilio's test credentials.

`start()` / `stop()` serve it on 127.0.0.1; `start()` after `stop()` takes the same port again, so
a hub configured with `base_url` finds it back (Twilio down, then up).
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from aiohttp import web

__all__ = ["ACCOUNT_SID", "AUTH_TOKEN", "FROM", "Seen", "TwilioDouble"]

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "tok-" + "5ecret" * 5
FROM = "+15005550006"
E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")


@dataclass
class Seen:
    """One request as it arrived; `at` is `time.perf_counter()` on arrival."""

    method: str
    path: str
    form: dict[str, str]
    user_agent: str
    at: float = field(default_factory=time.perf_counter)


@dataclass
class TwilioDouble:
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    owned_numbers: tuple[str, ...] = (FROM,)
    account_status: str = "active"
    requests: list[Seen] = field(default_factory=list)  # every request, also the refused ones
    accepted: list[Seen] = field(default_factory=list)  # messages and calls answered 201
    # Answers forced on the next requests, after authentication: (status, code, message, headers).
    forced: list[tuple[int, int, str, dict[str, str]]] = field(default_factory=list)
    delay: float = 0.0
    base_url: str = ""  # set once the server listens
    port: int = 0  # 0: any free port on the first start; kept for later starts
    _runner: web.AppRunner | None = field(default=None, repr=False)

    async def start(self) -> None:
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", self.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._runner = runner

    async def stop(self) -> None:
        """Stop listening and drop open connections, as an unreachable API would."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    def sms(self) -> list[dict[str, str]]:
        """The forms of the SMS accepted so far, oldest first."""
        return [seen.form for seen in self.accepted if seen.path.endswith("/Messages.json")]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self.messages)
        app.router.add_post("/2010-04-01/Accounts/{sid}/Calls.json", self.calls)
        app.router.add_get("/2010-04-01/Accounts/{sid}.json", self.account)
        return app

    @staticmethod
    def error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
        body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}"}
        return web.json_response({**body, "status": status}, status=status, headers=headers)

    async def _common(self, request: web.Request) -> tuple[web.Response | None, dict[str, str]]:
        form: dict[str, str] = {}
        if request.method == "POST":
            if request.content_type != "application/x-www-form-urlencoded":
                return self.error(400, 20001, "Content-Type must be application/x-www-form-urlencoded"), form
            form = {key: str(value) for key, value in (await request.post()).items()}
        self.requests.append(Seen(request.method, request.path, form, request.headers.get("User-Agent", "")))
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self._authorised(request):
            return self.error(401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'}), form
        if self.forced:
            status, code, message, headers = self.forced.pop(0)
            return self.error(status, code, message, headers), form
        return None, form

    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return (
            user == self.account_sid
            and request.match_info["sid"] == self.account_sid
            and secrets.compare_digest(password, self.auth_token)
        )

    def _check_numbers(self, form: dict[str, str], what: str) -> web.Response | None:
        to, sender = form.get("To"), form.get("From")
        if not to:
            return self.error(400, 21604, "A 'To' phone number is required.")
        if not sender:
            return self.error(400, 21603, "A 'From' phone number is required.")
        if not E164.match(to) or to == "+15005550001":
            return self.error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if sender not in self.owned_numbers:
            return self.error(
                400,
                21606,
                f"The From phone number {sender} is not a valid, {what}-capable phone number for your account.",
            )
        return None

    def _created(
        self, request: web.Request, prefix: str, kind: str, form: dict[str, str], extra: dict[str, Any]
    ) -> web.Response:
        self.accepted.append(Seen(request.method, request.path, form, request.headers.get("User-Agent", "")))
        sid = prefix + secrets.token_hex(16)
        now = format_datetime(datetime.now(UTC), usegmt=True)
        body = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "date_created": now,
            "date_updated": now,
            "direction": "outbound-api",
            "from": form["From"],
            "sid": sid,
            "status": "queued",
            "to": form["To"],
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/{kind}/{sid}.json",
            **extra,
        }
        return web.json_response(body, status=201)

    async def messages(self, request: web.Request) -> web.Response:
        failed, form = await self._common(request)
        if failed is not None:
            return failed
        numbers = self._check_numbers(form, "SMS")
        if numbers is not None:
            return numbers
        text = form.get("Body", "")
        if not text:
            return self.error(400, 21602, "Message body is required.")
        if len(text) > 1600:
            return self.error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if form["To"] == "+15005550004":
            return self.error(400, 21610, "Attempt to send to unsubscribed recipient")
        gsm7 = all(ord(char) < 128 or char in "èéùìòàÈÉ€£¥" for char in text)
        segments = 1 if len(text) <= (160 if gsm7 else 70) else -(-len(text) // (153 if gsm7 else 67))
        extra = {"body": text, "num_segments": str(segments), "num_media": "0"}
        return self._created(request, "SM", "Messages", form, extra)

    async def calls(self, request: web.Request) -> web.Response:
        failed, form = await self._common(request)
        if failed is not None:
            return failed
        numbers = self._check_numbers(form, "voice")
        if numbers is not None:
            return numbers
        given = [name for name in ("Url", "Twiml", "ApplicationSid") if form.get(name)]
        if len(given) != 1:
            return self.error(400, 21205, "Exactly one of Url, Twiml or ApplicationSid is required.")
        if "Twiml" in given:
            try:
                root = ET.fromstring(form["Twiml"])
            except ET.ParseError:
                return self.error(400, 12100, "Document parse failure")
            if root.tag != "Response" or len(form["Twiml"]) > 4000:
                return self.error(400, 12100, "Document parse failure")
        return self._created(request, "CA", "Calls", form, {})

    async def account(self, request: web.Request) -> web.Response:
        failed, _ = await self._common(request)
        if failed is not None:
            return failed
        return web.json_response(
            {
                "sid": self.account_sid,
                "friendly_name": "casahub test account",
                "status": self.account_status,
                "type": "Full",
                "auth_token": self.auth_token,  # Twilio does return it: the channel must never show it
                "date_created": format_datetime(datetime(2024, 1, 2, tzinfo=UTC), usegmt=True),
                "uri": f"/2010-04-01/Accounts/{self.account_sid}.json",
            }
        )
