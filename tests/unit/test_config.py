"""hub.config: defaults, the shipped files, every class of error (file + key + reason), warnings, secrets."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace

import pytest

import hub.config as config_module
from alarms.model import AlarmSettings
from hub.config import (
    CentreConfig,
    Config,
    ConfigError,
    ConfigIssue,
    ContactConfig,
    DriverConfig,
    EmailConfig,
    GsmConfig,
    HubConfig,
    LedConfig,
    LoadedConfig,
    Secret,
    SmsConfig,
    TlsFiles,
    WebConfig,
    check_main,
    known_driver_types,
    load_config,
    parse_listen,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config" / "casahub.toml"
EXAMPLES = sorted((ROOT / "config" / "examples").glob("*.toml"))

SMS_OK = '[sms]\naccount_sid = "AC1"\nauth_token = "tok"\nfrom = "+390212345678"\n'
CENTRE_OK = '[centre]\nhost = "127.0.0.1"\nport = 12000\naccount = "1234"\n'


def write(tmp_path: Path, text: str, name: str = "casahub.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, env: Mapping[str, str] | None = None) -> LoadedConfig:
    return load_config(write(tmp_path, text), env={} if env is None else env)


def errors(tmp_path: Path, text: str, env: Mapping[str, str] | None = None) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text, env)
    return info.value.issues


def only_error(tmp_path: Path, text: str, env: Mapping[str, str] | None = None) -> ConfigIssue:
    issues = errors(tmp_path, text, env)
    assert len(issues) == 1, issues
    return issues[0]


# --------------------------------------------------------------------------- defaults and shipped files


def test_no_file_gives_the_defaults() -> None:
    loaded = load_config(None, env={})
    assert loaded.warnings == []
    assert loaded.path is None
    config = loaded.config
    assert config == Config()
    assert config.hub == HubConfig(name="casahub", data_dir=None, language="it", timezone="Europe/Rome")
    assert config.web == WebConfig(listen="0.0.0.0:8443", tls="auto")
    assert (config.web.host, config.web.port) == ("0.0.0.0", 8443)
    assert config.alarm == AlarmSettings()
    assert config.alarm.exit_delay == 30 and config.alarm.siren_time == 180
    assert config.escalation.ack_timeout == 120
    assert config.contacts == () and config.drivers == ()
    for channel in (config.sms, config.email, config.push, config.ntfy, config.gsm, config.centre):
        assert channel is None
    assert config.mqtt_export is None and config.led is None


def test_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    assert load(tmp_path, "").config == Config()


def test_shipped_default_file_loads_and_holds_the_defaults() -> None:
    loaded = load_config(SHIPPED, env={})
    assert loaded.warnings == []
    assert loaded.config == Config()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_shipped_examples_load_cleanly(path: Path) -> None:
    loaded = load_config(path, env={})
    if path.name == "demo-with-log.toml":  # no real channel on purpose: run with --demo
        assert {w.key for w in loaded.warnings} == {
            "contacts[0].phone",
            "contacts[0].email",
            "contacts[1].phone",
            "contacts[1]",
        }
    else:
        assert loaded.warnings == []
    assert check_main(path, env={}) == 0


def test_a_contact_that_no_section_reaches_is_warned_of(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Outside the demo nothing stands in for a missing channel: config check says, per contact,
    in people's words, what will not be sent. Warnings, not errors: the hub still starts."""
    text = (
        '[[contacts]]\nname = "Mario"\nphone = "+393331234567"\nemail = "mario@example.org"\nvoice = true\n\n'
        '[[contacts]]\nname = "Nonna"\nphone = "+393337654321"\npush = false\n'
    )
    loaded = load(tmp_path, text)
    assert [(w.key, w.reason) for w in loaded.warnings] == [
        ("contacts[0].phone", "Mario has a phone but no [sms] (or [gsm] modem) is configured: no SMS will be sent"),
        ("contacts[0].email", "Mario has an email address but no [email] is configured: no email will be sent"),
        ("contacts[0].voice", "Mario wants a voice call but no [sms] (Twilio) is configured: no call will be made"),
        ("contacts[1].phone", "Nonna has a phone but no [sms] (or [gsm] modem) is configured: no SMS will be sent"),
        ("contacts[1]", "Nonna would not be told of any alarm: no configured channel reaches them"),
    ]
    path = tmp_path / "casahub.toml"
    assert check_main(path, env={}) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"OK: {path}\n")
    assert f"warning: {path}: contacts[0].phone: Mario has a phone but no [sms]" in out
    # A GSM modem carries SMS: the phone is reached; voice still needs Twilio.
    gsm = load(tmp_path, text + '\n[gsm]\ndevice = "/dev/ttyUSB2"\n')
    assert [w.key for w in gsm.warnings] == ["contacts[0].email", "contacts[0].voice"]


def test_examples_exist() -> None:
    assert {p.name for p in EXAMPLES} >= {"demo-with-log.toml", "sms-email.toml", "centre-dc09.toml"}


