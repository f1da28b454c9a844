"""What the household's schedules say (alarms/schedules.py): the reminder that the alarm is still
off, and the notice that a scheduled arm did not happen because the house was not ready, with
the reasons in people's words ("Finestra camera (aperta)").

The reasons and the mode are words of the recipient's language, but a message's parameters are
the same for every recipient: `schedule_params` writes them once per language
(`not_ready_it`, `not_ready_en`, `mode_it`...), and `schedule_phrases` picks the recipient's
as `{not_ready}` and `{mode_phrase}` when the message is rendered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from alarms.messages.text import LANGUAGES, Text

__all__ = ["MODE_WORDS", "REASON_WORDS", "SCHEDULE_EVENTS", "SCHEDULE_TEMPLATES", "schedule_params", "schedule_phrases"]

# Why a zone (or a siren) keeps the house from arming: alarms/engine.py `readiness`.
REASON_WORDS: dict[str, dict[str, str]] = {
    "open": {"it": "aperta", "en": "open"},
    "offline": {"it": "non raggiungibile", "en": "offline"},
    "tamper": {"it": "manomessa", "en": "tampered"},
    "siren_offline": {"it": "sirena non raggiungibile", "en": "siren offline"},
}
# The armed modes (alarms.model.ARM_TARGETS) as the household says them; a mode without words
# here shows its own name (tests/unit/test_schedules.py checks every mode has them).
MODE_WORDS: dict[str, dict[str, str]] = {
    "home": {"it": "in casa", "en": "home"},
    "away": {"it": "fuori casa", "en": "away"},
    "night": {"it": "notte", "en": "night"},
    "vacation": {"it": "vacanza", "en": "vacation"},
}
_MODE_PHRASE = {"it": " in modalità {mode}", "en": " in {mode} mode"}
_FALLBACK = {
    "schedule": {"it": "programmato", "en": "scheduled"},
    "not_ready": {"it": "zone non pronte", "en": "zones not ready"},
}


def _event(subject: str, body: str, short: str) -> Text:
    return Text(subject=subject, body=body, short=short)


SCHEDULE_TEMPLATES: dict[str, dict[str, Text]] = {
    "event.schedule_not_ready": {
        "it": _event(
            "Allarme NON inserito: {schedule}",
            "Il programma \"{schedule}\" doveva inserire l'allarme{mode_phrase}{at}, ma non l'ha inserito "
            "perché la casa non è pronta: {not_ready}. Chiudi o controlla queste zone e inserisci l'allarme "
            "dall'app.",
            "casahub: allarme NON inserito dal programma {schedule}{at}. Non pronte: {not_ready}",
        ),
        "en": _event(
            "Alarm NOT armed: {schedule}",
            'Your schedule "{schedule}" was to arm the alarm{mode_phrase}{at}, but it did not because the '
            "house is not ready: {not_ready}. Close or check these zones and arm the alarm from the app.",
            "casahub: alarm NOT armed by schedule {schedule}{at}. Not ready: {not_ready}",
        ),
    },
    "event.schedule_reminder": {
        "it": _event(
            "L'allarme è ancora disinserito",
            "L'allarme è ancora disinserito{at}. Te lo ricorda il programma \"{schedule}\": se in casa non c'è "
            "nessuno o state andando a dormire, inseriscilo dall'app.",
            "casahub: l'allarme è ancora disinserito{at} (programma {schedule}).",
        ),
        "en": _event(
            "The alarm is still off",
            'The alarm is still off{at}. This is a reminder from your schedule "{schedule}": if nobody is home or '
            "you are going to bed, arm it from the app.",
            "casahub: the alarm is still off{at} (schedule {schedule}).",
        ),
    },
}
SCHEDULE_EVENTS: frozenset[str] = frozenset(key.removeprefix("event.") for key in SCHEDULE_TEMPLATES)


def schedule_params(name: str, mode: str | None, not_ready: Sequence[tuple[str, str]] = ()) -> dict[str, str]:
    """The parameters of a schedule's message: its name, and the mode and the reasons in every
    language. `not_ready` is (zone or siren name, reason) as the engine refused the arming."""
    params = {"schedule": name}
    for language in LANGUAGES:
        if mode is not None:
            params[f"mode_{language}"] = MODE_WORDS.get(mode, {}).get(language, mode)
        if not_ready:
            params[f"not_ready_{language}"] = ", ".join(
                f"{who} ({REASON_WORDS.get(reason, {}).get(language, reason)})" for who, reason in not_ready
            )
    return params


def schedule_phrases(language: str, params: Mapping[str, str]) -> dict[str, str]:
    """`{schedule}`, `{mode_phrase}` (" in modalità notte", or nothing) and `{not_ready}` in
    `language`; a word, not a gap, when one is missing."""
    mode = params.get(f"mode_{language}")
    return {
        "schedule": params.get("schedule") or _FALLBACK["schedule"][language],
        "mode_phrase": _MODE_PHRASE[language].format(mode=mode) if mode else "",
        "not_ready": params.get(f"not_ready_{language}") or _FALLBACK["not_ready"][language],
    }
