"""Fault (anomaly) texts: raised and cleared, for each anomaly kind; the body quotes the user
manual of the kind (alarms/manual.py) for what it means and how to fix it."""

from __future__ import annotations

from typing import NamedTuple

from alarms.manual import manual_entry
from alarms.messages.text import Text
from alarms.model import ANOMALY_KINDS, AnomalyKind


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
_OUTPUT_FAULT_DETAILS = {
    "it": "Uscita: {where}\nDispositivo: {device}\nOra: {time}",
    "en": "Output: {where}\nDevice: {device}\nTime: {time}",
}
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
    "output_failure": _OUTPUT_FAULT_DETAILS,
    "sensor_inactive": _DEVICE_FAULT_DETAILS,
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
    "output_failure": {
        "it": _Fault(
            subject="Guasto: {where} non risponde",
            short=(
                "casahub GUASTO: {where} non conferma i comandi{at}: in un allarme potrebbe non agire. "
                "Istruzioni nell'app."
            ),
            cleared_subject="Risolto: {where} risponde di nuovo",
            cleared_short="casahub: risolto, {where} risponde di nuovo ai comandi{at}.",
        ),
        "en": _Fault(
            subject="Fault: {where} not responding",
            short=(
                "casahub FAULT: {where} does not confirm commands{at}: it may not act in an alarm. Steps in the app."
            ),
            cleared_subject="Resolved: {where} responds again",
            cleared_short="casahub: resolved, {where} responds to commands again{at}.",
        ),
    },
    "sensor_inactive": {
        "it": _Fault(
            subject="Controllo: il sensore {where} non segnala nulla da giorni",
            short=(
                "casahub: il sensore {where} tace da giorni{at}. Provalo: potrebbe essere guasto. Istruzioni nell'app."
            ),
            cleared_subject="Risolto: il sensore {where} segnala di nuovo",
            cleared_short="casahub: risolto, il sensore {where} ha segnalato di nuovo{at}.",
        ),
        "en": _Fault(
            subject="Check: sensor {where} has reported nothing for days",
            short=("casahub: sensor {where} has been silent for days{at}. Try it: it may be broken. Steps in the app."),
            cleared_subject="Resolved: sensor {where} reports again",
            cleared_short="casahub: resolved, sensor {where} reported again{at}.",
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


def _fault_texts(kind: AnomalyKind, language: str, fault: _Fault) -> tuple[Text, Text]:
    entry = manual_entry(kind, language)
    details = _FAULT_DETAILS[kind][language]
    raised = Text(
        subject=fault.subject,
        body=(
            f"{entry.title}\n\n{entry.meaning}\n{_NOT_AN_ALARM[language]}\n\n{details}\n\n"
            f"{_HOW_TO_FIX[language]}\n{{manual}}"
        ),
        short=fault.short,
    )
    cleared = Text(
        subject=fault.cleared_subject,
        body=f"{_CLEARED_BODY[language]}\n\n{details}",
        short=fault.cleared_short,
    )
    return raised, cleared


ANOMALY_TEMPLATES: dict[str, dict[str, Text]] = {}
TEMPLATE_ANOMALY: dict[str, AnomalyKind] = {}  # the anomaly whose manual a template quotes
for _kind in ANOMALY_KINDS:
    _raised: dict[str, Text] = {}
    _cleared: dict[str, Text] = {}
    for _language, _fault in _FAULTS[_kind].items():
        _raised[_language], _cleared[_language] = _fault_texts(_kind, _language, _fault)
    ANOMALY_TEMPLATES[f"anomaly.{_kind}"] = _raised
    ANOMALY_TEMPLATES[f"anomaly.{_kind}.cleared"] = _cleared
    TEMPLATE_ANOMALY[f"anomaly.{_kind}"] = _kind
    TEMPLATE_ANOMALY[f"anomaly.{_kind}.cleared"] = _kind


ANOMALY_TEMPLATES["anomaly.other"] = {
    # Used when the anomaly cannot be found any more: still say that something needs attention.
    "it": Text(
        subject="Guasto dell'impianto",
        body="L'impianto ha segnalato un guasto{at} (anomalia {anomaly}). Apri il pannello di casahub per i dettagli.",
        short="casahub GUASTO: l'impianto ha segnalato un guasto{at}. Dettagli nell'app.",
    ),
    "en": Text(
        subject="System fault",
        body="The system has reported a fault{at} (anomaly {anomaly}). Open the casahub dashboard for details.",
        short="casahub FAULT: the system has reported a fault{at}. Details in the app.",
    ),
}
ANOMALY_TEMPLATES["anomaly.other.cleared"] = {
    "it": Text(
        subject="Risolto: guasto dell'impianto",
        body="Il guasto segnalato (anomalia {anomaly}) è stato risolto{at}. Non serve fare altro.",
        short="casahub: risolto il guasto segnalato{at}.",
    ),
    "en": Text(
        subject="Resolved: system fault",
        body="The reported fault (anomaly {anomaly}) has been resolved{at}. Nothing else to do.",
        short="casahub: the reported fault has been resolved{at}.",
    ),
}