def test_example_contents() -> None:
    demo = load_config(ROOT / "config/examples/demo-with-log.toml", env={}).config
    assert demo.web.tls == "off" and demo.contacts and demo.drivers[0].type == "simulated"
    household = load_config(ROOT / "config/examples/sms-email.toml", env={}).config
    assert household.sms is not None and household.email is not None and len(household.contacts) == 2
    centre = load_config(ROOT / "config/examples/centre-dc09.toml", env={}).config.centre
    assert centre is not None and centre.protocol == "dc09" and centre.aes_key() == bytes(range(16))


def test_commented_examples_in_the_default_file_are_valid(tmp_path: Path) -> None:
    """Uncommenting the documented examples of casahub.toml gives valid configs (secrets from the env)."""
    vapid = tmp_path / "vapid.pem"
    vapid.write_text("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n")
    vapid.chmod(0o600)
    text = SHIPPED.read_text(encoding="utf-8").replace("/etc/casahub/vapid-private.pem", str(vapid))
    active = re.sub(r"(?m)^# ((?:\[|[a-z_]+ = |  \{|\]).*)$", r"\1", text)
    before, rest = active.split("# ... or a signed HTTPS webhook:")
    webhook, after = rest.split("# Sensor drivers")
    after = "# Sensor drivers" + after
    env = {
        "CASAHUB_SMS_AUTH_TOKEN": "t",
        "CASAHUB_EMAIL_PASSWORD": "p",
        "CASAHUB_CENTRE_KEY": "00" * 16,
        "CASAHUB_CENTRE_SECRET": "s",
        "CASAHUB_MQTT_PASSWORD": "m",
    }
    main = load(tmp_path, before + after, env)
    assert main.warnings == []
    config = main.config
    assert config.hub.data_dir == Path("/var/lib/casahub")
    assert len(config.contacts) == 1
    for section in ("sms", "email", "push", "ntfy", "gsm", "centre", "mqtt_export", "led"):
        assert getattr(config, section) is not None, section
    assert [d.type for d in config.drivers] == list(config_module.BUILTIN_DRIVERS)
    hook = load(tmp_path, webhook, env).config.centre
    assert hook is not None and hook.protocol == "webhook" and hook.secret == Secret("s")


def test_full_config_is_typed(tmp_path: Path) -> None:
    text = """
[hub]
name = "casa"
data_dir = "data"
language = "en"
timezone = "Europe/London"
[web]
listen = "[::]:9443"
tls = "off"
[alarm]
exit_delay = 20.5
swinger_limit = 5
[escalation]
ack_timeout = 60
[[contacts]]
name = "Anna"
phone = "+39 333 123 4567"
[[contacts]]
name = "Mark"
email = "mark@example.org"
language = "it"
push = false
voice = false
[email]
host = "smtp.example.org"
security = "tls"
from = "hub@example.org"
[gsm]
[led]
line = 22
[[drivers]]
type = "simulated"
"""
    loaded = load(tmp_path, text)
    config = loaded.config
    assert config.hub == HubConfig(name="casa", data_dir=tmp_path / "data", language="en", timezone="Europe/London")
    assert config.web == WebConfig(listen="[::]:9443", tls="off")
    assert config.alarm == AlarmSettings(exit_delay=20.5, swinger_limit=5)
    assert config.escalation.ack_timeout == 60
    assert config.contacts == (
        ContactConfig(name="Anna", phone="+393331234567", language="en"),  # the hub's language by default
        ContactConfig(name="Mark", email="mark@example.org", language="it", push=False),
    )
    assert config.email == EmailConfig(host="smtp.example.org", from_="hub@example.org", port=465, security="tls")
    assert config.gsm == GsmConfig(device="/dev/ttyUSB2", baudrate=115200)
    assert config.led == LedConfig(path=None, line=22)
    assert config.drivers == (DriverConfig(type="simulated"),)
    assert [w.key for w in loaded.warnings] == ["web.tls"]  # plain HTTP on every interface


def test_tls_off_on_a_public_address_warns(tmp_path: Path) -> None:
    loaded = load(tmp_path, '[web]\nlisten = "0.0.0.0:8080"\ntls = "off"\n')
    assert [w.key for w in loaded.warnings] == ["web.tls"]
    assert load(tmp_path, '[web]\nlisten = "127.0.0.1:8080"\ntls = "off"\n').warnings == []


