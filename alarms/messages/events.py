"""Event texts (arming, disarming, zones excluded and back, incidents acknowledged, ...) and the
test message a user sends to try a channel."""

from __future__ import annotations

from alarms.messages.text import Text


def _event(subject: str, body: str, short: str | None = None) -> Text:
    return Text(subject=subject, body=body, short=short if short is not None else f"casahub: {body}")


EVENT_TEMPLATES: dict[str, dict[str, Text]] = {
    "event.armed_home": {
        "it": _event(
            "Allarme inserito (in casa)",
            "Allarme inserito in modalità in casa{by_user}{at}. Sono attive le zone previste per quando sei in casa.",
        ),
        "en": _event(
            "Alarm armed (home)",
            "Alarm armed in home mode{by_user}{at}. The zones meant for when you are at home are active.",
        ),
    },
    "event.armed_away": {
        "it": _event(
            "Allarme inserito (fuori casa)",
            "Allarme inserito in modalità fuori casa{by_user}{at}. Sono attive le zone previste per quando "
            "in casa non c'è nessuno.",
        ),
        "en": _event(
            "Alarm armed (away)",
            "Alarm armed in away mode{by_user}{at}. The zones meant for when nobody is at home are active.",
        ),
    },
    "event.armed_night": {
        "it": _event(
            "Allarme inserito (notte)",
            "Allarme inserito in modalità notte{by_user}{at}. Sono attive le zone previste per la notte.",
        ),
        "en": _event(
            "Alarm armed (night)",
            "Alarm armed in night mode{by_user}{at}. The zones meant for the night are active.",
        ),
    },
    "event.armed_vacation": {
        "it": _event(
            "Allarme inserito (vacanza)",
            "Allarme inserito in modalità vacanza{by_user}{at}. Sono attive le zone previste per quando siete "
            "via per giorni.",
        ),
        "en": _event(
            "Alarm armed (vacation)",
            "Alarm armed in vacation mode{by_user}{at}. The zones meant for when you are away for days are active.",
        ),
    },
    "event.armed_home.excluded": {
        "it": _event(
            "Allarme inserito (in casa), con zone escluse",
            "Allarme inserito in modalità in casa{by_user}{at}, ma queste zone non proteggono: {excluded}.",
        ),
        "en": _event(
            "Alarm armed (home), with zones excluded",
            "Alarm armed in home mode{by_user}{at}, but these zones do not protect: {excluded}.",
        ),
    },
    "event.armed_away.excluded": {
        "it": _event(
            "Allarme inserito (fuori casa), con zone escluse",
            "Allarme inserito in modalità fuori casa{by_user}{at}, ma queste zone non proteggono: {excluded}.",
        ),
        "en": _event(
            "Alarm armed (away), with zones excluded",
            "Alarm armed in away mode{by_user}{at}, but these zones do not protect: {excluded}.",
        ),
    },
    "event.armed_night.excluded": {
        "it": _event(
            "Allarme inserito (notte), con zone escluse",
            "Allarme inserito in modalità notte{by_user}{at}, ma queste zone non proteggono: {excluded}.",
        ),
        "en": _event(
            "Alarm armed (night), with zones excluded",
            "Alarm armed in night mode{by_user}{at}, but these zones do not protect: {excluded}.",
        ),
    },
    "event.armed_vacation.excluded": {
        "it": _event(
            "Allarme inserito (vacanza), con zone escluse",
            "Allarme inserito in modalità vacanza{by_user}{at}, ma queste zone non proteggono: {excluded}.",
        ),
        "en": _event(
            "Alarm armed (vacation), with zones excluded",
            "Alarm armed in vacation mode{by_user}{at}, but these zones do not protect: {excluded}.",
        ),
    },
    "event.disarmed": {
        "it": _event("Allarme disinserito", "Allarme disinserito{by_user}{at}."),
        "en": _event("Alarm disarmed", "Alarm disarmed{by_user}{at}."),
    },
    "event.arm_failed": {
        "it": _event(
            "Inserimento non riuscito",
            "L'allarme non è stato inserito{by_user}{at}: la zona {where} si è aperta durante il tempo di uscita. "
            "Chiudila o escludila e inserisci di nuovo.",
            "casahub: allarme NON inserito{at}: la zona {where} si è aperta durante il tempo di uscita. Chiudila "
            "e inserisci di nuovo.",
        ),
        "en": _event(
            "Arming failed",
            "The alarm was not armed{by_user}{at}: zone {where} opened during the exit delay. Close or bypass it "
            "and arm again.",
            "casahub: alarm NOT armed{at}: zone {where} opened during the exit delay. Close it and arm again.",
        ),
    },
    "event.hub_started": {
        "it": _event(
            "casahub avviato",
            "L'hub casahub si è avviato{at} e ha ripreso dallo stato salvato. Se non l'hai riavviato tu, potrebbe "
            "esserci stata un'interruzione di corrente: controlla il registro eventi.",
            "casahub: l'hub si è avviato{at} e ha ripreso dallo stato salvato.",
        ),
        "en": _event(
            "casahub started",
            "The casahub hub has started{at} and resumed from its saved state. If you did not restart it, there "
            "may have been a power cut: check the event log.",
            "casahub: the hub has started{at} and resumed from its saved state.",
        ),
    },
    "event.device_paired": {
        "it": _event(
            "Nuovo dispositivo accoppiato",
            "Nuovo dispositivo accoppiato: {device}, zona {where}{by_user}{at}. Se non sei stato tu, controlla "
            "subito i dispositivi dal pannello.",
            "casahub: nuovo dispositivo accoppiato, {device}{by_user}{at}.",
        ),
        "en": _event(
            "New device paired",
            "New device paired: {device}, zone {where}{by_user}{at}. If it was not you, check the devices in the "
            "dashboard now.",
            "casahub: new device paired, {device}{by_user}{at}.",
        ),
    },
    "event.zone_excluded.inhibit": {
        "it": _event(
            "Zona esclusa: {where}",
            "La zona {where} è stata esclusa{by_user}{at}: fino al prossimo disinserimento non darà l'allarme.",
            "casahub: zona {where} esclusa{by_user}{at}, non dà l'allarme fino al disinserimento.",
        ),
        "en": _event(
            "Zone excluded: {where}",
            "Zone {where} was excluded{by_user}{at}: until the next disarm it will not raise the alarm.",
            "casahub: zone {where} excluded{by_user}{at}, no alarm from it until disarm.",
        ),
    },
    "event.zone_excluded.open_at_arming": {
        "it": _event(
            "Inserito con una zona aperta: {where}",
            "L'allarme è stato inserito{by_user}{at} con la zona {where} aperta: resta esclusa finché è aperta e "
            "torna a proteggere appena viene chiusa.",
            "casahub: inserito{by_user}{at} con {where} aperta: esclusa finché resta aperta.",
        ),
        "en": _event(
            "Armed with a zone open: {where}",
            "The alarm was armed{by_user}{at} with zone {where} open: it is excluded while it stays open and "
            "protects again as soon as it is closed.",
            "casahub: armed{by_user}{at} with {where} open: excluded while it stays open.",
        ),
    },
    "event.zone_excluded.open_at_arming_fault": {
        "it": _event(
            "Inserito con un sensore guasto: {where}",
            "L'allarme è stato inserito{by_user}{at} con la zona {where} non funzionante (scollegata o manomessa): "
            "resta esclusa fino al disinserimento. Controlla il sensore.",
            "casahub: inserito{by_user}{at} con {where} guasta: esclusa fino al disinserimento.",
        ),
        "en": _event(
            "Armed with a faulty sensor: {where}",
            "The alarm was armed{by_user}{at} with zone {where} not working (offline or tampered): it is excluded "
            "until disarm. Check the sensor.",
            "casahub: armed{by_user}{at} with {where} faulty: excluded until disarm.",
        ),
    },
    "event.zone_excluded.isolate": {
        "it": _event(
            "Zona isolata: {where}",
            "La zona {where} è stata isolata{by_user}{at} fino al {until}: fino ad allora non darà nessun "
            "allarme. Motivo: {reason}.",
            "casahub: zona {where} isolata{by_user} fino al {until}, nessun allarme da lì. Motivo: {reason}",
        ),
        "en": _event(
            "Zone isolated: {where}",
            "Zone {where} was isolated{by_user}{at} until {until}: until then it will raise no alarm at all. "
            "Reason: {reason}.",
            "casahub: zone {where} isolated{by_user} until {until}, no alarm from it. Reason: {reason}",
        ),
    },
    "event.zone_excluded.auto": {
        "it": _event(
            "Zona esclusa automaticamente: {where}",
            "La zona {where} è scattata troppe volte ed è stata esclusa automaticamente{at} fino al "
            "disinserimento. Controlla il sensore: posizione, animali, tende o correnti d'aria.",
            "casahub: zona {where} scattata troppe volte{at}, esclusa fino al disinserimento. Controlla il sensore.",
        ),
        "en": _event(
            "Zone excluded automatically: {where}",
            "Zone {where} fired too many times and was excluded automatically{at} until disarm. Check the sensor: "
            "position, pets, curtains or draughts.",
            "casahub: zone {where} fired too many times{at}, excluded until disarm. Check the sensor.",
        ),
    },
    "event.zone_included.user": {
        "it": _event(
            "Zona di nuovo attiva: {where}",
            "La zona {where} è stata reinclusa{by_user}{at} e protegge di nuovo la casa.",
            "casahub: zona {where} di nuovo attiva{by_user}{at}.",
        ),
        "en": _event(
            "Zone active again: {where}",
            "Zone {where} was put back into protection{by_user}{at}.",
            "casahub: zone {where} active again{by_user}{at}.",
        ),
    },
    "event.zone_included.closed": {
        "it": _event(
            "Zona chiusa, di nuovo attiva: {where}",
            "La zona {where} è stata chiusa{at} ed è di nuovo attiva: se si apre, parte il tempo di ingresso o "
            "l'allarme.",
            "casahub: {where} chiusa{at}, di nuovo attiva.",
        ),
        "en": _event(
            "Zone closed, active again: {where}",
            "Zone {where} was closed{at} and protects again: if it opens, the entry delay or the alarm starts.",
            "casahub: {where} closed{at}, active again.",
        ),
    },
    "event.zone_included.expired": {
        "it": _event(
            "Fine isolamento: {where}",
            "L'isolamento della zona {where} è terminato{at}: la zona protegge di nuovo la casa.",
            "casahub: fine isolamento di {where}{at}, la zona è di nuovo attiva.",
        ),
        "en": _event(
            "Isolation over: {where}",
            "The isolation of zone {where} ended{at}: the zone protects the home again.",
            "casahub: isolation of {where} over{at}, the zone is active again.",
        ),
    },
    "event.zone_included.disarm": {
        "it": _event(
            "Esclusione terminata: {where}",
            "Con il disinserimento{at} la zona {where} non è più esclusa: dal prossimo inserimento protegge di nuovo.",
            "casahub: {where} non più esclusa{at}.",
        ),
        "en": _event(
            "Exclusion over: {where}",
            "With the disarm{at} zone {where} is no longer excluded: from the next arming it protects again.",
            "casahub: {where} no longer excluded{at}.",
        ),
    },
    "event.incident_acknowledged": {
        "it": _event("Allarme preso in carico", "Allarme {incident_label} preso in carico{by_user}{at}."),
        "en": _event("Alarm acknowledged", "{incident_title} alarm acknowledged{by_user}{at}."),
    },
    "event.incident_resolved": {
        "it": _event("Allarme chiuso", "Allarme {incident_label} chiuso{by_user}{at}."),
        "en": _event("Alarm closed", "{incident_title} alarm closed{by_user}{at}."),
    },
    "event.incident_cancelled": {
        "it": _event(
            "Allarme annullato",
            "Allarme {incident_label} annullato{by_user}{at}: disinserito entro il tempo di annullamento. "
            "La centrale operativa è stata informata dell'annullamento.",
            "casahub: allarme {incident_label} annullato{by_user}{at}.",
        ),
        "en": _event(
            "Alarm cancelled",
            "{incident_title} alarm cancelled{by_user}{at}: disarmed within the abort window. The assistance "
            "centre has been told of the cancellation.",
            "casahub: {incident_label} alarm cancelled{by_user}{at}.",
        ),
    },
    "event.wrong_codes": {
        "it": _event(
            "Troppi codici d'allarme errati",
            "Sono stati inseriti 10 codici d'allarme errati in meno di un'ora, l'ultimo{by_user}{at}. Qualcuno "
            "potrebbe provare a indovinare il codice. Chi sbaglia resta bloccato per un tempo che raddoppia a ogni "
            "serie di errori (fino a un'ora) e la centrale operativa è stata avvisata. Se non eravate voi, cambiate "
            "i codici dal pannello e controllate chi ha accesso (utenti, token, Home Assistant).",
            "casahub: 10 codici d'allarme errati in meno di un'ora, l'ultimo{by_user}{at}. Se non eravate voi, "
            "cambiate i codici.",
        ),
        "en": _event(
            "Too many wrong alarm codes",
            "10 wrong alarm codes were entered within an hour, the last one{by_user}{at}. Someone may be trying to "
            "guess the code. Whoever gets it wrong is locked out for a time that doubles with every series of wrong "
            "codes (up to an hour), and the assistance centre has been told. If it was not you, change the codes in "
            "the dashboard and check who has access (users, tokens, Home Assistant).",
            "casahub: 10 wrong alarm codes within an hour, the last one{by_user}{at}. If it was not you, change the "
            "codes.",
        ),
    },
    "event.valve_closed": {
        "it": _event(
            "Acqua chiusa: {where}",
            "Per l'allarme allagamento la valvola {where} ha chiuso l'acqua{at}. Resta chiusa finché non la "
            "riapri tu, dal pannello o con casahub, con il codice: prima controlla e ferma la perdita.",
            "casahub: acqua chiusa dalla valvola {where}{at} per una perdita. Riaprila dall'app, con il codice, "
            "dopo aver controllato.",
        ),
        "en": _event(
            "Water shut off: {where}",
            "Because of the water leak alarm, valve {where} shut off the water{at}. It stays closed until you "
            "open it again, from the dashboard or with casahub, with your code: first find and stop the leak.",
            "casahub: water shut off by valve {where}{at} for a leak. Open it from the app, with your code, once "
            "checked.",
        ),
    },
    "event.valve_opened": {
        "it": _event(
            "Acqua riaperta: {where}",
            "La valvola {where} è stata riaperta{by_user}{at}: l'acqua scorre di nuovo. Controlla che la perdita "
            "sia davvero ferma.",
            "casahub: acqua riaperta, valvola {where}{by_user}{at}.",
        ),
        "en": _event(
            "Water back on: {where}",
            "Valve {where} was opened again{by_user}{at}: the water runs again. Make sure the leak has really stopped.",
            "casahub: water back on, valve {where}{by_user}{at}.",
        ),
    },
    "event.other": {
        # An event the policy has no text for yet: say what the engine called it.
        "it": _event("Evento: {event}", "Evento {event}{by_user}{at}."),
        "en": _event("Event: {event}", "Event {event}{by_user}{at}."),
    },
}

TEST_TEMPLATES: dict[str, dict[str, Text]] = {
    "test": {
        "it": Text(
            subject="casahub: messaggio di prova",
            body=(
                "Questo è un messaggio di prova di casahub inviato con {channel_name}{by_user}{at}. Se lo ricevi, "
                "il canale funziona. Non serve fare nulla."
            ),
            short="casahub: messaggio di prova{at}. Se lo ricevi, l'invio con {channel_name} funziona.",
        ),
        "en": Text(
            subject="casahub: test message",
            body=(
                "This is a casahub test message sent with {channel_name}{by_user}{at}. If you receive it, the channel "
                "works. Nothing to do."
            ),
            short="casahub: test message{at}. If you receive it, {channel_name} delivery works.",
        ),
    }
}

EVENT_NAMES: frozenset[str] = frozenset(key.removeprefix("event.") for key in EVENT_TEMPLATES) - {"other"}
