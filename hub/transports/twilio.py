"""The `twilio` transport: SMS (`sms` channel) and voice calls (`voice` channel) through Twilio's REST API.

Theory of operation
-------------------
One `TwilioChannel` carries both channels; the daemon registers it under the transport name
"twilio" and `send` dispatches on `OutgoingMessage.channel`:

    sms    -> POST /2010-04-01/Accounts/{sid}/Messages.json   To, From, Body = message.short
    voice  -> POST /2010-04-01/Accounts/{sid}/Calls.json      To, From, Twiml = <Say> message.body, twice

It uses the real `twilio` SDK with its asyncio HTTP client (docs/architecture.md section 5), closed
in `__aexit__`. The SDK (hub/transports/twilio_sdk.py) is imported and the client built at the first
send or check, not at import or start: it is 14 MB and 80 ms that a hub which never sends an SMS
would pay at every start (issue 15). That first import runs in a worker thread, once (a lock), so
the event loop keeps serving the other channels, the centre and the engine meanwhile: the first SMS
waits for the import, nothing else does. The client itself is built on the loop's thread because
the aiohttp session must be created inside the running loop. Three SDK defaults are overridden on
purpose:

- no SDK-level retries (`max_retries=None`: no aiohttp_retry wrapper): a retried POST can send
  the SMS twice, and retrying is the outbox dispatcher's job, once, for every channel;
- `TWILIO_EDGE` / `TWILIO_REGION` from the environment are ignored (the SDK reads them when
  `edge`/`region` are None, so they are cleared after construction): the hub talks to the API base
  URL of its config and nothing else, which is also how tests point it at a local double;
- a request timeout (`timeout`, default 20 s, below the dispatcher's 30 s budget): the SDK passes
  `timeout=None` to aiohttp on every request, which means no timeout at all.

Classification (the outbox retries Transient, dead-letters Permanent):

    2xx with a sid                                   Delivered("<sid> <status>")
    429 Too Many Requests                            Transient, retry_after = Retry-After header
    5xx                                              Transient, retry_after = Retry-After header
    408 Request Timeout                              Transient
    other 4xx: 21211 invalid To, 21610 unsubscribed  Permanent("twilio <status> error <code>: <message>")
      (STOP), 20003 authentication, 21606 bad From,
      404 unknown account, ...
    3xx (a base_url that redirects)                  Transient (a proxy/config problem, may be fixed)
    network error, timeout, unparseable answer       Transient

Secrets: the auth token is handed to the SDK only; every reason string is scrubbed of it, and
nothing here logs addresses or texts. `check()` (for `casahub doctor`) fetches the account record,
which proves the credentials without sending anything.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Self

import aiohttp

from alarms.messages import fit_sms
from hub.transports.base import Delivered, Outcome, OutgoingMessage, Permanent, Transient, TransportError
from hub.transports.lazy_import import import_off_loop

if TYPE_CHECKING:
    from hub.config import SmsConfig
    from hub.transports.twilio_sdk import HttpClient

__all__ = ["TwilioChannel", "TwilioCheckError", "TwilioSms", "TwilioVoice", "twiml_for"]

log = logging.getLogger("casahub.channels.twilio")

DEFAULT_TIMEOUT: Final = 20.0

# <Say> language and voice per message language; unknown languages speak Italian (the hub default).
VOICES: Final[Mapping[str, tuple[str, str]]] = {
    "it": ("it-IT", "Polly.Carla"),
    "en": ("en-US", "Polly.Joanna"),
}
SAY_TIMES: Final = 2  # the text is said twice, with a pause between, so a sleepy listener gets it
# Bodies are cut to fit, never refused for length (Twilio refuses over 1600 characters, and its
# TwiML over 4000): three concatenated GSM-7 segments for an SMS, a minute of speech for a call.
SMS_MAX: Final = 3 * 153
SPOKEN_MAX: Final = 1000

# 4xx statuses that are worth retrying; every other 4xx is permanent.
_TRANSIENT_4XX: Final = frozenset({408, 429})


class TwilioCheckError(TransportError, RuntimeError):
    """`check()` failed: the message says why (bad credentials, unreachable API...), never the token."""


def _spoken(text: str) -> str:
    """A call's text cut to SPOKEN_MAX characters on a word boundary (a 60 KB zone name still calls)."""
    return fit_sms(text, SPOKEN_MAX)


def twiml_for(text: str, language: str) -> str:
    """The TwiML of an alarm call: `text` said SAY_TIMES times in the recipient's language."""
    # Only the TwiML builder (3 ms): a send has the whole SDK imported by now, a caller without one
    # (a test) does not need it.
    from twilio.twiml.voice_response import VoiceResponse  # type: ignore[import-untyped]

    lang, voice = VOICES.get(language, VOICES["it"])
    response = VoiceResponse()
    for index in range(SAY_TIMES):
        if index:
            response.pause(length=1)
        response.say(text, voice=voice, language=lang)
    return str(response.to_xml(xml_declaration=False))


def _retry_after(headers: Mapping[str, str]) -> float | None:
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                seconds = float(value.strip())
            except ValueError:
                return None  # an HTTP date: rare from Twilio, let the dispatcher's backoff decide
            return seconds if seconds >= 0 else None
    return None