def test_tls_files(tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("c")
    (tmp_path / "key.pem").write_text("k")
    config = load(tmp_path, '[web]\ntls = { cert = "cert.pem", key = "key.pem" }\n').config
    assert config.web.tls == TlsFiles(cert=tmp_path / "cert.pem", key=tmp_path / "key.pem")
    issue = only_error(tmp_path, '[web]\ntls = { cert = "cert.pem", key = "nope.pem" }\n')
    assert issue.key == "web.tls.key" and "file not found" in issue.reason


def test_email_port_follows_security(tmp_path: Path) -> None:
    base = '[email]\nhost = "smtp.example.org"\nfrom = "a@example.org"\n'
    for security, port in (("starttls", 587), ("tls", 465), ("none", 25)):
        email = load(tmp_path, base + f'security = "{security}"\n').config.email
        assert email is not None and email.port == port


# --------------------------------------------------------------------------- errors


def test_toml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "[alarm]\nexit_delay = 30\nentry_delay 30\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    [issue] = info.value.issues
    assert issue.file == str(path)
    assert "invalid TOML" in issue.reason and "line 3" in issue.reason and "column" in issue.reason
    assert str(info.value).startswith(f"{path}: invalid TOML")


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert info.value.issues[0].file == str(path)
    assert "cannot read" in info.value.issues[0].reason


def test_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    issue = only_error(tmp_path, "[alarm]\nentry_dealy = 10\n")
    assert issue.key == "alarm.entry_dealy"
    assert issue.reason == 'unknown key; did you mean "entry_delay"?'


def test_unknown_section_suggests_the_close_one(tmp_path: Path) -> None:
    issue = only_error(tmp_path, "[alarms]\nentry_delay = 10\n")
    assert issue.key == "alarms"
    assert "unknown key" in issue.reason and '"alarm"' in issue.reason


def test_unknown_key_without_a_close_match(tmp_path: Path) -> None:
    issue = only_error(tmp_path, '[hub]\nzzz = "x"\n')
    assert (issue.key, issue.reason) == ("hub.zzz", "unknown key")


# (TOML text, dotted key, a fragment of the reason)
ERROR_CASES: list[tuple[str, str, str]] = [
    # wrong types
    ('[alarm]\nexit_delay = "30"\n', "alarm.exit_delay", "expected a number of seconds, got a string"),
    ("[hub]\nname = 3\n", "hub.name", "expected a string, got an integer"),
    ("[alarm]\nswinger_limit = 2.5\n", "alarm.swinger_limit", "expected an integer, got a float"),
    ('[[contacts]]\nname = "A"\npush = "yes"\n', "contacts[0].push", "expected true or false"),
    ("hub = 3\n", "hub", "expected a table [hub]"),
    ('[contacts]\nname = "A"\n', "contacts", "expected an array of tables [[contacts]]"),
    ("[web]\ntls = 1\n", "web.tls", 'expected "auto", "off" or a table'),
    ("[alarm]\nexit_delay = nan\n", "alarm.exit_delay", "finite"),
    # negative values
    ("[alarm]\nentry_delay = -1\n", "alarm.entry_delay", "cannot be negative"),
    ("[alarm]\noffline_grace = -0.5\n", "alarm.offline_grace", "cannot be negative"),
    ("[escalation]\nack_timeout = -120\n", "escalation.ack_timeout", "cannot be negative"),
    ("[alarm]\nswinger_limit = -1\n", "alarm.swinger_limit", "must not be negative"),
    (CENTRE_OK + "supervision_interval = 0\n", "centre.supervision_interval", "more than 0"),
    # unknown kinds and enum values
    ('[hub]\nlanguage = "fr"\n', "hub.language", 'unknown value "fr"'),
    ('[hub]\ntimezone = "Europe/Atlantis"\n', "hub.timezone", "unknown time zone"),
    ('[web]\ntls = "on"\n', "web.tls", 'unknown value "on"'),
    ('[[contacts]]\nname = "A"\n[[contacts]]\nname = "B"\nlanguage = "de"\n', "contacts[1].language", "unknown value"),
    ('[[drivers]]\ntype = "zwave"\n', "drivers[0].type", 'unknown driver type "zwave"'),
    ("[[drivers]]\nchip = 1\n", "drivers[0].type", "required key missing"),
    (
        '[[drivers]]\ntype = "gpio"\nlines = [{ line = 4, name = "Door", kind = "door" }]\n',
        "drivers[0].lines[0].kind",
        'unknown value "door"',
    ),
    (
        '[[drivers]]\ntype = "gpio"\nlines = [{ line = 4, name = "Door", kind = "contact", behaviour = "delayed" }]\n',
        "drivers[0].lines[0].behaviour",
        'unknown value "delayed"',
    ),
    ('[[drivers]]\ntype = "camera"\nname = "Cam"\nmotion = "always"\n', "drivers[0].motion", "unknown value"),
    ('[[drivers]]\ntype = "camera"\nname = "Cam"\n', "drivers[0].mjpeg_url", "one of mjpeg_url"),
    ('[[drivers]]\ntype = "nut"\nport = "3493"\n', "drivers[0].port", "expected an integer"),
    ('[email]\nhost = "h"\nfrom = "a@example.org"\nsecurity = "ssl"\n', "email.security", 'unknown value "ssl"'),
    (CENTRE_OK + 'protocol = "sia"\n', "centre.protocol", 'unknown value "sia"'),
    (CENTRE_OK + 'format = "xml"\n', "centre.format", 'unknown value "xml"'),
    (SMS_OK + 'provider = "vonage"\n', "sms.provider", 'unknown value "vonage"'),
    # addresses
    ('[web]\nlisten = "8443"\n', "web.listen", "invalid listen address"),
    ('[web]\nlisten = "0.0.0.0:99999"\n', "web.listen", "out of range"),
    ('[web]\nlisten = "::1:8443"\n', "web.listen", "brackets"),
    ('[web]\nlisten = "bad host:80"\n', "web.listen", "not a valid host"),
    ('[centre]\nhost = "127.0.0.1"\nport = 0\naccount = "1234"\n', "centre.port", "at least 1"),
    ('[centre]\nhost = "a b"\nport = 1\naccount = "1234"\n', "centre.host", "not a valid host"),
    ('[ntfy]\nurl = "ntfy.example.org"\ntopic = "t"\n', "ntfy.url", "http:// or https://"),
    ('[[contacts]]\nname = "A"\nphone = "3331234567"\n', "contacts[0].phone", "international"),
    ('[[contacts]]\nname = "A"\nemail = "anna"\n', "contacts[0].email", "not an email address"),
    # centre keys and fields
    (CENTRE_OK + 'key = "' + "ab" * 15 + '"\n', "centre.key", "32, 48 or 64 hex digits"),
    (CENTRE_OK + 'key = "' + "zz" * 16 + '"\n', "centre.key", "not all hex digits"),
    (CENTRE_OK + 'key = "short"\nkey_format = "ascii"\n', "centre.key", "16, 24 or 32 ASCII characters"),
    ('[centre]\nhost = "h"\nport = 1\naccount = 1234\n', "centre.account", 'quote it: "1234"'),
    ('[centre]\nhost = "h"\nport = 1\naccount = "12"\n', "centre.account", "3-16 hex digits"),
    (CENTRE_OK + 'receiver = "XYZ"\n', "centre.receiver", "hex digits"),
    (CENTRE_OK + 'backup_host = "b.example.org"\n', "centre.backup_port", "required key missing"),
    # missing required keys of a present section
    ('[sms]\nauth_token = "t"\nfrom = "+390212345678"\n', "sms.account_sid", "required key missing in [sms]"),
    ('[sms]\naccount_sid = "AC1"\nauth_token = "t"\n', "sms.from", "required key missing in [sms]"),
    ('[sms]\naccount_sid = "AC1"\nfrom = "+390212345678"\n', "sms.auth_token", "CASAHUB_SMS_AUTH_TOKEN"),
    ('[email]\nfrom = "a@example.org"\n', "email.host", "required key missing"),
    ('[email]\nhost = "h"\nfrom = "a@example.org"\nusername = "u"\n', "email.password", "required key missing"),
    ('[push]\nvapid_private_key_file = "k.pem"\n', "push.subject", "required key missing"),
    ('[ntfy]\nurl = "https://ntfy.sh"\n', "ntfy.topic", "required key missing"),
    ('[centre]\nport = 1\naccount = "1234"\n', "centre.host", "required key missing"),
    ('[centre]\nhost = "h"\naccount = "1234"\n', "centre.port", "required key missing"),
    ('[centre]\nhost = "h"\nport = 1\n', "centre.account", "required key missing"),
    ('[centre]\nprotocol = "webhook"\nsecret = "s"\n', "centre.url", "required key missing"),
    ('[centre]\nprotocol = "webhook"\nurl = "https://c.example.org"\n', "centre.secret", "required key missing"),
    ("[mqtt_export]\nport = 1883\n", "mqtt_export.host", "required key missing"),
    ('[[contacts]]\nphone = "+393331234567"\n', "contacts[0].name", "required key missing"),
    ('[[drivers]]\ntype = "gpio"\n', "drivers[0].lines", "required key missing"),
    ('[[drivers]]\ntype = "gpio"\nlines = [{ line = 4, name = "Door" }]\n', "drivers[0].lines[0].kind", "missing"),
    # impossible combinations
    ('[[contacts]]\nname = "A"\nvoice = true\n', "contacts[0].voice", "needs a phone number"),
    ('[[contacts]]\nname = "A"\n[[contacts]]\nname = "A"\n', "contacts[1].name", "duplicate contact name"),
    (
        '[sms]\naccount_sid = "AC1"\nauth_token = "t"\nauth_token_file = "f"\nfrom = "+3902"\n',
        "sms.auth_token_file",
        "not both",
    ),
    ('[led]\npath = "/sys/class/leds/ACT"\nline = 3\n', "led.line", "not both"),
]


@pytest.mark.parametrize(("text", "key", "fragment"), ERROR_CASES, ids=[c[1] + "-" + c[2][:20] for c in ERROR_CASES])
def test_each_error_names_file_key_and_reason(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    matching = [issue for issue in info.value.issues if issue.key == key]
    assert matching, f"no issue for {key}: {info.value.issues}"
    issue = matching[0]
    assert issue.file == str(path)
    assert fragment in issue.reason, issue.reason
    assert f"{path}: {key}: {issue.reason}" in str(info.value).splitlines()


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    text = """
[hub]
language = "fr"
[web]
listen = "nowhere"
[alarm]
entry_delay = -1
siren_time = true
[[contacts]]
name = "A"
[[contacts]]
name = "B"
language = "de"
[sms]
auth_token = "t"
[[drivers]]
type = "zwave"
"""
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    keys = [issue.key for issue in info.value.issues]
    assert keys == [
        "hub.language",
        "web.listen",
        "alarm.entry_delay",
        "alarm.siren_time",
        "contacts[1].language",
        "sms.account_sid",
        "sms.from",
        "drivers[0].type",
    ]
    lines = str(info.value).splitlines()
    assert len(lines) == len(keys)
    assert all(line.startswith(f"{tmp_path / 'casahub.toml'}: ") for line in lines)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[alarm]\nswinger_limit = true\n", "alarm.swinger_limit"),
        ("[alarm]\nexit_delay = false\n", "alarm.exit_delay"),
        ("[escalation]\nack_timeout = true\n", "escalation.ack_timeout"),
        ("[gsm]\nbaudrate = true\n", "gsm.baudrate"),
        ('[mqtt_export]\nhost = "h"\nport = true\n', "mqtt_export.port"),
        ('[[contacts]]\nname = "A"\npush = 1\n', "contacts[0].push"),
        ('[[contacts]]\nname = "A"\nvoice = 0\n', "contacts[0].voice"),
        ('[[drivers]]\ntype = "bthome"\npassive = 1\n', "drivers[0].passive"),
        (
            '[[drivers]]\ntype = "gpio"\nlines = [{ line = true, name = "D", kind = "contact" }]\n',
            "drivers[0].lines[0].line",
        ),
    ],
)
def test_booleans_and_integers_are_not_interchangeable(tmp_path: Path, text: str, key: str) -> None:
    issue = only_error(tmp_path, text)
    assert issue.key == key
    assert issue.reason.startswith("expected ")
    assert "boolean" in issue.reason or "integer" in issue.reason


