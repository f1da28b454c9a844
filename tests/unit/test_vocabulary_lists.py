"""Every list of a vocabulary is its Literal's values, so adding a value to the Literal updates them all.

A list typed out again drifts the day a value is added to the Literal and not to the list: the
config check, the CLI's choices or /metrics would then miss it. Each list here must equal
`get_args` of its Literal, in the Literal's order; the lists that are a choice among the values
(the household's channels, who may arm) must keep to them. The Literals the hub's messages and
structs annotate with must be the domain's own, not a copy.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, Literal, get_args, get_origin, get_type_hints

import pytest

from alarms import dc09, messages, model, policy
from hub import commissioning, config
from hub.cli.main import build_parser
from hub.commissioning import channels as commissioning_channels
from hub.export import metrics, mqtt_discovery
from hub.store import accounts, contacts
from hub.transports import registry
from hub.web import auth, contacts_api, pages, system_api, users_api

DERIVED: list[tuple[str, Sequence[object], Any]] = [
    ("alarms.model.MODES", model.MODES, model.Mode),
    ("alarms.model.ARM_TARGETS", model.ARM_TARGETS, model.ArmTarget),
    ("alarms.model.ZONE_KINDS", model.ZONE_KINDS, model.ZoneKind),
    ("alarms.model.BEHAVIOURS", model.BEHAVIOURS, model.Behaviour),
    ("alarms.model.INCIDENT_KINDS", model.INCIDENT_KINDS, model.IncidentKind),
    ("alarms.model.INCIDENT_STATES", model.INCIDENT_STATES, model.IncidentState),
    ("alarms.model.ANOMALY_KINDS", model.ANOMALY_KINDS, model.AnomalyKind),
    ("alarms.model.EXCLUSION_HOWS", model.EXCLUSION_HOWS, model.ExclusionHow),
    ("alarms.messages.LANGUAGES", messages.LANGUAGES, messages.Language),
    ("alarms.policy.CHANNELS", policy.CHANNELS, policy.Channel),
    ("alarms.dc09.MESSAGE_IDS", dc09.MESSAGE_IDS, dc09.MessageId),
    ("alarms.dc09.REPLY_IDS", dc09.REPLY_IDS, dc09.ReplyId),
    ("hub.config.LANGUAGES", config.LANGUAGES, messages.Language),
    ("hub.config.TLS_MODES", config.TLS_MODES, config.TlsMode),
    ("hub.config.SMS_PROVIDERS", config.SMS_PROVIDERS, Literal["twilio"]),
    ("hub.config.EMAIL_SECURITIES", config.EMAIL_SECURITIES, config.EmailSecurity),
    ("hub.config.CENTRE_PROTOCOLS", config.CENTRE_PROTOCOLS, config.CentreProtocol),
    ("hub.config.CENTRE_FORMATS", config.CENTRE_FORMATS, config.CentreFormat),
    ("hub.config.KEY_FORMATS", config.KEY_FORMATS, config.KeyFormat),
    ("hub.config.LOG_FORMATS", config.LOG_FORMATS, config.LogFormat),
    ("hub.commissioning.LANGUAGES", commissioning.LANGUAGES, messages.Language),
    ("hub.commissioning.CHANNEL_ORDER", commissioning_channels.CHANNEL_ORDER, policy.Channel),
    ("hub.transports.registry.CHANNELS", registry.CHANNELS, policy.Channel),
    ("hub.export.metrics.CHANNELS", metrics.CHANNELS, policy.Channel),
    ("hub.export.metrics.INCIDENT_STATES", metrics.INCIDENT_STATES, model.IncidentState),
    ("hub.store.accounts.ROLES", accounts.ROLES, accounts.Role),
    ("hub.web.auth.EVERYONE", auth.EVERYONE, accounts.Role),
]


@pytest.mark.parametrize(("name", "values", "literal"), DERIVED, ids=[name for name, _, _ in DERIVED])
def test_list_is_its_literal(name: str, values: Sequence[object], literal: Any) -> None:
    assert tuple(values) == get_args(literal), name


def _in_order_within(values: Sequence[object], literal: Any) -> bool:
    """Every value is one of the Literal's, none twice, in the Literal's order."""
    everything = get_args(literal)
    return all(v in everything for v in values) and list(values) == sorted(set(values), key=everything.index)


# Lists that choose among a Literal's values: they may leave some out, never add one.
CHOSEN: list[tuple[str, Sequence[object], Any]] = [
    ("hub.transports.registry.HOUSEHOLD_CHANNELS", registry.HOUSEHOLD_CHANNELS, policy.Channel),
    ("hub.web.auth.OWNERS", auth.OWNERS, accounts.Role),
    ("hub.web.auth.ARMERS", auth.ARMERS, accounts.Role),
    ("hub.web.auth.HOUSEHOLD", auth.HOUSEHOLD, accounts.Role),
    ("hub.web.auth.INSTALLERS", auth.INSTALLERS, accounts.Role),
]


@pytest.mark.parametrize(("name", "values", "literal"), CHOSEN, ids=[name for name, _, _ in CHOSEN])
def test_chosen_list_keeps_to_its_literal(name: str, values: Sequence[object], literal: Any) -> None:
    assert _in_order_within(values, literal), name


def test_mqtt_incident_event_types_are_the_kinds_and_states() -> None:
    # duress is for the centre only (docs/architecture.md section 7); "active" is the opening itself.
    assert mqtt_discovery.INCIDENT_OPEN_TYPES == tuple(k for k in get_args(model.IncidentKind) if k != "duress")
    assert mqtt_discovery.INCIDENT_CHANGE_TYPES == tuple(s for s in get_args(model.IncidentState) if s != "active")


# --------------------------------------------------------------------------- the CLI's choices


def _subparser(parser: argparse.ArgumentParser, *path: str) -> argparse.ArgumentParser:
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser


def _choices(parser: argparse.ArgumentParser, dest: str) -> tuple[object, ...]:
    action = next(a for a in parser._actions if a.dest == dest)
    assert action.choices is not None
    return tuple(action.choices)


CLI: list[tuple[tuple[str, ...], str, Any]] = [
    (("user", "add"), "role", accounts.Role),
    (("user", "add"), "language", messages.Language),
    (("token", "create"), "role", accounts.Role),
    (("doctor",), "send_test", policy.Channel),
    (("arm",), "mode", model.ArmTarget),
    (("pair", "add"), "kind", model.ZoneKind),
    (("pair", "add"), "behaviour", model.Behaviour),
    (("pair", "report"), "lang", messages.Language),
]


@pytest.mark.parametrize(("path", "dest", "literal"), CLI, ids=[" ".join((*p, d)) for p, d, _ in CLI])
def test_cli_choices_are_the_literal(path: tuple[str, ...], dest: str, literal: Any) -> None:
    assert _choices(_subparser(build_parser(), *path), dest) == get_args(literal)


# --------------------------------------------------------------------------- one Literal, not copies


def _literals(hint: Any) -> tuple[object, ...]:
    """The Literal values in an annotation, through `X | None` and `X | UnsetType`."""
    if get_origin(hint) is Literal:
        return get_args(hint)
    return tuple(v for arg in get_args(hint) for v in _literals(arg))


LANGUAGE_FIELDS: list[tuple[str, type, str]] = [
    ("alarms.policy.Contact", policy.Contact, "language"),
    ("hub.config.HubConfig", config.HubConfig, "language"),
    ("hub.config.ContactConfig", config.ContactConfig, "language"),
    ("hub.store.contacts.StoredContact", contacts.StoredContact, "language"),
    ("hub.web.pages.SetupBody", pages.SetupBody, "language"),
    ("hub.web.users_api.NewUser", users_api.NewUser, "language"),
    ("hub.web.users_api.UserPatch", users_api.UserPatch, "language"),
    ("hub.web.users_api.SessionPatch", users_api.SessionPatch, "language"),
    ("hub.web.contacts_api.NewContact", contacts_api.NewContact, "language"),
    ("hub.web.contacts_api.ContactPatch", contacts_api.ContactPatch, "language"),
]


@pytest.mark.parametrize(("name", "cls", "field"), LANGUAGE_FIELDS, ids=[name for name, _, _ in LANGUAGE_FIELDS])
def test_language_fields_take_the_domain_languages(name: str, cls: type, field: str) -> None:
    assert _literals(get_type_hints(cls)[field]) == messages.LANGUAGES, name


def test_language_is_one_literal() -> None:
    # The modules that name `Language` name the domain's, not a copy of it.
    for module in (config, commissioning, contacts, contacts_api, users_api):
        assert module.Language is messages.Language, module.__name__


def test_arm_body_takes_the_arm_targets() -> None:
    assert _literals(get_type_hints(system_api.ArmBody)["mode"]) == model.ARM_TARGETS


def test_sms_provider_is_the_checked_one() -> None:
    assert _literals(get_type_hints(config.SmsConfig)["provider"]) == config.SMS_PROVIDERS
