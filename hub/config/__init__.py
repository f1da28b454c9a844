"""Load and check casahub.toml: every key of config/casahub.toml, typed, validated, secrets kept out of logs.

Theory of operation
-------------------
`load_config(path)` reads the TOML file and walks it section by section. Each section is
read through a `_Table`, which knows the section's keys: an unknown key is reported (with
the closest known key as a suggestion), and every getter checks the TOML type strictly
(`true` is not an integer, `30` is not a string) and the value's range. Nothing stops at
the first problem: every issue is collected, with the file, the dotted key
(`alarm.entry_delay`, `contacts[1].language`, `drivers[0].type`) and the reason, and
`ConfigError` carries them all. The daemon refuses to start on an error; `casahub config
check` prints them.

Two levels (docs/architecture.md, grade-2 practice):
- errors: only impossible values — wrong type, negative duration, unknown kind or enum
  value, malformed address, bad key length, a required key missing, an unreadable
  secret file;
- warnings (`LoadedConfig.warnings`): values outside EN 50131 grade-2 practice (entry
  delay over 45 s, siren time outside 2-15 min), which installers use to test, plus a few
  "probably not what you meant" notes (a secret file readable by everyone, a key that the
  chosen protocol ignores).

Secrets (`sms.auth_token`, `email.password`, `centre.key`, ...) may be written inline, read
from a file named by the `<key>_file` key (relative paths are relative to the config file;
the content is stripped), or taken from an environment variable, which wins over both:

    CASAHUB_SMS_AUTH_TOKEN   [sms] auth_token
    CASAHUB_EMAIL_PASSWORD   [email] password
    CASAHUB_CENTRE_KEY       [centre] key            (DC-09 AES key)
    CASAHUB_CENTRE_SECRET    [centre] secret         (webhook signing secret)
    CASAHUB_NTFY_TOKEN       [ntfy] token
    CASAHUB_MQTT_PASSWORD    [mqtt_export] password and the password of zigbee2mqtt drivers

An empty variable counts as unset; a variable whose section is absent is ignored with a
warning. Secret values are wrapped in `Secret`, whose repr and str are "***"; `.reveal()`
gives the value to the one place that needs it (the channel that logs in).

Relative paths in the file (`hub.data_dir`, TLS files, `*_file` keys) are relative to the
directory of the config file; `~` is expanded.

Layout: model.py (the dataclasses and Secret), errors.py (issues and the context that
collects them), toml_load.py (typed getters on one TOML table), addresses.py (hosts,
listen addresses, phones, e-mails), sections.py, channels.py and drivers.py (one reader
per section), load.py (load_config and `config check`). This package re-exports every
name its importers use, so `from hub.config import ...` is as before the split.
"""

from __future__ import annotations

# `entry_points` stays a name of the package: known_driver_types looks it up here, so that
# replacing hub.config.entry_points (as tests do) still changes which driver types are known.
from importlib.metadata import entry_points as entry_points

from hub.config.addresses import parse_listen
from hub.config.drivers import BUILTIN_DRIVERS, DRIVER_ENTRY_POINT_GROUP, known_driver_types
from hub.config.errors import ConfigError, ConfigIssue
from hub.config.load import DEFAULTS_LABEL, SECTIONS, check_main, load_config
from hub.config.model import (
    CENTRE_FORMATS,
    CENTRE_PROTOCOLS,
    EMAIL_SECURITIES,
    ENV_VARS,
    KEY_FORMATS,
    LANGUAGES,
    LOG_FORMATS,
    LOG_LEVELS,
    MAX_ENTRY_DELAY,
    MQTT_PASSWORD_ENV,
    OUTPUT_DEADLINE_RANGE,
    SIREN_TIME_RANGE,
    SMS_PROVIDERS,
    TLS_MODES,
    BackupConfig,
    CentreConfig,
    CentreFormat,
    CentreProtocol,
    Config,
    ContactConfig,
    DriverConfig,
    EmailConfig,
    EmailSecurity,
    EscalationConfig,
    GsmConfig,
    HubConfig,
    KeyFormat,
    Language,
    LedConfig,
    LoadedConfig,
    LogConfig,
    LogFormat,
    MqttExportConfig,
    NtfyConfig,
    OutputsConfig,
    PushConfig,
    Secret,
    SmsConfig,
    StorageConfig,
    TlsFiles,
    TlsMode,
    WebConfig,
)

__all__ = [
    "BUILTIN_DRIVERS",
    "CENTRE_FORMATS",
    "CENTRE_PROTOCOLS",
    "DEFAULTS_LABEL",
    "DRIVER_ENTRY_POINT_GROUP",
    "EMAIL_SECURITIES",
    "ENV_VARS",
    "KEY_FORMATS",
    "LANGUAGES",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "MAX_ENTRY_DELAY",
    "MQTT_PASSWORD_ENV",
    "OUTPUT_DEADLINE_RANGE",
    "SECTIONS",
    "SIREN_TIME_RANGE",
    "SMS_PROVIDERS",
    "TLS_MODES",
    "BackupConfig",
    "CentreConfig",
    "CentreFormat",
    "CentreProtocol",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "ContactConfig",
    "DriverConfig",
    "EmailConfig",
    "EmailSecurity",
    "EscalationConfig",
    "GsmConfig",
    "HubConfig",
    "KeyFormat",
    "Language",
    "LedConfig",
    "LoadedConfig",
    "LogConfig",
    "LogFormat",
    "MqttExportConfig",
    "NtfyConfig",
    "OutputsConfig",
    "PushConfig",
    "Secret",
    "SmsConfig",
    "StorageConfig",
    "TlsFiles",
    "TlsMode",
    "WebConfig",
    "check_main",
    "entry_points",
    "known_driver_types",
    "load_config",
    "parse_listen",
]