def test_unknown_options_of_a_builtin_driver_only_warn(tmp_path: Path) -> None:
    loaded = load(tmp_path, '[[drivers]]\ntype = "nut"\nhots = "127.0.0.1"\n')
    [warning] = loaded.warnings
    assert warning.key == "drivers[0].hots" and 'did you mean "host"' in warning.reason
    assert loaded.config.drivers[0] == DriverConfig(type="nut", options={"hots": "127.0.0.1"})


def test_driver_options_are_kept(tmp_path: Path) -> None:
    text = '[[drivers]]\ntype = "zigbee2mqtt"\nhost = "127.0.0.1"\nport = 1884\nbase_topic = "z2m"\n'
    [driver] = load(tmp_path, text).config.drivers
    assert driver.type == "zigbee2mqtt"
    assert driver.options == {"host": "127.0.0.1", "port": 1884, "base_topic": "z2m"}


def test_driver_types_from_entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(config_module.BUILTIN_DRIVERS) <= set(known_driver_types())

    def fake_entry_points(group: str) -> list[SimpleNamespace]:
        assert group == "casahub.drivers"
        return [SimpleNamespace(name="simulated"), SimpleNamespace(name="acme_radio")]

    monkeypatch.setattr(config_module, "entry_points", fake_entry_points)
    assert "acme_radio" in known_driver_types()
    [driver] = load(tmp_path, '[[drivers]]\ntype = "acme_radio"\nanything = [1, 2]\n').config.drivers
    assert driver == DriverConfig(type="acme_radio", options={"anything": [1, 2]})


