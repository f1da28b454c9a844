// The history page: the hub's event log in people's words (it/en), filtered by human
// categories. Every kind of event the hub writes (engine inputs and log events, the shell's
// records, the API's audit rows) has a sentence here; a kind this file does not know reads as
// "Other system event", never as its internal name. The raw kind stays in the CSV export.
// Categories are filtered by the hub (GET /api/v1/events?category=), so paging stays exact.
import { addTexts, t } from "./i18n.js";
import { exclusionText } from "./zones.js";
import { api, debounce, errorText, h, when } from "./ui.js";

export const CATEGORIES = ["alarms", "arming", "zones", "devices", "faults", "access", "system"];

addTexts({
  it: {
    "history.category": "Categoria", "cat.alarms": "Allarmi", "cat.arming": "Inserimenti e disinserimenti",
    "cat.zones": "Zone ed esclusioni", "cat.devices": "Dispositivi e prova impianto", "cat.faults": "Guasti e anomalie",
    "cat.access": "Accessi, utenti e contatti", "cat.system": "Sistema e impostazioni",
    "who.hub": "dall'hub", "who.config": "dal file di configurazione", "who.clock": "dall'orologio dell'hub",
    "who.mqtt": "da Home Assistant", "who.supervision": "dal controllo dei dispositivi",
    "who.token": "da un accesso temporaneo", "who.device": "da un dispositivo", "who.by": "da {who}",
    "ev.other": "Altro evento dell'impianto", "ev.a_zone": "una zona", "ev.a_device": "un dispositivo",
    "ev.an_alarm": "allarme", "ev.from": "da {address}",
    "ev.incident_opened": "Allarme: {what}", "ev.activation_added": "Zona scattata: {zone} ({what})",
    "ev.incident_acknowledged": "Allarme preso in carico ({what})", "ev.incident_resolved": "Allarme chiuso ({what})",
    "ev.incident_cancelled": "Allarme annullato, disinserito in tempo ({what})", "ev.incident_other": "Allarme aggiornato ({what})",
    "ev.ack": "Presa in carico di un allarme", "ev.resolve": "Chiusura di un allarme",
    "ev.ack_noop": "Allarme già preso in carico", "ev.unknown_incident": "Richiesta su un allarme non più aperto",
    "ev.siren_on": "Comando alla sirena: suonare", "ev.siren_off": "Comando alla sirena: smettere",
    "ev.mode_changed": "Impianto: {mode}", "ev.arm_request": "Richiesta di inserimento ({mode})",
    "ev.arm_request_force": "Richiesta di inserimento ({mode}) escludendo le zone aperte",
    "ev.disarm_request": "Richiesta di disinserimento", "ev.arm_refused": "Inserimento rifiutato",
    "ev.arm_refused_zones": "Inserimento rifiutato, zone non pronte: {zones}",
    "ev.arm_failed": "Inserimento non riuscito: {zone} non pronta",
    "ev.arm_noop": "Era già inserito: nessun cambiamento", "ev.disarm_noop": "Era già disinserito: nessun cambiamento",
    "ev.bad_code": "Codice di allarme errato", "ev.code_outside_window": "Codice temporaneo rifiutato: fuori dal periodo in cui vale",
    "ev.schedule_added": "Programma aggiunto", "ev.schedule_removed": "Programma eliminato",
    "ev.schedule_run": "Programma eseguito", "ev.schedule_skipped": "Programma non eseguito: non c'era niente da fare",
    "ev.schedule_missed": "Programma saltato: all'ora prevista l'hub era spento o l'orologio è cambiato",
    "ev.schedule_not_ready": "Programma: allarme non inserito perché l'impianto non era pronto (avvisata la famiglia)",
    "ev.schedule_reminder": "Promemoria del programma: l'allarme è ancora disinserito",
    "ev.unknown_area": "Richiesta per un'area che non esiste",
    "ev.wrong_codes": "Troppi codici di allarme errati in un'ora: famiglia e centrale avvisate",
    "ev.wrong_code_limit": "Troppi codici di allarme errati ({n} in un'ora)", "ev.mode.home": "casa", "ev.mode.away": "fuori casa",
    "ev.mode.night": "notte", "ev.mode.vacation": "vacanza",
    "ev.zone_upsert": "Zona configurata: {zone}", "ev.zone_remove": "Rimozione della zona {zone}",
    "ev.zone_created": "Zona creata: {zone}", "ev.zone_changed": "Zona modificata: {zone}", "ev.zone_removed": "Zona rimossa: {zone}",
    "ev.zone_exclude": "Richiesta di esclusione: {zone}", "ev.zone_isolate": "Richiesta di isolamento: {zone} ({hours} h, {reason})",
    "ev.zone_include": "Richiesta di ripristino: {zone}",
    "ev.zone_excluded": "{zone}: {how}", "ev.how.open_at_arming": "esclusa perché aperta all'inserimento", "ev.how.isolate": "isolata (fuori servizio)",
    "ev.zone_included": "{zone}: di nuovo protetta", "ev.why.closed": "{zone}: di nuovo protetta (si è chiusa)",
    "ev.why.expired": "{zone}: di nuovo protetta (isolamento scaduto)", "ev.why.disarm": "{zone}: di nuovo protetta (disinserimento)",
    "ev.why.user": "{zone}: di nuovo protetta (ripristinata)", "ev.zone_bypassed": "{zone}: esclusa",
    "ev.exclusion_refused": "Esclusione rifiutata: {zone}",
    "ev.refused.24h_zone": "Esclusione rifiutata: {zone} è sempre attiva, si può solo isolare",
    "ev.refused.not_disarmed": "Esclusione rifiutata: l'impianto è inserito ({zone})",
    "ev.include_noop": "{zone}: era già protetta", "ev.zone_restored": "{zone}: tornata normale dopo l'allarme",
    "ev.swinger_shutdown": "{zone}: esclusa automaticamente (troppi allarmi)", "ev.unknown_zone": "Segnale da una zona non configurata",
    "ev.sensor.on": "{zone}: {state}", "ev.sensor.off": "{zone}: {state}",
    "ev.on.contact": "aperta", "ev.off.contact": "chiusa", "ev.on.motion": "movimento", "ev.off.motion": "a riposo",
    "ev.on.water": "acqua rilevata", "ev.off.water": "asciutto", "ev.on.smoke": "fumo rilevato", "ev.off.smoke": "niente fumo",
    "ev.on.power": "corrente mancante", "ev.off.power": "corrente tornata", "ev.on.panic": "pulsante premuto",
    "ev.off.panic": "pulsante rilasciato", "ev.on.camera": "movimento", "ev.off.camera": "a riposo",
    "ev.on.any": "attiva", "ev.off.any": "a riposo",
    "ev.device_health": "{device}: {what}", "ev.health.offline": "non raggiungibile", "ev.health.online": "di nuovo in linea",
    "ev.health.battery_low": "batteria scarica", "ev.health.battery_ok": "batteria a posto", "ev.health.tamper": "manomesso",
    "ev.health.tamper_off": "manomissione finita", "ev.health.none": "stato aggiornato",
    "ev.device_paired": "Dispositivo abbinato: {device}", "ev.device_removed": "Dispositivo rimosso: {device}",
    "ev.device_renamed": "Dispositivo rinominato: {was} → {device}", "ev.unknown_device": "Segnale da un dispositivo non abbinato",
    "ev.walk_test_start": "Richiesta di avvio della prova impianto", "ev.walk_test_stop": "Richiesta di fine della prova impianto",
    "ev.walk_test_started": "Prova impianto avviata", "ev.walk_test_started_for": "Prova impianto avviata per {n} minuti",
    "ev.walk_test_ended": "Prova impianto terminata", "ev.walk_test_noop": "Nessuna prova impianto in corso",
    "ev.walk_test_refused": "Prova impianto rifiutata", "ev.walk_test_activation": "Prova impianto: {zone} provata",
    "ev.camera_viewed": "Telecamera guardata in diretta", "ev.camera_snapshot": "Foto scattata dalla telecamera",
    "ev.snapshot_viewed": "Foto di un allarme guardata", "ev.camera_token_issued": "Collegamento della telecamera creato",
    "ev.camera_settings_changed": "Impostazioni delle telecamere cambiate",
    "ev.system_fault": "Guasto: {anomaly}", "ev.system_fault_off": "Guasto risolto: {anomaly}",
    "ev.anomaly_raised": "Anomalia: {anomaly}", "ev.anomaly_cleared": "Anomalia risolta: {anomaly}",
    "ev.clock_step": "L'orologio dell'hub è stato spostato ({delta})",
    "an.sensor_offline": "sensore non raggiungibile", "an.low_battery": "batteria scarica", "an.centre_unreachable": "centrale non raggiungibile",
    "an.channel_failure": "un canale di avviso non funziona", "an.hub_battery_low": "batteria dell'hub scarica",
    "an.storage_error": "errore della memoria dell'hub", "an.clock_unsynced": "orologio non sincronizzato",
    "an.backup_failed": "backup non riuscito", "an.no_notification_channel": "nessun canale per avvisare la famiglia",
    "an.output_failure": "sirena o valvola che non risponde",
    "an.sensor_inactive": "sensore che non segnala nulla da giorni",
    "an.other": "un problema dell'impianto",
    "ev.login": "Accesso al pannello", "ev.login_failed": "Accesso non riuscito (nome o password errati)",
    "ev.owner_created": "Proprietario creato (prima configurazione)", "ev.user_added": "Utente aggiunto: {user}",
    "ev.user_changed": "Utente modificato: {user}", "ev.user_removed": "Utente rimosso: {user}", "ev.language_changed": "Lingua cambiata",
    "ev.token_created": "Accesso temporaneo creato ({role})", "ev.token_revoked": "Accesso temporaneo revocato",
    "ev.contact_added": "Contatto aggiunto: {name}", "ev.contact_changed": "Contatto modificato: {name}", "ev.contact_removed": "Contatto rimosso: {name}",
    "ev.configure": "Impostazioni dell'allarme caricate", "ev.settings_changed": "Tempi dell'allarme cambiati",
    "ev.alarm_settings_saved": "Tempi dell'allarme cambiati dal pannello", "ev.alarm_settings_reset": "Tempi dell'allarme riportati ai valori dell'installatore",
    "ev.hub_started": "Hub avviato", "ev.test_messages_sent": "Messaggi di prova inviati",
    "ev.tick": "Scaduto un tempo dell'allarme (ritardo o durata)",
    "ev.an_output": "una sirena o valvola",
    "ev.output_command": "{output}: {action}", "ev.output_command_why": "{output}: {action} ({why})",
    "ev.act.burglar": "suona (intrusione)", "ev.act.fire": "suona (incendio)", "ev.act.emergency": "suona",
    "ev.act.stop": "smette di suonare", "ev.act.squawk_armed": "bip di inserimento", "ev.act.squawk_disarmed": "bip di disinserimento",
    "ev.act.chime": "bip", "ev.act.close": "chiude l'acqua", "ev.act.open": "riapre l'acqua", "ev.act.on": "si accende", "ev.act.off": "si spegne",
    "ev.act.other": "comando",
    "ev.cause.intrusion": "allarme intrusione", "ev.cause.fire": "allarme incendio", "ev.cause.panic": "emergenza",
    "ev.cause.water": "allarme acqua", "ev.cause.resume": "l'allarme intrusione continua", "ev.cause.time_over": "tempo della sirena finito",
    "ev.cause.disarm": "disinserimento", "ev.cause.armed": "inserito", "ev.cause.disarmed": "disinserito",
    "ev.cause.chime": "porta aperta", "ev.cause.owner": "riaperta dal proprietario", "ev.cause.test": "prova", "ev.cause.test_over": "fine della prova",
    "ev.output_status": "{output} conferma: {status}",
    "ev.st.sounding": "suona", "ev.st.silent": "in silenzio", "ev.st.closed": "acqua chiusa", "ev.st.open": "acqua aperta",
    "ev.st.on": "acceso", "ev.st.off": "spento",
    "ev.output_reported": "{output} dice: {status}",
    "ev.output_created": "Aggiunto all'impianto: {output}", "ev.output_changed": "Impostazioni cambiate: {output}",
    "ev.output_removed": "Tolto dall'impianto: {output}", "ev.output_upsert": "Configurazione di {output}",
    "ev.output_remove": "Richiesta di togliere {output}",
    "ev.output_failed": "{output} non ha eseguito il comando: {action}", "ev.unknown_output": "Comando per una sirena o valvola non configurata",
    "ev.output_test": "Richiesta di prova: {output}", "ev.output_test_refused": "Prova rifiutata: {output} ({why})",
    "ev.refused_out.not_disarmed": "l'impianto è inserito", "ev.refused_out.sounding": "stava già suonando",
    "ev.refused_out.water_closed": "chiusa per una perdita d'acqua", "ev.refused_out.other": "non possibile ora",
    "ev.output_open": "Richiesta di riaprire l'acqua: {output}", "ev.output_open_refused": "Riapertura rifiutata: {output} non è una valvola",
    "ev.output_tamper_tested": "Prova antimanomissione: {output}",
    "ev.armed_not_ready": "Inserito anche se {output} non è raggiungibile",
  },
  en: {
    "history.category": "Category", "cat.alarms": "Alarms", "cat.arming": "Arming and disarming",
    "cat.zones": "Zones and exclusions", "cat.devices": "Devices and walk test", "cat.faults": "Faults and anomalies",
    "cat.access": "Access, users and contacts", "cat.system": "System and settings",
    "who.hub": "by the hub", "who.config": "from the config file", "who.clock": "by the hub's clock",
    "who.mqtt": "by Home Assistant", "who.supervision": "by device supervision",
    "who.token": "by a temporary access", "who.device": "by a device", "who.by": "by {who}",
    "ev.other": "Other system event", "ev.a_zone": "a zone", "ev.a_device": "a device",
    "ev.an_alarm": "alarm", "ev.from": "from {address}",
    "ev.incident_opened": "Alarm: {what}", "ev.activation_added": "Zone tripped: {zone} ({what})",
    "ev.incident_acknowledged": "Alarm acknowledged ({what})", "ev.incident_resolved": "Alarm closed ({what})",
    "ev.incident_cancelled": "Alarm cancelled, disarmed in time ({what})", "ev.incident_other": "Alarm updated ({what})",
    "ev.ack": "An alarm acknowledged", "ev.resolve": "An alarm closed",
    "ev.ack_noop": "Alarm already acknowledged", "ev.unknown_incident": "Request about an alarm no longer open",
    "ev.siren_on": "Siren command: sound", "ev.siren_off": "Siren command: stop",
    "ev.mode_changed": "System: {mode}", "ev.arm_request": "Request to arm ({mode})",
    "ev.arm_request_force": "Request to arm ({mode}) excluding the open zones",
    "ev.disarm_request": "Request to disarm", "ev.arm_refused": "Arming refused",
    "ev.arm_refused_zones": "Arming refused, zones not ready: {zones}",
    "ev.arm_failed": "Arming failed: {zone} not ready",
    "ev.arm_noop": "Already armed: nothing changed", "ev.disarm_noop": "Already disarmed: nothing changed",
    "ev.bad_code": "Wrong alarm code", "ev.code_outside_window": "Temporary code refused: outside the times it is valid",
    "ev.schedule_added": "Schedule added", "ev.schedule_removed": "Schedule removed",
    "ev.schedule_run": "Schedule carried out", "ev.schedule_skipped": "Schedule not carried out: nothing to do",
    "ev.schedule_missed": "Schedule missed: the hub was off or the clock changed at the time",
    "ev.schedule_not_ready": "Schedule: not armed because the system was not ready (the household was told)",
    "ev.schedule_reminder": "Schedule reminder: the alarm is still off",
    "ev.unknown_area": "Request for an area that does not exist",
    "ev.wrong_codes": "Too many wrong alarm codes within an hour: household and centre told",
    "ev.wrong_code_limit": "Too many wrong alarm codes ({n} within an hour)", "ev.mode.home": "home", "ev.mode.away": "away",
    "ev.mode.night": "night", "ev.mode.vacation": "vacation",
    "ev.zone_upsert": "Zone set up: {zone}", "ev.zone_remove": "Removal of the zone {zone}",
    "ev.zone_created": "Zone created: {zone}", "ev.zone_changed": "Zone changed: {zone}", "ev.zone_removed": "Zone removed: {zone}",
    "ev.zone_exclude": "Request to exclude: {zone}", "ev.zone_isolate": "Request to isolate: {zone} ({hours} h, {reason})",
    "ev.zone_include": "Request to restore: {zone}",
    "ev.zone_excluded": "{zone}: {how}", "ev.how.open_at_arming": "excluded because it was open at arming", "ev.how.isolate": "isolated (out of service)",
    "ev.zone_included": "{zone}: protected again", "ev.why.closed": "{zone}: protected again (it closed)",
    "ev.why.expired": "{zone}: protected again (isolation over)", "ev.why.disarm": "{zone}: protected again (disarmed)",
    "ev.why.user": "{zone}: protected again (restored)", "ev.zone_bypassed": "{zone}: excluded",
    "ev.exclusion_refused": "Exclusion refused: {zone}",
    "ev.refused.24h_zone": "Exclusion refused: {zone} is always active, it can only be isolated",
    "ev.refused.not_disarmed": "Exclusion refused: the system is armed ({zone})",
    "ev.include_noop": "{zone}: was already protected", "ev.zone_restored": "{zone}: back to normal after the alarm",
    "ev.swinger_shutdown": "{zone}: excluded automatically (too many alarms)", "ev.unknown_zone": "Signal from a zone that is not set up",
    "ev.sensor.on": "{zone}: {state}", "ev.sensor.off": "{zone}: {state}",
    "ev.on.contact": "open", "ev.off.contact": "closed", "ev.on.motion": "movement", "ev.off.motion": "quiet",
    "ev.on.water": "water detected", "ev.off.water": "dry", "ev.on.smoke": "smoke detected", "ev.off.smoke": "no smoke",
    "ev.on.power": "mains power lost", "ev.off.power": "mains power back", "ev.on.panic": "button pressed",
    "ev.off.panic": "button released", "ev.on.camera": "movement", "ev.off.camera": "quiet",
    "ev.on.any": "active", "ev.off.any": "quiet",
    "ev.device_health": "{device}: {what}", "ev.health.offline": "unreachable", "ev.health.online": "back online",
    "ev.health.battery_low": "battery low", "ev.health.battery_ok": "battery fine", "ev.health.tamper": "tampered with",
    "ev.health.tamper_off": "tamper over", "ev.health.none": "condition updated",
    "ev.device_paired": "Device paired: {device}", "ev.device_removed": "Device removed: {device}",
    "ev.device_renamed": "Device renamed: {was} → {device}", "ev.unknown_device": "Signal from a device that is not paired",
    "ev.walk_test_start": "Request to start the walk test", "ev.walk_test_stop": "Request to stop the walk test",
    "ev.walk_test_started": "Walk test started", "ev.walk_test_started_for": "Walk test started for {n} minutes",
    "ev.walk_test_ended": "Walk test finished", "ev.walk_test_noop": "No walk test running",
    "ev.walk_test_refused": "Walk test refused", "ev.walk_test_activation": "Walk test: {zone} tested",
    "ev.camera_viewed": "Camera watched live", "ev.camera_snapshot": "Photo taken from the camera",
    "ev.snapshot_viewed": "Alarm photo viewed", "ev.camera_token_issued": "Camera link created",
    "ev.camera_settings_changed": "Camera settings changed",
    "ev.system_fault": "Fault: {anomaly}", "ev.system_fault_off": "Fault cleared: {anomaly}",
    "ev.anomaly_raised": "Anomaly: {anomaly}", "ev.anomaly_cleared": "Anomaly cleared: {anomaly}",
    "ev.clock_step": "The hub's clock was moved ({delta})",
    "an.sensor_offline": "sensor unreachable", "an.low_battery": "battery low", "an.centre_unreachable": "centre unreachable",
    "an.channel_failure": "an alert channel is not working", "an.hub_battery_low": "hub battery low",
    "an.storage_error": "the hub's storage is failing", "an.clock_unsynced": "clock not synchronised",
    "an.backup_failed": "backup failed", "an.no_notification_channel": "no channel to alert the household",
    "an.output_failure": "a siren or valve that does not respond",
    "an.sensor_inactive": "a sensor that has reported nothing for days",
    "an.other": "a problem with the system",
    "ev.login": "Logged in to the dashboard", "ev.login_failed": "Failed log-in (wrong name or password)",
    "ev.owner_created": "Owner created (first setup)", "ev.user_added": "User added: {user}",
    "ev.user_changed": "User changed: {user}", "ev.user_removed": "User removed: {user}", "ev.language_changed": "Language changed",
    "ev.token_created": "Temporary access created ({role})", "ev.token_revoked": "Temporary access revoked",
    "ev.contact_added": "Contact added: {name}", "ev.contact_changed": "Contact changed: {name}", "ev.contact_removed": "Contact removed: {name}",
    "ev.configure": "Alarm settings loaded", "ev.settings_changed": "Alarm timings changed",
    "ev.alarm_settings_saved": "Alarm timings changed in the dashboard", "ev.alarm_settings_reset": "Alarm timings back to the installer's values",
    "ev.hub_started": "Hub started", "ev.test_messages_sent": "Test messages sent",
    "ev.tick": "An alarm timer ran out (delay or duration)",
    "ev.an_output": "a siren or valve",
    "ev.output_command": "{output}: {action}", "ev.output_command_why": "{output}: {action} ({why})",
    "ev.act.burglar": "sounds (intrusion)", "ev.act.fire": "sounds (fire)", "ev.act.emergency": "sounds",
    "ev.act.stop": "stops sounding", "ev.act.squawk_armed": "arming beep", "ev.act.squawk_disarmed": "disarming beep",
    "ev.act.chime": "beep", "ev.act.close": "shuts the water off", "ev.act.open": "turns the water back on", "ev.act.on": "switches on", "ev.act.off": "switches off",
    "ev.act.other": "command",
    "ev.cause.intrusion": "intrusion alarm", "ev.cause.fire": "fire alarm", "ev.cause.panic": "emergency",
    "ev.cause.water": "water leak alarm", "ev.cause.resume": "the intrusion alarm goes on", "ev.cause.time_over": "siren time over",
    "ev.cause.disarm": "disarmed", "ev.cause.armed": "armed", "ev.cause.disarmed": "disarmed",
    "ev.cause.chime": "door opened", "ev.cause.owner": "opened by the owner", "ev.cause.test": "test", "ev.cause.test_over": "end of the test",
    "ev.output_status": "{output} confirms: {status}",
    "ev.st.sounding": "sounding", "ev.st.silent": "silent", "ev.st.closed": "water off", "ev.st.open": "water on",
    "ev.st.on": "on", "ev.st.off": "off",
    "ev.output_reported": "{output} says: {status}",
    "ev.output_created": "Added to the system: {output}", "ev.output_changed": "Settings changed: {output}",
    "ev.output_removed": "Taken out of the system: {output}", "ev.output_upsert": "Set up: {output}",
    "ev.output_remove": "Request to take out {output}",
    "ev.output_failed": "{output} did not carry out the command: {action}", "ev.unknown_output": "Command for a siren or valve that is not set up",
    "ev.output_test": "Request to test: {output}", "ev.output_test_refused": "Test refused: {output} ({why})",
    "ev.refused_out.not_disarmed": "the system is armed", "ev.refused_out.sounding": "it was sounding already",
    "ev.refused_out.water_closed": "closed by a water leak", "ev.refused_out.other": "not possible now",
    "ev.output_open": "Request to turn the water back on: {output}", "ev.output_open_refused": "Opening refused: {output} is not a valve",
    "ev.output_tamper_tested": "Tamper test: {output}",
    "ev.armed_not_ready": "Armed although {output} is unreachable",
  },
});

