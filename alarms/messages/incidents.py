"""Alarm texts for the household: each incident kind (what happened, what to do), its update,
reminder, voice call and photos, and the duress text kept for the centre and the event log."""

from __future__ import annotations

from typing import NamedTuple

from alarms.messages.text import Text
from alarms.model import IncidentKind

_FOOTER = {
    "it": (
        "Se il collegamento con la centrale operativa è attivo, la centrale è già stata avvisata.\n"
        "Conferma dal pannello di casahub di aver preso in carico l'allarme: fermerà i promemoria e le chiamate."
    ),
    "en": (
        "If the assistance centre link is active, the centre has already been alerted.\n"
        "Acknowledge the alarm in the casahub dashboard: this stops the reminders and calls."
    ),
}
_DETAILS = {
    "it": "Zona: {where}\nOra: {time}\nIncidente: {incident}{confirmed_note}",
    "en": "Zone: {where}\nTime: {time}\nIncident: {incident}{confirmed_note}",
}
_WHAT_TO_DO = {"it": "Cosa fare:", "en": "What to do:"}
_ACK_SMS = {"it": "Conferma nell'app.", "en": "Acknowledge in app."}


class _Alarm(NamedTuple):
    title: str  # capitals, GSM-7, for subject and SMS
    headline: str
    steps: tuple[str, ...]
    action: str  # the one SMS sentence saying what to do


ALARMS: dict[IncidentKind, dict[str, _Alarm]] = {
    "fire": {
        "it": _Alarm(
            title="ALLARME INCENDIO",
            headline="Allarme incendio: un rilevatore ha segnalato fumo.",
            steps=(
                "Se sei in casa, esci subito con tutti e chiudi le porte dietro di te. Non usare l'ascensore.",
                "Chiama il 115 (Vigili del Fuoco) o il 112.",
                "Non rientrare finché i soccorsi non lo permettono.",
            ),
            action="Esci con tutti, chiudi le porte, chiama 115 o 112.",
        ),
        "en": _Alarm(
            title="FIRE ALARM",
            headline="Fire alarm: a detector has sensed smoke.",
            steps=(
                "If you are at home, get everyone out now and close the doors behind you. Do not use the lift.",
                "Call 112 (in Italy also 115, the fire brigade).",
                "Do not go back in until the emergency services say it is safe.",
            ),
            action="Get everyone out, close doors, call 112 (115 in Italy).",
        ),
    },
    "water": {
        "it": _Alarm(
            title="ALLARME ACQUA",
            headline="Allarme allagamento: un sensore ha rilevato acqua sul pavimento.",
            steps=(
                "Chiudi la valvola generale dell'acqua (di solito vicino al contatore o sotto il lavello).",
                "Se l'acqua è vicina a prese, ciabatte o elettrodomestici, stacca prima la corrente dal quadro "
                "elettrico e non toccare l'acqua.",
                "Cerca la perdita (lavatrice, lavastoviglie, scaldabagno, tubi) e asciuga.",
                "Se non trovi la causa, chiama un idraulico.",
            ),
            action="Chiudi la valvola generale; se l'acqua tocca prese stacca la corrente.",
        ),
        "en": _Alarm(
            title="WATER LEAK",
            headline="Water leak alarm: a sensor has detected water on the floor.",
            steps=(
                "Close the main water valve (usually next to the water meter or under the sink).",
                "If the water is near sockets, power strips or appliances, first switch the power off at the fuse "
                "box and do not touch the water.",
                "Look for the leak (washing machine, dishwasher, water heater, pipes) and dry up.",
                "If you cannot find the cause, call a plumber.",
            ),
            action="Close the main water valve; if water reaches sockets, cut the power.",
        ),
    },
    "intrusion": {
        "it": _Alarm(
            title="ALLARME INTRUSIONE",
            headline="Allarme intrusione: un sensore ha rilevato un'apertura o un movimento con l'allarme inserito.",
            steps=(
                "Non entrare in casa e non affrontare nessuno.",
                "Se vedi o senti qualcuno, allontanati e chiama il 112.",
                "Se è un falso allarme (un familiare, un animale, una finestra lasciata aperta), disinserisci "
                "l'allarme e conferma l'incidente dal pannello.",
            ),
            action="Non entrare e non affrontare nessuno: chiama il 112 se serve.",
        ),
        "en": _Alarm(
            title="INTRUSION ALARM",
            headline="Intrusion alarm: a sensor has detected an opening or movement while the alarm was armed.",
            steps=(
                "Do not go in and do not confront anyone.",
                "If you see or hear someone, move away and call 112.",
                "If it is a false alarm (a family member, a pet, a window left open), disarm the alarm and "
                "acknowledge the incident in the dashboard.",
            ),
            action="Do not go in or confront anyone; if you see someone, call 112.",
        ),
    },
    "power": {
        "it": _Alarm(
            title="MANCA CORRENTE",
            headline="Mancanza di corrente: l'hub non riceve più la corrente di rete e funziona a batteria.",
            steps=(
                "Controlla il quadro elettrico: se il salvavita è scattato, riarmalo; se scatta di nuovo, stacca "
                "gli elettrodomestici e chiama un elettricista.",
                "Se manca la corrente anche ai vicini è un guasto della rete: segnalalo al distributore (il numero "
                "è sulla bolletta).",
                "Tieni chiusi frigorifero e congelatore.",
            ),
            action="Controlla il salvavita; se manca anche ai vicini è un guasto di rete.",
        ),
        "en": _Alarm(
            title="POWER CUT",
            headline="Power cut: the hub has lost mains power and is running on its battery.",
            steps=(
                "Check the fuse box: if the main switch (RCD) has tripped, reset it; if it trips again, unplug "
                "the appliances and call an electrician.",
                "If the neighbours have no power either, it is a grid fault: report it to the grid operator "
                "(the number is on your bill).",
                "Keep the fridge and freezer closed.",
            ),
            action="Check the RCD/main switch; if the street is out, call the grid operator.",
        ),
    },
    "panic": {
        "it": _Alarm(
            title="EMERGENZA",
            headline="Emergenza: qualcuno ha premuto il pulsante di emergenza.",
            steps=(
                "Chiama subito chi è in casa.",
                "Se non risponde o ha bisogno di aiuto, chiama il 112 e dai l'indirizzo di casa.",
            ),
            action="Pulsante premuto: chiama chi è in casa; se non risponde chiama il 112.",
        ),
        "en": _Alarm(
            title="EMERGENCY",
            headline="Emergency: someone has pressed the emergency button.",
            steps=(
                "Call whoever is at home now.",
                "If nobody answers or they need help, call 112 and give the home address.",
            ),
            action="Panic button pressed: call whoever is at home; if no answer, call 112.",
        ),
    },
    "tamper": {
        "it": _Alarm(
            title="MANOMISSIONE",
            headline="Manomissione: un dispositivo dell'allarme è stato aperto, staccato o forzato.",
            steps=(
                "Se qualcuno di casa o un tecnico ci sta lavorando (per esempio per cambiare la batteria), "
                "conferma l'incidente dal pannello.",
                "Altrimenti non avvicinarti da solo: potrebbe essere un tentativo di sabotaggio. Se sei fuori "
                "casa e non ti aspetti nessuno, chiama il 112.",
                "Controlla il dispositivo: coperchio chiuso e ben fissato al muro.",
            ),
            action="Dispositivo aperto o staccato; se nessuno ci lavora chiama il 112.",
        ),
        "en": _Alarm(
            title="TAMPER ALARM",
            headline="Tamper alarm: an alarm device has been opened, removed or forced.",
            steps=(
                "If someone at home or a technician is working on it (for example changing the battery), "
                "acknowledge the incident in the dashboard.",
                "Otherwise do not approach it alone: it may be sabotage. If you are away and expect nobody, call 112.",
                "Check the device: cover closed and firmly fixed to the wall.",
            ),
            action="Device opened or removed; if nobody is working on it, call 112.",
        ),
    },
}