@pytest.mark.parametrize(
    ("key", "key_format", "size"),
    [
        ("ab" * 16, "hex", 16),
        ("AB" * 24, "hex", 24),
        ("0f" * 32, "hex", 32),
        ("k" * 16, "ascii", 16),
        ("k" * 24, "ascii", 24),
        ("k" * 32, "ascii", 32),
    ],
)
def test_valid_centre_keys(tmp_path: Path, key: str, key_format: str, size: int) -> None:
    centre = load(tmp_path, CENTRE_OK + f'key = "{key}"\nkey_format = "{key_format}"\n').config.centre
    assert centre is not None
    aes = centre.aes_key()
    assert aes is not None and len(aes) == size


def test_unencrypted_centre_and_webhook(tmp_path: Path) -> None:
    centre = load(tmp_path, CENTRE_OK).config.centre
    assert centre == CentreConfig(host="127.0.0.1", port=12000, account="1234")
    assert centre.aes_key() is None
    loaded = load(
        tmp_path, '[centre]\nprotocol = "webhook"\nurl = "https://c.example.org/h"\nsecret = "s"\nhost = "x"\n'
    )
    assert loaded.config.centre is not None and loaded.config.centre.url == "https://c.example.org/h"
    assert [(w.key, w.reason) for w in loaded.warnings] == [("centre.host", 'ignored with protocol = "webhook"')]


