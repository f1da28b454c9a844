"""The access table of the HTTP API: every route, who may call it, and a harmless probe.

A probe is a request that passes the role check when the role is allowed and then stops
at something without side effects (an unknown id -> 404, an invalid body -> 400, a plain
read -> 200), so the same probe can be sent by every role: a denied role gets 403
`forbidden`, an allowed one anything but 401/403 (and never a 500).

`test_route_audit` compares this table with the routes of the running app: a route added
to the API without a line here fails the audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OWNER, MEMBER, INSTALLER = "owner", "member", "installer"
EVERYONE = frozenset({OWNER, MEMBER, INSTALLER})
HOUSEHOLD = frozenset({OWNER, MEMBER})  # notifications carry the contacts' phone numbers and emails
INSTALLERS = frozenset({OWNER, INSTALLER})
PUBLIC = None

ZONE = "simulated-sim-water-1"  # a zone of the demo kit
DOOR = "simulated-sim-contact-1"  # the demo kit's front door (an intrusion zone)


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str] | None  # None: public, no credentials needed
    path: str  # the concrete path the probe uses
    body: Any = None
    sessions_only: bool = False  # a bearer token is refused whatever its role

    def allows(self, role: str, kind: str) -> bool:
        if self.roles is None:
            return True
        return role in self.roles and not (self.sessions_only and kind == "token")


ROUTES: dict[tuple[str, str], Rule] = {
    ("GET", "/api/v1/health"): Rule(PUBLIC, "/api/v1/health"),
    ("POST", "/api/v1/session"): Rule(PUBLIC, "/api/v1/session", {}),  # login; {} -> 400, no failed attempt
    ("GET", "/api/v1/session"): Rule(EVERYONE, "/api/v1/session"),
    ("DELETE", "/api/v1/session"): Rule(EVERYONE, "/api/v1/session"),  # logout: probed with a spare session
    ("GET", "/api/v1/system"): Rule(EVERYONE, "/api/v1/system"),
    # the alarm timings: everyone reads them (GET /system shows them too), the owner changes them;
    # a negative delay -> 400, and a reset with nothing overridden changes nothing
    ("GET", "/api/v1/system/settings"): Rule(EVERYONE, "/api/v1/system/settings"),
    ("PATCH", "/api/v1/system/settings"): Rule(frozenset({OWNER}), "/api/v1/system/settings", {"exit_delay": -1}),
    ("DELETE", "/api/v1/system/settings"): Rule(frozenset({OWNER}), "/api/v1/system/settings"),
    ("POST", "/api/v1/system/arm"): Rule(HOUSEHOLD, "/api/v1/system/arm", {}),
    ("POST", "/api/v1/system/disarm"): Rule(HOUSEHOLD, "/api/v1/system/disarm", {}),
    # areas (issue 17): everyone reads them; the household arms and disarms one, with the code
    ("GET", "/api/v1/areas"): Rule(EVERYONE, "/api/v1/areas"),
    ("POST", "/api/v1/areas/{id}/arm"): Rule(HOUSEHOLD, "/api/v1/areas/casa/arm", {}),
    ("POST", "/api/v1/areas/{id}/disarm"): Rule(HOUSEHOLD, "/api/v1/areas/casa/disarm", {}),
    ("GET", "/api/v1/zones"): Rule(EVERYONE, "/api/v1/zones"),
    ("GET", "/api/v1/zones/{id}"): Rule(EVERYONE, f"/api/v1/zones/{ZONE}"),
    # members may PATCH only `bypassed` (test_route_audit checks the field rule on a real zone)
    ("PATCH", "/api/v1/zones/{id}"): Rule(EVERYONE, "/api/v1/zones/no-such-zone", {}),
    ("DELETE", "/api/v1/zones/{id}"): Rule(INSTALLERS, "/api/v1/zones/no-such-zone"),
    # isolating a zone and restoring one: the owner, with the code (an unknown zone -> 404 first)
    ("POST", "/api/v1/zones/{id}/isolate"): Rule(frozenset({OWNER}), "/api/v1/zones/no-such-zone/isolate", {}),
    ("POST", "/api/v1/zones/{id}/restore"): Rule(frozenset({OWNER}), "/api/v1/zones/no-such-zone/restore", {}),
    # sirens, valves and relays: everyone reads them like the zones; the owner and the installer set
    # them and try them (an unknown output -> 404); reopening a valve is the owner's, with the code
    ("GET", "/api/v1/outputs"): Rule(EVERYONE, "/api/v1/outputs"),
    ("GET", "/api/v1/outputs/{id}"): Rule(EVERYONE, "/api/v1/outputs/no-such-output"),
    ("PATCH", "/api/v1/outputs/{id}"): Rule(INSTALLERS, "/api/v1/outputs/no-such-output", {}),
    ("POST", "/api/v1/outputs/{id}/test"): Rule(INSTALLERS, "/api/v1/outputs/no-such-output/test", {}),
    ("POST", "/api/v1/outputs/{id}/open"): Rule(frozenset({OWNER}), "/api/v1/outputs/no-such-output/open", {}),
    ("GET", "/api/v1/devices"): Rule(EVERYONE, "/api/v1/devices"),
    ("POST", "/api/v1/devices"): Rule(INSTALLERS, "/api/v1/devices", {}),
    ("PATCH", "/api/v1/devices/{id}"): Rule(INSTALLERS, "/api/v1/devices/no-such-device", {}),
    ("DELETE", "/api/v1/devices/{id}"): Rule(INSTALLERS, "/api/v1/devices/no-such-device"),
    ("GET", "/api/v1/events"): Rule(EVERYONE, "/api/v1/events"),
    ("GET", "/api/v1/incidents"): Rule(EVERYONE, "/api/v1/incidents?state=all"),
    ("GET", "/api/v1/incidents/{id}"): Rule(HOUSEHOLD, "/api/v1/incidents/inc-0"),  # carries notifications
    ("POST", "/api/v1/incidents/{id}/ack"): Rule(HOUSEHOLD, "/api/v1/incidents/inc-0/ack", {}),
    ("POST", "/api/v1/incidents/{id}/resolve"): Rule(HOUSEHOLD, "/api/v1/incidents/inc-0/resolve", {}),
    ("GET", "/api/v1/anomalies"): Rule(EVERYONE, "/api/v1/anomalies?state=all"),
    ("GET", "/api/v1/notifications"): Rule(HOUSEHOLD, "/api/v1/notifications"),
    ("GET", "/api/v1/notifications/{id}"): Rule(HOUSEHOLD, "/api/v1/notifications/999999"),
    ("GET", "/api/v1/pairing/candidates"): Rule(INSTALLERS, "/api/v1/pairing/candidates"),
    ("GET", "/api/v1/pairing/proposal"): Rule(INSTALLERS, "/api/v1/pairing/proposal?kind=contact&name=Finestra"),
    ("POST", "/api/v1/pairing/scan"): Rule(INSTALLERS, "/api/v1/pairing/scan", {"seconds": 0}),
    # the commissioning report (a plain read) and its test messages ({"timeout": 0} -> 400, nothing sent)
    ("GET", "/api/v1/pairing/report"): Rule(INSTALLERS, "/api/v1/pairing/report?format=md"),
    ("POST", "/api/v1/pairing/test-messages"): Rule(INSTALLERS, "/api/v1/pairing/test-messages", {"timeout": 0}),
    # the walk test: a plain read; {"minutes": 0} -> 400 and a stop with none running -> 409, nothing starts
    ("GET", "/api/v1/pairing/walktest"): Rule(INSTALLERS, "/api/v1/pairing/walktest"),
    ("POST", "/api/v1/pairing/walktest"): Rule(INSTALLERS, "/api/v1/pairing/walktest", {"minutes": 0}),
    # anyone may stop a walk test (it silences the household's alarms): none running -> 409
    ("DELETE", "/api/v1/pairing/walktest"): Rule(EVERYONE, "/api/v1/pairing/walktest"),
    ("POST", "/api/v1/demo/zones/{id}/trigger"): Rule(EVERYONE, "/api/v1/demo/zones/no-such-zone/trigger", {}),
    ("GET", "/api/v1/ws"): Rule(EVERYONE, "/api/v1/ws"),  # a plain GET: 400 (no upgrade) once authorised
    ("GET", "/api/v1/push/vapid"): Rule(EVERYONE, "/api/v1/push/vapid"),
    ("POST", "/api/v1/push/subscriptions"): Rule(HOUSEHOLD, "/api/v1/push/subscriptions", {}, sessions_only=True),
    ("DELETE", "/api/v1/push/subscriptions"): Rule(HOUSEHOLD, "/api/v1/push/subscriptions", {}, sessions_only=True),
    # first-start setup: public only while the hub has no user; with users it is 401 without
    # credentials and 409 already_set_up (or 400 for this {} body) for everyone
    ("POST", "/api/v1/setup"): Rule(EVERYONE, "/api/v1/setup", {}),
    # time-limited installer tokens from the dashboard's Settings page: granted by an owner logged in
    # (the token carries their name), listed and revoked by the owner (an unknown id -> 404)
    ("GET", "/api/v1/tokens"): Rule(frozenset({OWNER}), "/api/v1/tokens"),
    ("POST", "/api/v1/tokens"): Rule(frozenset({OWNER}), "/api/v1/tokens", {}, sessions_only=True),
    ("DELETE", "/api/v1/tokens/{id}"): Rule(frozenset({OWNER}), "/api/v1/tokens/no-such-token"),
    # users and codes, contacts (phone numbers and emails: personal data): the owner only
    ("GET", "/api/v1/users"): Rule(frozenset({OWNER}), "/api/v1/users"),
    ("POST", "/api/v1/users"): Rule(frozenset({OWNER}), "/api/v1/users", {}),
    ("PATCH", "/api/v1/users/{username}"): Rule(frozenset({OWNER}), "/api/v1/users/no-such-user", {}),
    ("DELETE", "/api/v1/users/{username}"): Rule(frozenset({OWNER}), "/api/v1/users/no-such-user"),
    ("GET", "/api/v1/contacts"): Rule(frozenset({OWNER}), "/api/v1/contacts"),
    ("POST", "/api/v1/contacts"): Rule(frozenset({OWNER}), "/api/v1/contacts", {}),
    ("PATCH", "/api/v1/contacts/{id}"): Rule(frozenset({OWNER}), "/api/v1/contacts/999999", {}),
    ("DELETE", "/api/v1/contacts/{id}"): Rule(frozenset({OWNER}), "/api/v1/contacts/999999"),
    # the household's schedules: members read them (they live by them), owners set them up and take
    # them off, installers neither ({} -> 400, an unknown id -> 404)
    ("GET", "/api/v1/schedules"): Rule(HOUSEHOLD, "/api/v1/schedules"),
    ("POST", "/api/v1/schedules"): Rule(frozenset({OWNER}), "/api/v1/schedules", {}),
    ("DELETE", "/api/v1/schedules/{id}"): Rule(frozenset({OWNER}), "/api/v1/schedules/999999"),
    # the notification channels and a test message on one (hub/web/channels_api.py): the owner only
    # (an unknown channel -> 404)
    ("GET", "/api/v1/channels"): Rule(frozenset({OWNER}), "/api/v1/channels"),
    ("POST", "/api/v1/channels/{channel}/test"): Rule(frozenset({OWNER}), "/api/v1/channels/no-such-channel/test", {}),
    # everyone's own language; a token has no user ({} -> 400 once allowed)
    ("PATCH", "/api/v1/session"): Rule(EVERYONE, "/api/v1/session", {}, sessions_only=True),
    # cameras: installers may list them, only the household sees pictures; an unknown camera -> 404
    ("GET", "/api/v1/cameras"): Rule(EVERYONE, "/api/v1/cameras"),
    # the privacy setting: the household reads it, only the owner changes it ({} -> 400 once allowed)
    ("GET", "/api/v1/cameras/settings"): Rule(HOUSEHOLD, "/api/v1/cameras/settings"),
    ("PATCH", "/api/v1/cameras/settings"): Rule(frozenset({OWNER}), "/api/v1/cameras/settings", {}),
    ("GET", "/api/v1/cameras/{id}/stream"): Rule(HOUSEHOLD, "/api/v1/cameras/no-such-camera/stream"),
    ("GET", "/api/v1/cameras/{id}/snapshot"): Rule(HOUSEHOLD, "/api/v1/cameras/no-such-camera/snapshot"),
    ("POST", "/api/v1/cameras/{id}/token"): Rule(frozenset({OWNER}), "/api/v1/cameras/no-such-camera/token", {}),
    # motion from the camera: its own token (tests/integration/test_camera_motion.py), or the owner
    ("POST", "/api/v1/cameras/{id}/events"): Rule(frozenset({OWNER}), "/api/v1/cameras/no-such-camera/events", {}),
    ("GET", "/api/v1/incidents/{id}/snapshots/{name}"): Rule(
        HOUSEHOLD, "/api/v1/incidents/inc-0/snapshots/camera-1700000000000.jpg"
    ),
    # setting up a phone for push (the local CA's root, its URLs): the household, who get the pushes
    ("GET", "/api/v1/phone-setup"): Rule(HOUSEHOLD, "/api/v1/phone-setup"),
}

# The dashboard's pages and files (hub/web/pages.py), outside /api: "session" pages redirect
# to /login without a dashboard session (a bearer token is no dashboard login); "owner" pages
# as well, and answer 403 to the other roles; "installers" pages likewise, but open to the owner
# and the installer; "public" ones answer anyone ("local_ca" too, 404 without a local CA); "setup" redirects
# to /login once the hub has a user. (method, canonical) -> (access, the concrete path probed).
PAGES: dict[tuple[str, str], tuple[str, str]] = {
    ("GET", "/"): ("session", "/"),
    ("GET", "/incidents"): ("session", "/incidents"),
    ("GET", "/incidents/{id}"): ("session", "/incidents/inc-0"),
    ("GET", "/zones"): ("session", "/zones"),
    ("GET", "/history"): ("session", "/history"),
    ("GET", "/anomalies"): ("session", "/anomalies"),
    ("GET", "/settings"): ("owner", "/settings"),
    ("GET", "/settings/{page}"): ("owner", "/settings/people"),  # its sub-pages
    ("GET", "/pairing"): ("installers", "/pairing"),  # owner and installer; members get the 403 page
    ("GET", "/camera"): ("session", "/camera"),  # installers see the list without pictures
    ("GET", "/login"): ("public", "/login"),
    ("GET", "/setup"): ("setup", "/setup"),
    ("GET", "/static/{name}"): ("public", "/static/app.js"),
    ("GET", "/manifest.webmanifest"): ("public", "/manifest.webmanifest"),
    ("GET", "/sw.js"): ("public", "/sw.js"),
    # Prometheus: answers loopback (where these tests run) without credentials; from elsewhere it
    # needs a token or a session (tests/integration/test_metrics.py checks that side).
    ("GET", "/metrics"): ("public", "/metrics"),
    # the local CA's public root for phones, no login (hub/web/ca_api.py): "local_ca" answers anyone,
    # 404 on this demo hub without TLS; tests/integration/test_local_ca.py checks the 200 over HTTPS
    ("GET", "/ca.crt"): ("local_ca", "/ca.crt"),
    ("GET", "/ca.mobileconfig"): ("local_ca", "/ca.mobileconfig"),
}
for (_method, _path), _page in list(PAGES.items()):
    PAGES["HEAD", _path] = _page

# aiohttp answers HEAD on every GET route; HEAD goes through the same checks as GET, except
# that the health check is public only for GET (the contract names GET /api/v1/health).
for (_method, _path), _rule in list(ROUTES.items()):
    if _method == "GET":
        ROUTES["HEAD", _path] = _rule if _rule.roles is not None else Rule(EVERYONE, _rule.path)

UNSAFE = {"POST", "PATCH", "PUT", "DELETE"}