def _alarm_text(alarm: _Alarm, language: str) -> Text:
    steps = "\n".join(f"- {step}" for step in alarm.steps)
    return Text(
        subject=f"{alarm.title} - {{where}}",
        body=(f"{alarm.headline}\n\n{_DETAILS[language]}\n\n{_WHAT_TO_DO[language]}\n{steps}\n\n{_FOOTER[language]}"),
        short=f"casahub: {alarm.title} {{where}}{{at}}. {alarm.action} {_ACK_SMS[language]}",
    )


INCIDENT_TEMPLATES: dict[str, dict[str, Text]] = {
    f"incident.{kind}": {language: _alarm_text(alarm, language) for language, alarm in texts.items()}
    for kind, texts in ALARMS.items()
}

INCIDENT_TEMPLATES["incident.duress"] = {
    # Only for the centre link and the event log: the household never gets it (the person who typed
    # the duress code may be standing next to the intruder, looking at the phone).
    "it": Text(
        subject="COERCIZIONE - codice anti-rapina usato",
        body=(
            "Codice di coercizione (anti-rapina) usato{by_user}{at}: il sistema si è disinserito come al solito "
            "e la centrale operativa è stata avvisata in silenzio.\nIncidente: {incident}\n"
            "Questo messaggio è solo per la centrale e il registro eventi."
        ),
        short="casahub: COERCIZIONE - codice anti-rapina usato{by_user}{at}. Allarme silenzioso, incidente {incident}.",
    ),
    "en": Text(
        subject="DURESS - duress code used",
        body=(
            "Duress code used{by_user}{at}: the system disarmed as usual and the assistance centre was alerted "
            "silently.\nIncident: {incident}\nThis message is for the centre and the event log only."
        ),
        short="casahub: DURESS - duress code used{by_user}{at}. Silent alarm, incident {incident}.",
    ),
}