# --------------------------------------------------------------------------- warnings (grade-2 practice)


def test_entry_delay_over_45_seconds_warns(tmp_path: Path) -> None:
    loaded = load(tmp_path, "[alarm]\nentry_delay = 60\n")
    assert loaded.config.alarm.entry_delay == 60
    [warning] = loaded.warnings
    assert warning.key == "alarm.entry_delay" and "45" in warning.reason and "EN 50131" in warning.reason
    assert load(tmp_path, "[alarm]\nentry_delay = 45\n").warnings == []


@pytest.mark.parametrize("siren_time", [60, 119, 901, 0])
def test_siren_time_outside_2_to_15_minutes_warns(tmp_path: Path, siren_time: int) -> None:
    loaded = load(tmp_path, f"[alarm]\nsiren_time = {siren_time}\n")
    assert loaded.config.alarm.siren_time == siren_time
    [warning] = loaded.warnings
    assert warning.key == "alarm.siren_time" and "EN 50131" in warning.reason


@pytest.mark.parametrize("siren_time", [120, 180, 900])
def test_siren_time_within_practice_does_not_warn(tmp_path: Path, siren_time: int) -> None:
    assert load(tmp_path, f"[alarm]\nsiren_time = {siren_time}\n").warnings == []


# --------------------------------------------------------------------------- secrets


def test_secret_hides_its_value() -> None:
    secret = Secret("hunter2")
    assert repr(secret) == str(secret) == f"{secret}" == "***"
    assert secret.reveal() == "hunter2"
    assert secret == Secret("hunter2") and secret != Secret("other")


def test_secret_from_a_file_relative_to_the_config(tmp_path: Path) -> None:
    token = tmp_path / "twilio-token"
    token.write_text("  s3cr3t-token\n")
    token.chmod(0o600)
    loaded = load(tmp_path, '[sms]\naccount_sid = "AC1"\nauth_token_file = "twilio-token"\nfrom = "+390212345678"\n')
    assert loaded.warnings == []
    sms = loaded.config.sms
    assert sms is not None and sms.auth_token.reveal() == "s3cr3t-token"
    assert sms == SmsConfig(account_sid="AC1", auth_token=Secret("s3cr3t-token"), from_="+390212345678")


def test_world_readable_secret_file_warns(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t")
    token.chmod(0o644)
    loaded = load(tmp_path, '[ntfy]\nurl = "https://ntfy.sh"\ntopic = "t"\ntoken_file = "token"\n')
    assert [w.key for w in loaded.warnings] == ["ntfy.token_file"]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[sms]\naccount_sid = "AC1"\nauth_token_file = "missing"\nfrom = "+390212345678"\n', "sms.auth_token_file"),
        (
            '[email]\nhost = "h"\nfrom = "a@example.org"\nusername = "u"\npassword_file = "missing"\n',
            "email.password_file",
        ),
        (
            '[push]\nvapid_private_key_file = "missing"\nsubject = "mailto:a@example.org"\n',
            "push.vapid_private_key_file",
        ),
        ('[[drivers]]\ntype = "nut"\npassword_file = "missing"\n', "drivers[0].password_file"),
    ],
)
def test_missing_secret_file_is_an_error_naming_the_key(tmp_path: Path, text: str, key: str) -> None:
    issue = only_error(tmp_path, text)
    assert issue.key == key
    assert "cannot read" in issue.reason and str(tmp_path / "missing") in issue.reason


def test_empty_secret_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("\n")
    issue = only_error(tmp_path, '[push]\nvapid_private_key_file = "empty"\nsubject = "mailto:a@example.org"\n')
    assert issue.key == "push.vapid_private_key_file" and "empty" in issue.reason


def test_environment_overrides_secrets(tmp_path: Path) -> None:
    text = (
        '[sms]\naccount_sid = "AC1"\nauth_token = "from-file"\nfrom = "+390212345678"\n'
        '[email]\nhost = "h"\nfrom = "a@example.org"\nusername = "u"\npassword_file = "missing-but-unread"\n'
        '[ntfy]\nurl = "https://ntfy.sh"\ntopic = "t"\n'
        + CENTRE_OK
        + '[mqtt_export]\nhost = "127.0.0.1"\nusername = "u"\n'
        '[[drivers]]\ntype = "zigbee2mqtt"\npassword_file = "missing-but-unread"\n'
    )
    env = {
        "CASAHUB_SMS_AUTH_TOKEN": "env-sms",
        "CASAHUB_EMAIL_PASSWORD": "env-email",
        "CASAHUB_NTFY_TOKEN": "env-ntfy",
        "CASAHUB_CENTRE_KEY": "cd" * 16,
        "CASAHUB_MQTT_PASSWORD": "env-mqtt",
    }
    config = load(tmp_path, text, env).config
    assert config.sms is not None and config.sms.auth_token.reveal() == "env-sms"
    assert config.email is not None and config.email.password == Secret("env-email")
    assert config.ntfy is not None and config.ntfy.token == Secret("env-ntfy")
    assert config.centre is not None and config.centre.aes_key() == bytes([0xCD] * 16)
    assert config.mqtt_export is not None and config.mqtt_export.password == Secret("env-mqtt")
    assert config.drivers[0].options["password"] == "env-mqtt"


