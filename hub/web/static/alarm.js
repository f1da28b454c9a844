// The alarm card of the home page: says what the alarm SMS says (alarms/messages/incidents.py), in the
// same words: what happened, where (zone and room), since when, and the one thing to do.
import { addTexts, t } from "./i18n.js";
import { h, when } from "./ui.js";

// Titles and actions are those of the SMS (alarms/messages/incidents.py ALARMS: title, action).
addTexts({
  it: {
    "alarm.title.fire": "Allarme incendio", "alarm.title.water": "Allarme acqua",
    "alarm.title.intrusion": "Allarme intrusione", "alarm.title.power": "Manca corrente",
    "alarm.title.panic": "Emergenza", "alarm.title.tamper": "Manomissione", "alarm.title.other": "Allarme",
    "alarm.action.fire": "Esci con tutti, chiudi le porte, chiama 115 o 112.",
    "alarm.action.water": "Chiudi la valvola generale; se l'acqua tocca prese stacca la corrente.",
    "alarm.action.intrusion": "Non entrare e non affrontare nessuno: chiama il 112 se serve.",
    "alarm.action.power": "Controlla il salvavita; se manca anche ai vicini è un guasto di rete.",
    "alarm.action.panic": "Pulsante premuto: chiama chi è in casa; se non risponde chiama il 112.",
    "alarm.action.tamper": "Dispositivo aperto o staccato; se nessuno ci lavora chiama il 112.",
    "alarm.action.other": "Verifica subito cosa succede in casa.",
    "alarm.where": "Zona: {where}", "alarm.since": "Dalle {time}", "alarm.todo": "Cosa fare:",
    "alarm.ack_hint": "Conferma qui di aver visto l'allarme: fermerà i promemoria e le chiamate.",
  },
  en: {
    "alarm.title.fire": "Fire alarm", "alarm.title.water": "Water leak",
    "alarm.title.intrusion": "Intrusion alarm", "alarm.title.power": "Power cut",
    "alarm.title.panic": "Emergency", "alarm.title.tamper": "Tamper alarm", "alarm.title.other": "Alarm",
    "alarm.action.fire": "Get everyone out, close doors, call 112 (115 in Italy).",
    "alarm.action.water": "Close the main water valve; if water reaches sockets, cut the power.",
    "alarm.action.intrusion": "Do not go in or confront anyone; if you see someone, call 112.",
    "alarm.action.power": "Check the RCD/main switch; if the street is out, call the grid operator.",
    "alarm.action.panic": "Panic button pressed: call whoever is at home; if no answer, call 112.",
    "alarm.action.tamper": "Device opened or removed; if nobody is working on it, call 112.",
    "alarm.action.other": "Check what is happening at home now.",
    "alarm.where": "Zone: {where}", "alarm.since": "Since {time}", "alarm.todo": "What to do:",
    "alarm.ack_hint": "Acknowledge the alarm here: this stops the reminders and calls.",
  },
});

const KINDS = ["fire", "water", "intrusion", "power", "panic", "tamper"];

// "Sensore acqua (Bagno)": the zone and its room, as the SMS writes {where}.
export function whereOf(activation, zones) {
  const zone = zones.get(activation.zone);
  const name = zone?.name || activation.name || activation.zone;
  return zone?.room ? `${name} (${zone.room})` : name;
}

// `zones`: Map id -> zone JSON (for the room); `buttons`: the acknowledge/resolve/details controls.
export function alarmCard(incident, zones, buttons) {
  const kind = KINDS.includes(incident.kind) ? incident.kind : "other";
  const where = [...new Set(incident.activations.map((a) => whereOf(a, zones)))].join(", ");
  return h(
    "article",
    { class: `card incident alarm incident-${incident.state}`, "data-incident": incident.id, role: incident.state === "active" ? "alert" : null },
    h("h2", { class: "alarm-title" }, t(`alarm.title.${kind}`), " ",
      h("span", { class: `badge state-${incident.state}` }, t(`incident.state.${incident.state}`))),
    h("p", { class: "alarm-where" }, t("alarm.where", { where })),
    h("p", { class: "muted" }, t("alarm.since", { time: when(incident.opened_at) }), incident.confirmed ? ` · ${t("confirmed")}` : ""),
    h("p", { class: "alarm-action" }, h("strong", {}, t("alarm.todo")), " ", t(`alarm.action.${kind}`)),
    incident.state === "active" ? h("p", { class: "muted" }, t("alarm.ack_hint")) : "",
    h("div", { class: "row" }, buttons),
  );
}