INCIDENT_TEMPLATES["incident.alarm"] = {
    # Used when the incident's kind cannot be found (it is no longer open): still tell the household.
    "it": Text(
        subject="ALLARME {incident_label} - {where}",
        body=f"Allarme {{incident_label}}.\n\n{_DETAILS['it']}\n\n{_FOOTER['it']}",
        short="casahub: ALLARME {incident_label} {where}{at}. Verifica subito cosa succede in casa. " + _ACK_SMS["it"],
    ),
    "en": Text(
        subject="ALARM {incident_label} - {where}",
        body=f"Alarm: {{incident_label}}.\n\n{_DETAILS['en']}\n\n{_FOOTER['en']}",
        short="casahub: ALARM {incident_label} {where}{at}. Check what is happening at home now. " + _ACK_SMS["en"],
    ),
}

INCIDENT_TEMPLATES["incident.update"] = {
    "it": Text(
        subject="Allarme {incident_label}: anche {where}",
        body=(
            "L'allarme {incident_label} in corso si estende: è scattata anche la zona {where}{at}.\n"
            "Zone coinvolte finora: {zones}\nIncidente: {incident}{confirmed_note}"
        ),
        short="casahub: allarme {incident_label}, è scattata anche la zona {where}{at}.",
    ),
    "en": Text(
        subject="{incident_title} alarm: also {where}",
        body=(
            "The ongoing {incident_label} alarm is spreading: zone {where} has fired too{at}.\n"
            "Zones involved so far: {zones}\nIncident: {incident}{confirmed_note}"
        ),
        short="casahub: {incident_label} alarm, zone {where} has fired too{at}.",
    ),
}

INCIDENT_TEMPLATES["incident.reminder"] = {
    "it": Text(
        subject="PROMEMORIA: allarme {incident_label} non ancora confermato",
        body=(
            "Nessuno ha ancora confermato l'allarme {incident_label}.\nZona: {where}\nIncidente: {incident}\n\n"
            "Se sei già al corrente, confermalo dal pannello di casahub; altrimenti verifica subito cosa succede "
            "in casa.\n\n{advice}"
        ),
        short=(
            "casahub PROMEMORIA: nessuno ha confermato l'allarme {incident_label} {where}. "
            "Verifica subito e conferma nell'app."
        ),
    ),
    "en": Text(
        subject="REMINDER: {incident_label} alarm not yet acknowledged",
        body=(
            "Nobody has acknowledged the {incident_label} alarm yet.\nZone: {where}\nIncident: {incident}\n\n"
            "If you already know about it, acknowledge it in the casahub dashboard; otherwise check what is "
            "happening at home now.\n\n{advice}"
        ),
        short=(
            "casahub REMINDER: nobody has acknowledged the {incident_label} alarm {where}. "
            "Check now and acknowledge in the app."
        ),
    ),
}

_VOICE = {
    "it": (
        "Attenzione, questo è l'allarme di casa. Allarme {incident_label}{where_spoken}. "
        "Ripeto: allarme {incident_label}{where_spoken}. Nessuno l'ha ancora confermato: "
        "conferma nell'app casahub."
    ),
    "en": (
        "Attention, this is your home alarm. {incident_title} alarm{where_spoken}. "
        "I repeat: {incident_title} alarm{where_spoken}. Nobody has acknowledged it yet: "
        "please acknowledge it in the casahub app."
    ),
}
INCIDENT_TEMPLATES["incident.voice"] = {
    "it": Text(subject="Chiamata: allarme {incident_label}", body=_VOICE["it"], short=_VOICE["it"]),
    "en": Text(subject="Call: {incident_label} alarm", body=_VOICE["en"], short=_VOICE["en"]),
}

# The camera frames of the seconds after an alarm (hub/cameras/delivery.py): by email to the
# household, and to a webhook centre, once the after-trigger window is over.
INCIDENT_TEMPLATES["incident.photos"] = {
    "it": Text(
        subject="Foto dopo l'allarme {incident_label}",
        body=(
            "In allegato le foto delle telecamere nei secondi dopo l'allarme {incident_label}{at}.\n"
            "Incidente: {incident}\n\nTutte le foto sono nella pagina dell'incidente su casahub."
        ),
        short="casahub: foto dopo l'allarme {incident_label}, incidente {incident}.",
    ),
    "en": Text(
        subject="Photos after the {incident_label} alarm",
        body=(
            "Attached are the cameras' photos of the seconds after the {incident_label} alarm{at}.\n"
            "Incident: {incident}\n\nEvery photo is on the incident's page in casahub."
        ),
        short="casahub: photos after the {incident_label} alarm, incident {incident}.",
    ),
}