def test_environment_satisfies_a_required_secret(tmp_path: Path) -> None:
    text = '[sms]\naccount_sid = "AC1"\nfrom = "+390212345678"\n'
    sms = load(tmp_path, text, {"CASAHUB_SMS_AUTH_TOKEN": "t"}).config.sms
    assert sms is not None and sms.auth_token.reveal() == "t"
    # an empty variable counts as unset
    assert only_error(tmp_path, text, {"CASAHUB_SMS_AUTH_TOKEN": ""}).key == "sms.auth_token"


def test_invalid_centre_key_from_the_environment_says_so(tmp_path: Path) -> None:
    issue = only_error(tmp_path, CENTRE_OK, {"CASAHUB_CENTRE_KEY": "abc"})
    assert issue.key == "centre.key" and "CASAHUB_CENTRE_KEY" in issue.reason
    assert "abc" not in issue.reason


def test_environment_without_its_section_warns(tmp_path: Path) -> None:
    loaded = load(tmp_path, "", {"CASAHUB_CENTRE_KEY": "00" * 16})
    assert [w.key for w in loaded.warnings] == ["centre.key"]
    assert "CASAHUB_CENTRE_KEY" in loaded.warnings[0].reason


def test_environment_defaults_to_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASAHUB_NTFY_TOKEN", "from-os")
    ntfy = load_config(write(tmp_path, '[ntfy]\nurl = "https://ntfy.sh"\ntopic = "t"\n')).config.ntfy
    assert ntfy is not None and ntfy.token == Secret("from-os")


def test_secrets_never_appear_in_repr_or_str(tmp_path: Path) -> None:
    secrets = [
        "SMS-TOKEN-1",
        "EMAIL-PASS-2",
        "NTFY-TOKEN-3",
        "WEBHOOK-SECRET-4",
        "MQTT-PASS-5",
        "Z2M-PASS-6",
        "CAM-PASS-7",
        "RTSP-PASS-8",
        "VAPID-KEY-9",
    ]
    vapid = tmp_path / "vapid"
    vapid.write_text(secrets[8])
    vapid.chmod(0o600)
    text = f"""
[sms]
account_sid = "AC1"
auth_token = "{secrets[0]}"
from = "+390212345678"
[email]
host = "h"
from = "a@example.org"
username = "u"
password = "{secrets[1]}"
[ntfy]
url = "https://ntfy.sh"
topic = "t"
token = "{secrets[2]}"
[centre]
protocol = "webhook"
url = "https://c.example.org"
secret = "{secrets[3]}"
[mqtt_export]
host = "h"
password = "{secrets[4]}"
[push]
vapid_private_key_file = "vapid"
subject = "mailto:a@example.org"
[[drivers]]
type = "zigbee2mqtt"
password = "{secrets[5]}"
[[drivers]]
type = "camera"
name = "Cam"
password = "{secrets[6]}"
rtsp_url = "rtsp://admin:{secrets[7]}@192.168.1.5/stream"
"""
    loaded = load(tmp_path, text)
    shown = repr(loaded) + str(loaded) + repr(loaded.config) + str(loaded.config)
    for secret in secrets:
        assert secret not in shown
    assert "***" in shown
    assert loaded.config.drivers[1].options["password"] == secrets[6]  # drivers get the plain value


def test_secret_values_are_not_echoed_in_errors(tmp_path: Path) -> None:
    issue = only_error(tmp_path, '[sms]\naccount_sid = "AC1"\nauth_token = 987654321\nfrom = "+390212345678"\n')
    assert issue.key == "sms.auth_token" and "987654321" not in issue.reason


# --------------------------------------------------------------------------- parse_listen


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.0.0.0:8443", ("0.0.0.0", 8443)),
        ("127.0.0.1:0", ("127.0.0.1", 0)),
        ("[::]:8080", ("::", 8080)),
        ("[::1]:80", ("::1", 80)),
        ("hub.local:443", ("hub.local", 443)),
        ("localhost:8080", ("localhost", 8080)),
    ],
)
def test_parse_listen(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "8443",
        ":8443",
        "0.0.0.0:",
        "0.0.0.0:http",
        "0.0.0.0:70000",
        "::1:80",
        "[::1]80",
        "[nope]:80",
        "a b:80",
        "host:-1",
        "host:٣",
    ],
)
def test_parse_listen_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_listen(text)


# --------------------------------------------------------------------------- check_main


def test_check_main_ok_with_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "[alarm]\nentry_delay = 60\nsiren_time = 60\n")
    assert check_main(path, env={}) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == f"OK: {path}"
    assert lines[1:] == [
        f"warning: {path}: alarm.entry_delay: " + lines[1].split(": ", 3)[3],
        f"warning: {path}: alarm.siren_time: " + lines[2].split(": ", 3)[3],
    ]
    assert err == ""