const ANOMALIES = ["sensor_offline", "low_battery", "centre_unreachable", "channel_failure", "hub_battery_low",
  "storage_error", "clock_unsynced", "backup_failed", "no_notification_channel", "output_failure",
  "sensor_inactive"];
const ZONE_KINDS = ["contact", "motion", "water", "smoke", "power", "panic", "camera"];
const HOWS = ["inhibit", "open_at_arming", "isolate", "auto"];
// Kinds whose sentence is the key "ev.<kind>" with no values to fill in but the common ones.
const PLAIN = new Set([
  "ack", "resolve", "ack_noop", "unknown_incident", "siren_on", "siren_off", "disarm_request", "arm_noop", "disarm_noop",
  "bad_code", "code_outside_window", "schedule_added", "schedule_removed", "schedule_run", "schedule_skipped",
  "schedule_missed", "schedule_not_ready", "schedule_reminder", "unknown_area", "wrong_codes", "zone_upsert", "zone_remove", "zone_include", "zone_removed", "zone_bypassed", "include_noop", "zone_restored",
  "swinger_shutdown", "unknown_zone", "arm_failed", "unknown_device", "walk_test_start", "walk_test_stop", "walk_test_ended",
  "walk_test_noop", "walk_test_refused", "walk_test_activation", "camera_viewed", "camera_snapshot", "snapshot_viewed",
  "camera_token_issued", "camera_settings_changed", "login", "login_failed", "owner_created", "language_changed",
  "token_revoked", "configure", "settings_changed", "alarm_settings_saved", "alarm_settings_reset", "hub_started",
  "test_messages_sent", "tick",
]);

