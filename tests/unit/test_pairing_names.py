"""The name suggested for a device waiting to be paired (hub/core/pairing_names.py, issue 18)."""

from __future__ import annotations

from typing import get_args

from alarms.model import ZoneKind
from alarms.outputs import OutputKind
from hub.core.pairing_names import _NAMES, suggested_name


def test_named_after_what_it_senses_in_the_hubs_language() -> None:
    assert suggested_name(("motion",), (), [], "it") == "Sensore movimento"
    assert suggested_name(("motion",), (), [], "en") == "Motion sensor"
    assert suggested_name(("contact",), (), [], "it") == "Contatto porta o finestra"
    assert suggested_name((), ("siren",), [], "it") == "Sirena"  # an output only: what it does
    assert suggested_name((), (), [], "it") == "Dispositivo"


def test_numbered_past_the_names_in_use() -> None:
    taken = ["sensore movimento", "Sensore movimento 2", "Cucina"]
    assert suggested_name(("motion",), (), taken, "it") == "Sensore movimento 3"
    assert suggested_name(("water",), (), taken, "it") == "Sensore acqua"


def test_every_kind_has_a_name() -> None:
    for kind in (*get_args(ZoneKind), *get_args(OutputKind)):
        assert set(_NAMES[kind]) == {"it", "en"}, kind