def test_check_main_ok_without_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert check_main(None, env={}) == 0
    assert capsys.readouterr().out.startswith("OK: ")


def test_check_main_shipped_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert check_main(SHIPPED, env={}) == 0
    assert capsys.readouterr() == (f"OK: {SHIPPED}\n", "")


def test_check_main_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, '[alarm]\nentry_delay = -1\nentry_delay_x = 1\n[hub]\nlanguage = "fr"\n')
    assert check_main(path, env={}) == 2
    out, err = capsys.readouterr()
    assert "OK" not in out
    assert f"error: {path}: alarm.entry_delay: a duration cannot be negative, got -1" in err.splitlines()
    assert f"{path}: alarm.entry_delay_x: unknown key" in err
    assert f"{path}: hub.language: " in err
    assert "3 errors" in err


def test_check_main_syntax_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "[alarm\n")
    assert check_main(path, env={}) == 2
    assert f"error: {path}: invalid TOML" in capsys.readouterr().err


def test_check_main_uses_os_environ_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, '[sms]\naccount_sid = "AC1"\nfrom = "+390212345678"\n')
    monkeypatch.delenv("CASAHUB_SMS_AUTH_TOKEN", raising=False)
    assert check_main(path) == 2
    monkeypatch.setenv("CASAHUB_SMS_AUTH_TOKEN", "t")
    assert check_main(path) == 0
    assert os.environ["CASAHUB_SMS_AUTH_TOKEN"] == "t"


def test_names_and_rooms_are_at_most_64_characters(tmp_path: Path) -> None:
    long = "x" * 100
    text = f"""
[hub]
name = "{long}"

[[contacts]]
name = "{long}"
push = true

[[drivers]]
type = "camera"
name = "{long}"
snapshot_url = "http://192.168.1.5/snap.jpg"

[[drivers]]
type = "gpio"
lines = [{{ line = 1, name = "{long}", kind = "contact", room = "{long}" }}]
"""
    found = {issue.key: issue.reason for issue in errors(tmp_path, text)}
    keys = {"hub.name", "contacts[0].name", "drivers[0].name", "drivers[1].lines[0].name", "drivers[1].lines[0].room"}
    assert set(found) == keys, found
    assert all(reason == "at most 64 characters, got 100" for reason in found.values()), found
    assert load(tmp_path, text.replace(long, "y" * 64)).config.hub.name == "y" * 64


# --------------------------------------------------------------------------- armed modes' own delays (issue 17)


def test_a_mode_may_have_its_own_delays(tmp_path: Path) -> None:
    from alarms.model import ModeDelays

    alarm = load(tmp_path, "[alarm]\nentry_delay = 25\n[alarm.night]\nentry_delay = 0\n").config.alarm
    assert alarm.modes == {"night": ModeDelays(entry_delay=0)}
    assert (alarm.entry_delay_for("night"), alarm.entry_delay_for("away"), alarm.exit_delay_for("night")) == (0, 25, 30)


def test_a_bad_mode_table_is_named_by_its_key(tmp_path: Path) -> None:
    assert only_error(tmp_path, "[alarm.night]\nentry_delay = -1\n").key == "alarm.night.entry_delay"
    assert only_error(tmp_path, "[alarm.night]\nentry = 0\n").key == "alarm.night.entry"
    assert only_error(tmp_path, "[alarm]\nnight = 3\n").key == "alarm.night"
    assert only_error(tmp_path, "[alarm.weekend]\nentry_delay = 0\n").key == "alarm.weekend"


def test_areas_are_read_in_order_with_their_own_delays(tmp_path: Path) -> None:
    from alarms.model import AreaConfig

    text = (
        '[[areas]]\nid = "casa"\nname = "Appartamento"\n\n[[areas]]\nid = "garage"\nname = "Garage"\nentry_delay = 0\n'
    )
    assert load(tmp_path, text).config.alarm.areas == (
        AreaConfig(id="casa", name="Appartamento"),
        AreaConfig(id="garage", name="Garage", entry_delay=0),
    )
    assert load(tmp_path, "").config.alarm.areas == (AreaConfig(id="casa", name="Casa"),)  # one area: the house


def test_bad_areas_are_named_by_their_key(tmp_path: Path) -> None:
    assert only_error(tmp_path, '[[areas]]\nid = "Garage!"\nname = "G"\n').key == "areas[0].id"
    assert (
        only_error(tmp_path, '[[areas]]\nid = "g"\nname = "G"\n[[areas]]\nid = "g"\nname = "H"\n').key == "areas[1].id"
    )
    assert only_error(tmp_path, '[[areas]]\nid = "g"\n').key == "areas[0].name"
    assert only_error(tmp_path, '[[areas]]\nid = "g"\nname = "G"\nfloor = 1\n').key == "areas[0].floor"
    assert only_error(tmp_path, 'areas = "casa"\n').key == "areas"