const has = (key) => t(key) !== key;

// "<output>: <rest>", the detail the engine writes for the outputs' log events (alarms/output_rules.py).
function outputDetail(detail) {
  const text = String(detail || "");
  const at = text.lastIndexOf(": ");
  return at < 0 ? { id: text, rest: "" } : { id: text.slice(0, at), rest: text.slice(at + 2) };
}

// Who did it, in words ("da mario", "dall'hub"): a user's name as it is, the hub's own actors
// by what they are.
export function who(actor, ctx) {
  if (!actor) return "";
  if (["hub", "config", "clock", "mqtt", "supervision"].includes(actor)) return t(`who.${actor}`);
  if (actor.startsWith("device:")) {
    const name = ctx.devices.get(actor.slice(7))?.name;
    return name ? t("who.by", { who: name }) : t("who.device");
  }
  if (actor.startsWith("token:")) return t("who.token");
  return t("who.by", { who: actor });
}

function anomalyName(kind) {
  return t(ANOMALIES.includes(kind) ? `an.${kind}` : "an.other");
}

// The sentence for one event, from a capital letter. `ctx`: {zones: Map id -> zone, devices: Map id -> device}.
export function describe(e, ctx) {
  const text = sentence(e, ctx);
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function sentence(e, ctx) {
  const d = e.data || {};
  const zoneOf = (id) => (id ? ctx.zones.get(id)?.name || d.name || t("ev.a_zone") : t("ev.a_zone"));
  const zone = zoneOf(e.zone);
  const deviceOf = (id) => (id && ctx.devices.get(id)?.name) || d.name || t("ev.a_device");
  const what = d.kind && has(`incident.kind.${d.kind}`) ? t(`incident.kind.${d.kind}`) : t("ev.an_alarm");
  const kind = e.kind;
  const outputOf = (id) => (id ? ctx.outputs?.get(id)?.name || id : t("ev.an_output"));
  if (kind.startsWith("output_") || ["unknown_output", "armed_not_ready"].includes(kind)) return outputSentence(e, outputOf);
  switch (kind) {
    case "incident_opened":
    case "activation_added":
    case "incident_acknowledged":
    case "incident_resolved":
    case "incident_cancelled":
      return t(`ev.${kind}`, { what, zone });
    case "mode_changed":
      return t("ev.mode_changed", { mode: has(`mode.${d.new}`) ? t(`mode.${d.new}`) : "?" });
    case "arm_request": {
      const mode = has(`ev.mode.${d.mode}`) ? t(`ev.mode.${d.mode}`) : "?";
      return t(d.force ? "ev.arm_request_force" : "ev.arm_request", { mode });
    }
    case "arm_refused": {
      const zones = (d.not_ready || []).map((z) => zoneOf(Array.isArray(z) ? z[0] : z?.zone));
      return zones.length ? t("ev.arm_refused_zones", { zones: zones.join(", ") }) : t("ev.arm_refused");
    }
    case "zone_changed":
      return t(d.detail === "created" ? "ev.zone_created" : "ev.zone_changed", { zone });
    case "zone_exclude":
      return d.how === "isolate"
        ? t("ev.zone_isolate", { zone, hours: d.hours ?? "?", reason: d.reason || "—" })
        : t("ev.zone_exclude", { zone });
    case "zone_excluded": {
      const how = HOWS.includes(d.detail) ? d.detail : "inhibit";
      const phrase = has(`ev.how.${how}`) ? t(`ev.how.${how}`) : exclusionText({ how });
      return t("ev.zone_excluded", { zone, how: phrase });
    }
    case "zone_included":
      return t(has(`ev.why.${d.detail}`) ? `ev.why.${d.detail}` : "ev.zone_included", { zone });
    case "exclusion_refused":
      return t(has(`ev.refused.${d.detail}`) ? `ev.refused.${d.detail}` : "ev.exclusion_refused", { zone });
    case "sensor_changed": {
      const zkind = ctx.zones.get(e.zone)?.kind;
      const k = ZONE_KINDS.includes(zkind) ? zkind : "any";
      return t(d.active ? "ev.sensor.on" : "ev.sensor.off", { zone, state: t(`ev.${d.active ? "on" : "off"}.${k}`) });
    }
    case "device_health": {
      const parts = [];
      if (d.online === false) parts.push(t("ev.health.offline"));
      if (d.online === true) parts.push(t("ev.health.online"));
      if (d.battery_low === true) parts.push(t("ev.health.battery_low"));
      if (d.battery_low === false) parts.push(t("ev.health.battery_ok"));
      if (d.tamper === true) parts.push(t("ev.health.tamper"));
      if (d.tamper === false) parts.push(t("ev.health.tamper_off"));
      return t("ev.device_health", { device: deviceOf(d.device), what: parts.join(", ") || t("ev.health.none") });
    }
    case "device_paired":
    case "device_removed":
      return t(`ev.${kind}`, { device: deviceOf(d.device) });
    case "device_renamed":
      return t("ev.device_renamed", { device: d.name || deviceOf(d.device), was: d.was || "?" });
    case "walk_test_started": {
      const seconds = Number.parseFloat(d.detail);
      return Number.isFinite(seconds) ? t("ev.walk_test_started_for", { n: Math.round(seconds / 60) }) : t("ev.walk_test_started");
    }
    case "system_fault":
      return t(d.active === false ? "ev.system_fault_off" : "ev.system_fault", { anomaly: anomalyName(d.kind) });
    case "anomaly_raised":
    case "anomaly_cleared":
      return t(`ev.${kind}`, { anomaly: anomalyName(d.kind) });
    case "clock_step": {
      const delta = d.delta !== undefined ? `${d.delta >= 0 ? "+" : ""}${Number(d.delta).toFixed(1)} s` : d.detail || "?";
      return t("ev.clock_step", { delta });
    }
    case "user_added":
    case "user_changed":
    case "user_removed":
      return t(`ev.${kind}`, { user: d.user || "?" });
    case "contact_added":
    case "contact_changed":
    case "contact_removed":
      return t(`ev.${kind}`, { name: d.name || "?" });
    case "wrong_code_limit":
      return t("ev.wrong_code_limit", { n: d.count ?? "?" });
    case "token_created":
      return t("ev.token_created", { role: has(`role.${d.role}`) ? t(`role.${d.role}`) : "?" });
    default:
      if (kind.startsWith("incident_")) return t("ev.incident_other", { what });
      if (PLAIN.has(kind)) return t(`ev.${kind}`, { zone });
      return t("ev.other");
  }
}

// The sirens', valves' and relays' events: log events carry "<output>: ..." in `detail`, engine
// inputs their fields (output, status, action, id).
function outputSentence(e, outputOf) {
  const d = e.data || {};
  const { id, rest } = outputDetail(d.detail);
  const output = outputOf(d.output || d.id || id);
  switch (e.kind) {
    case "output_command": {
      const match = /^([a-z_]+)(?: \(([a-z_]+)\))?$/.exec(rest);
      const action = match && has(`ev.act.${match[1]}`) ? t(`ev.act.${match[1]}`) : t("ev.act.other");
      const why = match?.[2] && has(`ev.cause.${match[2]}`) ? t(`ev.cause.${match[2]}`) : "";
      return why ? t("ev.output_command_why", { output, action, why }) : t("ev.output_command", { output, action });
    }
    case "output_status":
    case "output_reported": {
      const status = d.status || rest;
      return t(`ev.${e.kind}`, { output, status: has(`ev.st.${status}`) ? t(`ev.st.${status}`) : status || "?" });
    }
    case "output_changed":
      return t(rest === "created" ? "ev.output_created" : "ev.output_changed", { output });
    case "output_failed": {
      const act = d.action || rest.split(" ")[0];
      return t("ev.output_failed", { output, action: has(`ev.act.${act}`) ? t(`ev.act.${act}`) : t("ev.act.other") });
    }
    case "output_test_refused":
      return t("ev.output_test_refused", { output, why: t(has(`ev.refused_out.${rest}`) ? `ev.refused_out.${rest}` : "ev.refused_out.other") });
    case "output_removed":
    case "output_tamper_tested":
      return t(`ev.${e.kind}`, { output: outputOf(d.detail) });
    default:
      return has(`ev.${e.kind}`) ? t(`ev.${e.kind}`, { output }) : t("ev.other");
  }
}

export function historyView(root) {
  const category = h("select", { id: "f-category" },
    h("option", { value: "" }, t("history.all")),
    CATEGORIES.map((c) => h("option", { value: c }, t(`cat.${c}`))));
  const zone = h("select", { id: "f-zone" }, h("option", { value: "" }, t("history.all")));
  const since = h("input", { id: "f-since", type: "date" });
  const until = h("input", { id: "f-until", type: "date" });
  const form = h(
    "form",
    { class: "filters", onsubmit: (e) => { e.preventDefault(); reset(); } },
    h("label", { for: "f-category" }, t("history.category")), category,
    h("label", { for: "f-zone" }, t("history.zone")), zone,
    h("label", { for: "f-since" }, t("history.since")), since,
    h("label", { for: "f-until" }, t("history.until")), until,
    h("div", { class: "row" },
      h("button", { type: "submit", class: "primary" }, t("history.apply")),
      h("button", { type: "button", id: "csv", onclick: () => exportCsv() }, t("history.csv"))),
  );
  const list = h("ol", { class: "events", id: "events" });
  const more = h("button", { type: "button", id: "more", onclick: () => load() }, t("history.more"));
  const end = h("p", { class: "muted", hidden: true }, t("history.end"));
  root.append(h("h1", {}, t("history.title")), form, list, more, end);
  let cursor = null;
  let done = false;
  let busy = false;
  const ctx = { zones: new Map(), devices: new Map(), outputs: new Map() };

  // Names first (a row says "Porta d'ingresso", not an id), then the first page.
  const names = Promise.all([
    api("GET", "/api/v1/zones").then(({ items }) => {
      for (const z of items) {
        ctx.zones.set(z.id, z);
        zone.append(h("option", { value: z.id }, z.name));
      }
    }),
    api("GET", "/api/v1/devices").then(({ items }) => {
      for (const d of items) ctx.devices.set(d.id, d);
    }),
    api("GET", "/api/v1/outputs").then(({ items }) => {
      for (const o of items) ctx.outputs.set(o.id, o);
    }).catch(() => {}), // an older hub has no outputs
  ]).catch(() => {});

  const query = (before) => {
    const q = new URLSearchParams({ limit: "50" });
    if (category.value) q.set("category", category.value);
    if (zone.value) q.set("zone", zone.value);
    // whole days in the hub's time zone, both included: the hub does the filtering
    if (since.value) q.set("since", since.value);
    if (until.value) q.set("until", until.value);
    if (before) q.set("before", before);
    return `/api/v1/events?${q}`;
  };
  const row = (e) => {
    const by = who(e.actor, ctx);
    const address = e.data?.address && e.data.address !== "?" ? ` · ${t("ev.from", { address: e.data.address })}` : "";
    return h("li", { "data-event": e.id },
      h("time", { datetime: e.at }, when(e.at)), " ",
      h("strong", {}, describe(e, ctx)),
      by ? ` · ${by}` : "",
      address);
  };

  async function load() {
    if (busy || done) return;
    busy = true;
    try {
      await names;
      const data = await api("GET", query(cursor));
      cursor = data.next;
      done = cursor === null;
      list.append(...data.items.map(row));
      if (done && !list.children.length) list.append(h("li", { class: "muted" }, t("history.empty")));
    } catch (exc) {
      list.append(h("li", { class: "error" }, errorText(exc)));
    } finally {
      busy = false;
      more.hidden = done;
      end.hidden = !done;
    }
  }

  function reset() {
    cursor = null;
    done = false;
    list.replaceChildren();
    load();
  }

  // The export keeps the raw kind (for scripts) and adds the sentence shown on screen.
  async function exportCsv() {
    const rows = [["id", "at", "kind", "zone", "actor", "incident", "anomaly", "data", "description"]];
    let before = null;
    for (let page = 0; page < 200; page++) {
      const data = await api("GET", query(before).replace("limit=50", "limit=500"));
      for (const e of data.items) {
        rows.push([e.id, e.at, e.kind, e.zone || "", e.actor || "", e.incident || "", e.anomaly || "", JSON.stringify(e.data), describe(e, ctx)]);
      }
      before = data.next;
      if (!before) break;
    }
    const csv = rows.map((r) => r.map((v) => `"${String(v).replaceAll('"', '""')}"`).join(",")).join("\r\n");
    const url = URL.createObjectURL(new Blob([`${csv}\r\n`], { type: "text/csv" }));
    const link = h("a", { href: url, download: `casahub-events-${new Date().toISOString().slice(0, 10)}.csv`, class: "visually-hidden" }, "csv");
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) load();
  });
  observer.observe(more);

  async function newest() {
    if (!list.firstElementChild?.dataset.event) return reset();
    const top = Number(list.firstElementChild.dataset.event);
    try {
      const data = await api("GET", query(null));
      const fresh = data.items.filter((e) => Number(e.id) > top);
      list.prepend(...fresh.map(row));
    } catch {
      /* shown on the next load */
    }
  }
  const later = debounce(newest, 300);
  load();
  return {
    refresh: later,
    onMessage: (m) => { if (m.type === "event") later(); },
    destroy: () => observer.disconnect(),
  };
}
