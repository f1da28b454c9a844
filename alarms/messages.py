"""Message texts: every template the notification policy plans, rendered in the recipient's language.

A template key (`incident.water`, `anomaly.low_battery.cleared`, `event.disarmed`, `centre.burglary`,
...) names one message; each has an Italian and an English text made of three parts:

- `subject`: email subject and push title;
- `body`: email and push body, with the details and what to do;
- `short`: the SMS (and ntfy) text. It is converted to the GSM-7 alphabet so that one SMS holds
  160 characters (a single character outside GSM-7, such as "È" or an emoji, would switch the whole
  SMS to UCS-2 and cut it to 70); the texts are written to fit in 160 with typical zone names.

Rendering never fails on data: a missing parameter shows as "?" and an unknown language gets
Italian, because a message with a gap is better than no message during an alarm. An unknown
template key is a programming error and raises KeyError.

Parameters (all strings, all optional) come from `alarms.policy`: zone (name), zone_id, room,
device, user, incident, incident_kind, confirmed ("yes"/"no"), zones (count), anomaly,
anomaly_kind, channel, event, code, restore ("yes"/"no"); the shell adds `time`, already
formatted. Phrases such as "{where}" or "{at}" are derived here from those parameters so that an
absent room or time leaves no empty brackets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from alarms.manual import manual_entry, manual_steps
from alarms.model import ANOMALY_KINDS, INCIDENT_KINDS, AnomalyKind, IncidentKind, ReportCode, Struct

DEFAULT_LANGUAGE = "it"
LANGUAGES: tuple[str, ...] = ("it", "en")
MISSING = "?"


class Rendered(Struct, frozen=True):
    subject: str
    body: str
    short: str


class _Text(NamedTuple):
    subject: str
    body: str
    short: str


# --------------------------------------------------------------------------- GSM-7

# GSM 03.38 basic character set (one septet each; the escape character itself is left out) and the
# extension table (two septets each: escape + character).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
SMS_LIMIT = 160
SMS_CUT = "..."  # ends an SMS cut to fit (fit_sms)

# What we write instead of the characters outside GSM-7 that Italian and English text meets most.
_GSM7_SUBSTITUTES = {
    "È": "E'",
    "À": "A'",
    "Ì": "I'",
    "Ò": "O'",
    "Ù": "U'",
    "Á": "A",
    "Í": "I",
    "Ó": "O",
    "Ú": "U",
    "á": "a",
    "í": "i",
    "ó": "o",
    "ú": "u",
    "â": "a",
    "ê": "e",
    "î": "i",
    "ô": "o",
    "û": "u",
    "ë": "e",
    "ï": "i",
    "ç": "c",
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "«": '"',
    "»": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2026": "...",
    "\u00a0": " ",
    "\t": " ",
    "°": " gradi ",
}


def gsm7_ok(text: str) -> bool:
    """True when every character of `text` is in the GSM-7 alphabet (basic set or extension)."""
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def gsm7_length(text: str) -> int:
    """Septets `text` takes in an SMS (an extension character takes two); the text must be GSM-7."""
    return sum(2 if char in GSM7_EXTENSION else 1 for char in text)


def fit_sms(text: str, limit: int = SMS_LIMIT) -> str:
    """`text` cut to at most `limit` septets on a word boundary, "..." added; never refused for
    length (a 60 KB zone name from an old database still gives a sendable SMS). GSM-7 text."""
    if gsm7_length(text) <= limit:
        return text
    room = limit - len(SMS_CUT)
    cut, used = [], 0
    for char in text:
        used += 2 if char in GSM7_EXTENSION else 1
        if used > room:
            break
        cut.append(char)
    head = "".join(cut)
    words = head.rsplit(" ", 1)[0] if " " in head else head
    # A word boundary, unless that throws away most of the room (one long word: cut it).
    if len(words) >= room // 2:
        head = words
    return head.rstrip(" ,.;:-") + SMS_CUT


def to_gsm7(text: str) -> str:
    """`text` in the GSM-7 alphabet: known characters replaced by their nearest, others by "?"."""
    out: list[str] = []
    for char in text:
        if char in GSM7_BASIC or char in GSM7_EXTENSION:
            out.append(char)
        else:
            out.append(_GSM7_SUBSTITUTES.get(char, MISSING))
    return "".join(out)


# --------------------------------------------------------------------------- words used by the derived phrases

_INCIDENT_LABEL: dict[IncidentKind, dict[str, str]] = {
    "fire": {"it": "incendio", "en": "fire"},
    "water": {"it": "allagamento", "en": "water leak"},
    "intrusion": {"it": "intrusione", "en": "intrusion"},
    "power": {"it": "mancanza corrente", "en": "power cut"},
    "panic": {"it": "emergenza", "en": "emergency"},
    "tamper": {"it": "manomissione", "en": "tamper"},
    "duress": {"it": "coercizione", "en": "duress"},
}

_CHANNEL_LABEL: dict[str, dict[str, str]] = {
    "sms": {"it": "SMS", "en": "SMS"},
    "email": {"it": "email", "en": "email"},
    "push": {"it": "notifiche dell'app", "en": "app notifications"},
    "ntfy": {"it": "notifiche ntfy", "en": "ntfy notifications"},
    "voice": {"it": "chiamate vocali", "en": "voice calls"},
    "gsm": {"it": "modem GSM", "en": "GSM modem"},
    "centre": {"it": "collegamento con la centrale", "en": "assistance centre link"},
}


class _Words(NamedTuple):
    at: str
    by: str
    restore: str
    confirmed: str
    zone: str
    user: str
    incident: str


_WORDS: dict[str, _Words] = {
    "it": _Words(
        at="alle",
        by="da",
        restore="Ripristino: ",
        confirmed="\nAllarme verificato: sono scattate almeno due zone diverse.",
        zone="zona",
        user="utente",
        incident="incidente",
    ),
    "en": _Words(
        at="at",
        by="by",
        restore="Restore: ",
        confirmed="\nVerified alarm: at least two different zones have fired.",
        zone="zone",
        user="user",
        incident="incident",
    ),
}


# --------------------------------------------------------------------------- incidents

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


_ALARMS: dict[IncidentKind, dict[str, _Alarm]] = {
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


def _alarm_text(alarm: _Alarm, language: str) -> _Text:
    steps = "\n".join(f"- {step}" for step in alarm.steps)
    return _Text(
        subject=f"{alarm.title} - {{where}}",
        body=(f"{alarm.headline}\n\n{_DETAILS[language]}\n\n{_WHAT_TO_DO[language]}\n{steps}\n\n{_FOOTER[language]}"),
        short=f"casahub: {alarm.title} {{where}}{{at}}. {alarm.action} {_ACK_SMS[language]}",
    )


_INCIDENT_TEMPLATES: dict[str, dict[str, _Text]] = {
    f"incident.{kind}": {language: _alarm_text(alarm, language) for language, alarm in texts.items()}
    for kind, texts in _ALARMS.items()
}

_INCIDENT_TEMPLATES["incident.duress"] = {
    # Only for the centre link and the event log: the household never gets it (the person who typed
    # the duress code may be standing next to the intruder, looking at the phone).
    "it": _Text(
        subject="COERCIZIONE - codice anti-rapina usato",
        body=(
            "Codice di coercizione (anti-rapina) usato{by_user}{at}: il sistema si è disinserito come al solito "
            "e la centrale operativa è stata avvisata in silenzio.\nIncidente: {incident}\n"
            "Questo messaggio è solo per la centrale e il registro eventi."
        ),
        short="casahub: COERCIZIONE - codice anti-rapina usato{by_user}{at}. Allarme silenzioso, incidente {incident}.",
    ),
    "en": _Text(
        subject="DURESS - duress code used",
        body=(
            "Duress code used{by_user}{at}: the system disarmed as usual and the assistance centre was alerted "
            "silently.\nIncident: {incident}\nThis message is for the centre and the event log only."
        ),
        short="casahub: DURESS - duress code used{by_user}{at}. Silent alarm, incident {incident}.",
    ),
}

_INCIDENT_TEMPLATES["incident.alarm"] = {
    # Used when the incident's kind cannot be found (it is no longer open): still tell the household.
    "it": _Text(
        subject="ALLARME {incident_label} - {where}",
        body=f"Allarme {{incident_label}}.\n\n{_DETAILS['it']}\n\n{_FOOTER['it']}",
        short="casahub: ALLARME {incident_label} {where}{at}. Verifica subito cosa succede in casa. " + _ACK_SMS["it"],
    ),
    "en": _Text(
        subject="ALARM {incident_label} - {where}",
        body=f"Alarm: {{incident_label}}.\n\n{_DETAILS['en']}\n\n{_FOOTER['en']}",
        short="casahub: ALARM {incident_label} {where}{at}. Check what is happening at home now. " + _ACK_SMS["en"],
    ),
}

_INCIDENT_TEMPLATES["incident.update"] = {
    "it": _Text(
        subject="Allarme {incident_label}: anche {where}",
        body=(
            "L'allarme {incident_label} in corso si estende: è scattata anche la zona {where}{at}.\n"
            "Zone coinvolte finora: {zones}\nIncidente: {incident}{confirmed_note}"
        ),
        short="casahub: allarme {incident_label}, è scattata anche la zona {where}{at}.",
    ),
    "en": _Text(
        subject="{incident_title} alarm: also {where}",
        body=(
            "The ongoing {incident_label} alarm is spreading: zone {where} has fired too{at}.\n"
            "Zones involved so far: {zones}\nIncident: {incident}{confirmed_note}"
        ),
        short="casahub: {incident_label} alarm, zone {where} has fired too{at}.",
    ),
}

_INCIDENT_TEMPLATES["incident.reminder"] = {
    "it": _Text(
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
    "en": _Text(
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
_INCIDENT_TEMPLATES["incident.voice"] = {
    "it": _Text(subject="Chiamata: allarme {incident_label}", body=_VOICE["it"], short=_VOICE["it"]),
    "en": _Text(subject="Call: {incident_label} alarm", body=_VOICE["en"], short=_VOICE["en"]),
}

# The camera frames of the seconds after an alarm (hub/cameras/delivery.py): by email to the
# household, and to a webhook centre, once the after-trigger window is over.
_INCIDENT_TEMPLATES["incident.photos"] = {
    "it": _Text(
        subject="Foto dopo l'allarme {incident_label}",
        body=(
            "In allegato le foto delle telecamere nei secondi dopo l'allarme {incident_label}{at}.\n"
            "Incidente: {incident}\n\nTutte le foto sono nella pagina dell'incidente su casahub."
        ),
        short="casahub: foto dopo l'allarme {incident_label}, incidente {incident}.",
    ),
    "en": _Text(
        subject="Photos after the {incident_label} alarm",
        body=(
            "Attached are the cameras' photos of the seconds after the {incident_label} alarm{at}.\n"
            "Incident: {incident}\n\nEvery photo is on the incident's page in casahub."
        ),
        short="casahub: photos after the {incident_label} alarm, incident {incident}.",
    ),
}


# --------------------------------------------------------------------------- anomalies


class _Fault(NamedTuple):
    subject: str
    short: str
    cleared_subject: str
    cleared_short: str


_DEVICE_FAULT_DETAILS = {
    "it": "Zona: {where}\nDispositivo: {device}\nOra: {time}",
    "en": "Zone: {where}\nDevice: {device}\nTime: {time}",
}
_SYSTEM_FAULT_DETAILS = {"it": "Ora: {time}", "en": "Time: {time}"}
_CHANNEL_FAULT_DETAILS = {"it": "Canale: {channel_name}\nOra: {time}", "en": "Channel: {channel_name}\nTime: {time}"}
_FAULT_DETAILS: dict[AnomalyKind, dict[str, str]] = {
    "sensor_offline": _DEVICE_FAULT_DETAILS,
    "low_battery": _DEVICE_FAULT_DETAILS,
    "centre_unreachable": _SYSTEM_FAULT_DETAILS,
    "channel_failure": _CHANNEL_FAULT_DETAILS,
    "hub_battery_low": _SYSTEM_FAULT_DETAILS,
    "storage_error": _SYSTEM_FAULT_DETAILS,
    "clock_unsynced": _SYSTEM_FAULT_DETAILS,
    "backup_failed": _SYSTEM_FAULT_DETAILS,
    "no_notification_channel": _SYSTEM_FAULT_DETAILS,
}

_FAULTS: dict[AnomalyKind, dict[str, _Fault]] = {
    "sensor_offline": {
        "it": _Fault(
            subject="Guasto: sensore non raggiungibile - {where}",
            short=(
                "casahub GUASTO: il sensore {where} non risponde{at}. Controlla la batteria e avvicinalo "
                "all'hub. Istruzioni nell'app."
            ),
            cleared_subject="Risolto: il sensore {where} è di nuovo in linea",
            cleared_short="casahub: risolto, il sensore {where} è di nuovo in linea{at}.",
        ),
        "en": _Fault(
            subject="Fault: sensor offline - {where}",
            short=(
                "casahub FAULT: sensor {where} not responding{at}. Check its battery, move it closer to the "
                "hub. Steps in the app."
            ),
            cleared_subject="Resolved: sensor {where} is back online",
            cleared_short="casahub: resolved, sensor {where} is back online{at}.",
        ),
    },
    "low_battery": {
        "it": _Fault(
            subject="Batteria scarica: {where}",
            short=(
                "casahub: batteria quasi scarica nel sensore {where}. Sostituiscila presto (tipo scritto sul "
                "sensore, spesso CR2032 o CR123A)."
            ),
            cleared_subject="Risolto: batteria sostituita - {where}",
            cleared_short="casahub: risolto, la batteria del sensore {where} è di nuovo carica{at}.",
        ),
        "en": _Fault(
            subject="Battery low: {where}",
            short=(
                "casahub: battery low in sensor {where}. Replace it soon (type printed on the sensor, often "
                "CR2032 or CR123A)."
            ),
            cleared_subject="Resolved: battery replaced - {where}",
            cleared_short="casahub: resolved, the battery of sensor {where} is fine again{at}.",
        ),
    },
    "centre_unreachable": {
        "it": _Fault(
            subject="Guasto: centrale operativa non raggiungibile",
            short=(
                "casahub GUASTO: la centrale operativa non è raggiungibile{at}. Controlla router e internet. "
                "SMS e notifiche restano attivi."
            ),
            cleared_subject="Risolto: la centrale operativa è di nuovo raggiungibile",
            cleared_short="casahub: risolto, la centrale operativa è di nuovo raggiungibile{at}.",
        ),
        "en": _Fault(
            subject="Fault: assistance centre unreachable",
            short=(
                "casahub FAULT: the assistance centre cannot be reached{at}. Check the router and internet. "
                "SMS and notifications still work."
            ),
            cleared_subject="Resolved: the assistance centre is reachable again",
            cleared_short="casahub: resolved, the assistance centre is reachable again{at}.",
        ),
    },
    "channel_failure": {
        "it": _Fault(
            subject="Guasto: invio con {channel_name} non funzionante",
            short=(
                "casahub GUASTO: l'invio con {channel_name} non funziona{at}. Gli altri canali restano attivi. "
                "Istruzioni nell'app."
            ),
            cleared_subject="Risolto: l'invio con {channel_name} funziona di nuovo",
            cleared_short="casahub: risolto, l'invio con {channel_name} funziona di nuovo{at}.",
        ),
        "en": _Fault(
            subject="Fault: {channel_name} delivery failing",
            short=(
                "casahub FAULT: {channel_name} delivery is failing{at}. The other channels still work. "
                "Steps in the app."
            ),
            cleared_subject="Resolved: {channel_name} delivery works again",
            cleared_short="casahub: resolved, {channel_name} delivery works again{at}.",
        ),
    },
    "hub_battery_low": {
        "it": _Fault(
            subject="Guasto: batteria dell'hub scarica",
            short=(
                "casahub GUASTO: batteria di riserva dell'hub scarica{at}. Controlla che l'hub sia collegato "
                "alla corrente e che la presa funzioni."
            ),
            cleared_subject="Risolto: la batteria dell'hub è di nuovo carica",
            cleared_short="casahub: risolto, la batteria dell'hub è di nuovo carica{at}.",
        ),
        "en": _Fault(
            subject="Fault: hub battery low",
            short=(
                "casahub FAULT: the hub's backup battery is low{at}. Check that the hub is plugged in and the "
                "socket has power."
            ),
            cleared_subject="Resolved: the hub battery is charged again",
            cleared_short="casahub: resolved, the hub battery is charged again{at}.",
        ),
    },
    "storage_error": {
        "it": _Fault(
            subject="Guasto: errore della memoria dell'hub",
            short=(
                "casahub GUASTO: errore della memoria dell'hub{at}, eventi forse non salvati. Non staccare "
                "la corrente; istruzioni nell'app."
            ),
            cleared_subject="Risolto: la memoria dell'hub funziona di nuovo",
            cleared_short="casahub: risolto, la memoria dell'hub funziona di nuovo{at}.",
        ),
        "en": _Fault(
            subject="Fault: hub storage error",
            short=(
                "casahub FAULT: hub storage error{at}, events may not be saved. Do not pull the plug; steps in the app."
            ),
            cleared_subject="Resolved: the hub storage works again",
            cleared_short="casahub: resolved, the hub storage works again{at}.",
        ),
    },
    "clock_unsynced": {
        "it": _Fault(
            subject="Guasto: orologio dell'hub non sincronizzato",
            short=(
                "casahub GUASTO: l'orologio dell'hub non è sincronizzato{at}. Controlla la connessione "
                "internet dell'hub."
            ),
            cleared_subject="Risolto: l'orologio dell'hub è sincronizzato",
            cleared_short="casahub: risolto, l'orologio dell'hub è di nuovo sincronizzato{at}.",
        ),
        "en": _Fault(
            subject="Fault: hub clock not synchronised",
            short="casahub FAULT: the hub clock is not synchronised{at}. Check the hub's internet connection.",
            cleared_subject="Resolved: the hub clock is synchronised",
            cleared_short="casahub: resolved, the hub clock is synchronised again{at}.",
        ),
    },
    "backup_failed": {
        "it": _Fault(
            subject="Guasto: backup automatico non riuscito",
            short=(
                "casahub GUASTO: il backup automatico notturno non è riuscito{at}. Controlla la chiavetta USB "
                "del backup; istruzioni nell'app."
            ),
            cleared_subject="Risolto: il backup automatico funziona di nuovo",
            cleared_short="casahub: risolto, il backup automatico è di nuovo riuscito{at}.",
        ),
        "en": _Fault(
            subject="Fault: automatic backup failed",
            short=(
                "casahub FAULT: the nightly automatic backup failed{at}. Check the backup USB stick; steps in the app."
            ),
            cleared_subject="Resolved: the automatic backup works again",
            cleared_short="casahub: resolved, the automatic backup succeeded again{at}.",
        ),
    },
    "no_notification_channel": {
        "it": _Fault(
            subject="Guasto: nessuno verrebbe avvisato di un allarme",
            short=(
                "casahub GUASTO: nessun SMS, email o notifica raggiunge la famiglia{at}: un allarme non "
                "avviserebbe nessuno. Istruzioni nell'app."
            ),
            cleared_subject="Risolto: la famiglia può di nuovo essere avvisata",
            cleared_short="casahub: risolto, la famiglia può di nuovo essere avvisata degli allarmi{at}.",
        ),
        "en": _Fault(
            subject="Fault: nobody would be told of an alarm",
            short=(
                "casahub FAULT: no SMS, email or app notification reaches the household{at}: an alarm would "
                "tell nobody. Steps in the app."
            ),
            cleared_subject="Resolved: the household can be told of alarms again",
            cleared_short="casahub: resolved, the household can be told of alarms again{at}.",
        ),
    },
}

_HOW_TO_FIX = {"it": "Come risolvere:", "en": "How to fix it:"}
_NOT_AN_ALARM = {
    "it": "Non è un allarme, ma va risolto presto.",
    "en": "This is not an alarm, but it should be fixed soon.",
}
_CLEARED_BODY = {
    "it": 'Il guasto "{anomaly_label}" è stato risolto{at}. Non serve fare altro.',
    "en": 'The fault "{anomaly_label}" has been resolved{at}. Nothing else to do.',
}


def _fault_texts(kind: AnomalyKind, language: str, fault: _Fault) -> tuple[_Text, _Text]:
    entry = manual_entry(kind, language)
    details = _FAULT_DETAILS[kind][language]
    raised = _Text(
        subject=fault.subject,
        body=(
            f"{entry.title}\n\n{entry.meaning}\n{_NOT_AN_ALARM[language]}\n\n{details}\n\n"
            f"{_HOW_TO_FIX[language]}\n{{manual}}"
        ),
        short=fault.short,
    )
    cleared = _Text(
        subject=fault.cleared_subject,
        body=f"{_CLEARED_BODY[language]}\n\n{details}",
        short=fault.cleared_short,
    )
    return raised, cleared


_ANOMALY_TEMPLATES: dict[str, dict[str, _Text]] = {}
_TEMPLATE_ANOMALY: dict[str, AnomalyKind] = {}  # the anomaly whose manual a template quotes
for _kind in ANOMALY_KINDS:
    _raised: dict[str, _Text] = {}
    _cleared: dict[str, _Text] = {}
    for _language, _fault in _FAULTS[_kind].items():
        _raised[_language], _cleared[_language] = _fault_texts(_kind, _language, _fault)
    _ANOMALY_TEMPLATES[f"anomaly.{_kind}"] = _raised
    _ANOMALY_TEMPLATES[f"anomaly.{_kind}.cleared"] = _cleared
    _TEMPLATE_ANOMALY[f"anomaly.{_kind}"] = _kind
    _TEMPLATE_ANOMALY[f"anomaly.{_kind}.cleared"] = _kind


_ANOMALY_TEMPLATES["anomaly.other"] = {
    # Used when the anomaly cannot be found any more: still say that something needs attention.
    "it": _Text(
        subject="Guasto dell'impianto",
        body="L'impianto ha segnalato un guasto{at} (anomalia {anomaly}). Apri il pannello di casahub per i dettagli.",
        short="casahub GUASTO: l'impianto ha segnalato un guasto{at}. Dettagli nell'app.",
    ),
    "en": _Text(
        subject="System fault",
        body="The system has reported a fault{at} (anomaly {anomaly}). Open the casahub dashboard for details.",
        short="casahub FAULT: the system has reported a fault{at}. Details in the app.",
    ),
}
_ANOMALY_TEMPLATES["anomaly.other.cleared"] = {
    "it": _Text(
        subject="Risolto: guasto dell'impianto",
        body="Il guasto segnalato (anomalia {anomaly}) è stato risolto{at}. Non serve fare altro.",
        short="casahub: risolto il guasto segnalato{at}.",
    ),
    "en": _Text(
        subject="Resolved: system fault",
        body="The reported fault (anomaly {anomaly}) has been resolved{at}. Nothing else to do.",
        short="casahub: the reported fault has been resolved{at}.",
    ),
}


# --------------------------------------------------------------------------- events


def _event(subject: str, body: str, short: str | None = None) -> _Text:
    return _Text(subject=subject, body=body, short=short if short is not None else f"casahub: {body}")


_EVENT_TEMPLATES: dict[str, dict[str, _Text]] = {
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
            "Allarme inserito in modalità fuori casa{by_user}{at}. Tutte le zone sono attive.",
        ),
        "en": _event("Alarm armed (away)", "Alarm armed in away mode{by_user}{at}. All zones are active."),
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
    "event.other": {
        # An event the policy has no text for yet: say what the engine called it.
        "it": _event("Evento: {event}", "Evento {event}{by_user}{at}."),
        "en": _event("Event: {event}", "Event {event}{by_user}{at}."),
    },
}

_TEST_TEMPLATES: dict[str, dict[str, _Text]] = {
    "test": {
        "it": _Text(
            subject="casahub: messaggio di prova",
            body=(
                "Questo è un messaggio di prova di casahub inviato con {channel_name}{by_user}{at}. Se lo ricevi, "
                "il canale funziona. Non serve fare nulla."
            ),
            short="casahub: messaggio di prova{at}. Se lo ricevi, l'invio con {channel_name} funziona.",
        ),
        "en": _Text(
            subject="casahub: test message",
            body=(
                "This is a casahub test message sent with {channel_name}{by_user}{at}. If you receive it, the channel "
                "works. Nothing to do."
            ),
            short="casahub: test message{at}. If you receive it, {channel_name} delivery works.",
        ),
    }
}


# --------------------------------------------------------------------------- centre (log transport)

_CENTRE_LABEL: dict[ReportCode, dict[str, str]] = {
    "fire": {"it": "Allarme incendio", "en": "Fire alarm"},
    "water": {"it": "Allarme allagamento", "en": "Water leak alarm"},
    "burglary": {"it": "Allarme intrusione", "en": "Burglary alarm"},
    "panic": {"it": "Allarme emergenza (panico)", "en": "Panic alarm"},
    "duress": {"it": "Coercizione (codice anti-rapina)", "en": "Duress"},
    "tamper": {"it": "Manomissione", "en": "Tamper"},
    "ac_loss": {"it": "Mancanza rete elettrica", "en": "AC power loss"},
    "low_battery": {"it": "Batteria scarica", "en": "Low battery"},
    "supervision_loss": {"it": "Sensore non raggiungibile", "en": "Sensor supervision loss"},
    "open": {"it": "Disinserimento", "en": "Disarmed (opening)"},
    "close": {"it": "Inserimento", "en": "Armed (closing)"},
    "cancel": {"it": "Annullamento allarme", "en": "Alarm cancelled"},
    "confirmed": {"it": "Allarme verificato", "en": "Verified alarm"},
    "bypass": {"it": "Esclusione zona", "en": "Zone excluded (bypass)"},
    "trouble": {"it": "Guasto", "en": "Trouble"},
    "walk_test": {"it": "Prova impianto (walk test)", "en": "Walk test mode"},
    "wrong_code": {"it": "Codici d'allarme errati ripetuti", "en": "Wrong code entry (repeated)"},
}
_CENTRE_SUBJECT = {"it": "casahub, centrale: ", "en": "casahub, centre: "}

_CENTRE_TEMPLATES: dict[str, dict[str, _Text]] = {
    f"centre.{code}": {
        language: _Text(
            subject=f"{_CENTRE_SUBJECT[language]}{{restore_label}}{label}",
            body=f"{{restore_label}}{label}{{centre_detail}}{{at}}",
            short=f"{{restore_label}}{label}{{centre_detail}}{{at}}",
        )
        for language, label in labels.items()
    }
    for code, labels in _CENTRE_LABEL.items()
}

TEMPLATES: dict[str, dict[str, _Text]] = {
    **_INCIDENT_TEMPLATES,
    **_ANOMALY_TEMPLATES,
    **_EVENT_TEMPLATES,
    **_TEST_TEMPLATES,
    **_CENTRE_TEMPLATES,
}
TEMPLATE_KEYS: frozenset[str] = frozenset(TEMPLATES)
EVENT_NAMES: frozenset[str] = frozenset(key.removeprefix("event.") for key in _EVENT_TEMPLATES) - {"other"}


# --------------------------------------------------------------------------- rendering


class _Values(dict[str, str]):
    """Template values where a missing name reads as "?" instead of raising."""

    def __missing__(self, key: str) -> str:
        return MISSING


def normalise_language(language: str) -> str:
    """Language code of a contact or account ("en", "EN", "en-GB" -> "en"); one without texts -> Italian."""
    code = language.strip().lower()[:2]
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def render(template: str, language: str, params: Mapping[str, str]) -> Rendered:
    """The message `template` in `language` with `params` filled in.

    Raises KeyError for a template key that does not exist (a bug in the caller, not bad data).
    """
    texts = TEMPLATES.get(template)
    if texts is None:
        raise KeyError(f"unknown message template {template!r}: it is not one of alarms.messages.TEMPLATE_KEYS")
    language = normalise_language(language)
    text = texts[language]
    values = _Values(_derived(template, language, params))
    values.update({key: str(value) for key, value in params.items()})
    return Rendered(
        subject=text.subject.format_map(values),
        body=text.body.format_map(values),
        short=to_gsm7(text.short.format_map(values)),
    )


def _derived(template: str, language: str, params: Mapping[str, str]) -> dict[str, str]:
    """The phrases built from the raw parameters (a given parameter of the same name wins)."""
    words = _WORDS[language]
    zone = params.get("zone") or ""
    room = params.get("room") or ""
    time = params.get("time") or ""
    user = params.get("user") or ""
    if zone and room and room.casefold() != zone.casefold():
        where, where_spoken = f"{zone} ({room})", f"{zone}, {room}"
    else:
        where = where_spoken = zone or room or MISSING

    values = {
        "where": where,
        "where_spoken": f", {words.zone} {where_spoken}" if where_spoken != MISSING else "",
        "at": f" {words.at} {time}" if time else "",
        "by_user": f" {words.by} {user}" if user else "",
        "confirmed_note": words.confirmed if params.get("confirmed") == "yes" else "",
        "restore_label": words.restore if params.get("restore") == "yes" else "",
        "centre_detail": _centre_detail(words, params, where),
    }

    incident_kind = _incident_kind(params.get("incident_kind"))
    if incident_kind is not None:
        values["incident_label"] = _INCIDENT_LABEL[incident_kind][language]
        values["incident_title"] = values["incident_label"].capitalize()
        alarm = _ALARMS.get(incident_kind, {}).get(language)
        values["advice"] = "\n".join(f"- {step}" for step in alarm.steps) if alarm else ""
    else:
        values["advice"] = ""

    channel = params.get("channel")
    if channel:
        values["channel_name"] = _CHANNEL_LABEL.get(channel, {}).get(language, channel)

    anomaly_kind = _TEMPLATE_ANOMALY.get(template) or _anomaly_kind(params.get("anomaly_kind"))
    if anomaly_kind is not None:
        values["anomaly_label"] = manual_entry(anomaly_kind, language).title
        values["manual"] = manual_steps(anomaly_kind, language)
    return values


def _centre_detail(words: _Words, params: Mapping[str, str], where: str) -> str:
    parts: list[str] = []
    zone_id = params.get("zone_id")
    if zone_id and where != MISSING and where != zone_id:
        parts.append(f"{words.zone} {zone_id} {where}")
    elif zone_id or where != MISSING:
        parts.append(f"{words.zone} {zone_id or where}")
    if params.get("user"):
        parts.append(f"{words.user} {params['user']}")
    if params.get("incident"):
        parts.append(f"{words.incident} {params['incident']}")
    return "".join(f" - {part}" for part in parts)


def _incident_kind(value: str | None) -> IncidentKind | None:
    for kind in INCIDENT_KINDS:
        if kind == value:
            return kind
    return None


def _anomaly_kind(value: str | None) -> AnomalyKind | None:
    for kind in ANOMALY_KINDS:
        if kind == value:
            return kind
    return None