class TwilioChannel:
    """SMS and voice calls through Twilio; `async with TwilioChannel(config) as channel: await channel.send(m)`."""

    transport = "twilio"
    channels: ClassVar[tuple[str, ...]] = ("sms", "voice")

    def __init__(self, config: SmsConfig, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.config = config
        self.timeout = timeout
        self._http: HttpClient | None = None
        self._client: Any = None
        self._entered = False
        # One client per channel: two first sends at once wait for the same import and build.
        self._building = asyncio.Lock()

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        self._entered = True
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        async with self._building:  # a client being built now is closed too, not leaked
            self._entered = False
            http, self._http, self._client = self._http, None, None
        if http is not None:
            await http.close()

    def _require_context(self) -> None:
        if not self._entered:
            raise RuntimeError("TwilioChannel used outside `async with`")

    async def _ensure_client(self) -> Any:
        """The SDK client, importing the SDK (off the loop) and building the client the first time."""
        self._require_context()
        async with self._building:
            self._require_context()
            if self._client is None:
                await import_off_loop("hub.transports.twilio_sdk")
                from hub.transports import twilio_sdk  # imported by now: a dictionary lookup

                self._http, self._client = twilio_sdk.make_client(
                    self.config.account_sid,
                    self.config.auth_token.reveal(),
                    base_url=self.config.base_url,
                    timeout=self.timeout,
                )
            return self._client

    # ------------------------------------------------------------------ sending

    async def send(self, message: OutgoingMessage) -> Outcome:
        self._require_context()
        if message.channel not in self.channels:
            return Permanent(f"the twilio transport does not carry the {message.channel} channel")
        if not message.address:
            return Permanent(f"no phone number for {message.recipient}")
        client = await self._ensure_client()
        if message.channel == "sms":
            what = "SMS"
            call = client.api.v2010.account.messages.create_async(
                to=message.address, from_=self.config.from_, body=fit_sms(message.short, SMS_MAX)
            )
        else:
            what = "call"
            call = client.api.v2010.account.calls.create_async(
                to=message.address,
                from_=self.config.from_,
                twiml=twiml_for(_spoken(message.body or message.short), message.language),
            )
        answer = await self._call(call)
        if isinstance(answer, Transient | Permanent):
            outcome: Outcome = answer
        elif not getattr(answer, "sid", None):
            outcome = Transient("twilio accepted the request but returned no sid")
        else:
            outcome = Delivered(f"{answer.sid} {answer.status}" if answer.status else str(answer.sid))
        if isinstance(outcome, Delivered):
            log.info("message %s: twilio %s accepted (%s)", message.id, what, outcome.detail)
        else:
            log.warning("message %s: twilio %s not sent: %s", message.id, what, outcome.reason)
        return outcome

    async def _call(self, call: Any) -> Any:
        """Await one SDK call: its resource instance, or the Transient/Permanent that explains the failure."""
        from hub.transports import twilio_sdk as sdk  # imported by _ensure_client, before any call

        record = sdk.RequestRecord()
        token = sdk.current_record.set(record)
        try:
            async with asyncio.timeout(self.timeout + 5):  # backstop; aiohttp's own timeout fires first
                return await call
        except sdk.TwilioRestException as exc:
            return self._from_http_error(exc.status, exc.code, _twilio_message(exc.msg), record.headers)
        except sdk.TwilioServiceException as exc:
            text = f"{exc.title}: {exc.detail}" if exc.detail else str(exc.title)
            return self._from_http_error(exc.status, exc.code, text, record.headers)
        except TimeoutError:
            return Transient(f"twilio did not answer within {self.timeout:g} s")
        except (aiohttp.ClientError, OSError) as exc:
            return Transient(self._scrub(f"twilio unreachable: {type(exc).__name__}: {exc}"))
        except (sdk.TwilioException, ValueError) as exc:  # a 2xx that is not Twilio's JSON (a proxy page...)
            return Transient(self._scrub(f"unexpected answer from twilio: {type(exc).__name__}: {exc}"))
        finally:
            sdk.current_record.reset(token)

    def _from_http_error(
        self, status: int, code: int | None, text: str, headers: Mapping[str, str]
    ) -> Transient | Permanent:
        label = f"twilio {status} error {code}" if code and code != status else f"twilio {status} error"
        reason = self._scrub(f"{label}: {text}" if text else label)
        if status >= 500 or status in _TRANSIENT_4XX:
            return Transient(reason, _retry_after(headers))
        if 400 <= status < 500:
            return Permanent(reason)
        return Transient(reason)  # 1xx/3xx: a proxy or a redirecting base_url, not Twilio's verdict

    def _scrub(self, text: str) -> str:
        secret = self.config.auth_token.reveal()
        return text.replace(secret, "***") if secret else text

    # ------------------------------------------------------------------ doctor

    async def check(self) -> str:
        """Fetch the account record (sends nothing); a one-line summary, or TwilioCheckError saying why not."""
        client = await self._ensure_client()
        sid = self.config.account_sid
        account = await self._call(client.api.v2010.accounts(sid).fetch_async())
        if isinstance(account, Transient | Permanent):
            raise TwilioCheckError(f"twilio account {sid}: {account.reason}")
        status = getattr(account, "status", None) or "unknown"  # active, suspended or closed
        if status != "active":
            raise TwilioCheckError(f"twilio account {sid} is {status}, not active: messages will be refused")
        return f"twilio account {sid}: credentials accepted, account active, sending from {self.config.from_}"


def _twilio_message(msg: object) -> str:
    text = str(msg or "")
    # The SDK prefixes Twilio's message with what it was doing; keep Twilio's words only.
    for prefix in ("Unable to create record: ", "Unable to fetch record: "):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


class TwilioSms(TwilioChannel):
    """Only the `sms` channel (the same object as TwilioChannel, restricted)."""

    channels: ClassVar[tuple[str, ...]] = ("sms",)


class TwilioVoice(TwilioChannel):
    """Only the `voice` channel (the same object as TwilioChannel, restricted)."""

    channels: ClassVar[tuple[str, ...]] = ("voice",)
