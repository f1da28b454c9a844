// Sirens, water valves and relays (issue 16) on the dashboard: what the home page says of them
// (a siren sounding, a valve a leak closed, with "Riapri l'acqua" for the owner), the list on
// the pairing page with its "Prova" button and settings, and the walk test's outputs to try.
// The hub's JSON is GET /api/v1/outputs and the system snapshot's `outputs` (hub/core/views.py
// output_json): `state` is what people need ("sounding"/"silent", "closed"/"open", "on"/"off").
import { addTexts, language, t } from "./i18n.js";
import { ME, api, errorText, h, section } from "./ui.js";

addTexts({
  it: {
    "out.kind.siren": "sirena", "out.kind.valve": "valvola dell'acqua", "out.kind.switch": "relè",
    "out.state.sounding": "suona", "out.state.silent": "in silenzio", "out.state.closed": "chiusa",
    "out.state.open": "aperta", "out.state.on": "acceso", "out.state.off": "spento",
    "out.pending": "comando inviato, in attesa di conferma",
    "out.home.sounding": "La sirena suona: {name}", "out.home.closed": "Acqua chiusa: {name}",
    "out.home.closed_water": "Una perdita d'acqua ha chiuso la valvola. Resta chiusa finché non la riapri tu, dopo aver controllato.",
    "out.home.closed_other": "La valvola è chiusa.",
    "out.home.open_water": "Riapri l'acqua", "out.home.open_label": "Riapri l'acqua: {name}",
    "out.home.owner_only": "Solo il proprietario può riaprire l'acqua, con il codice.",
    "keypad.open_water": "Codice per riaprire l'acqua", "out.not_closed": "La valvola è già aperta.",
    "out.section": "Sirene, valvole e relè",
    "out.intro": "Cosa fa la casa da sola: le sirene suonano per gli allarmi, la valvola chiude l'acqua se c'è una perdita. Prova ciascuna a impianto disinserito.",
    "out.none": "Nessuna sirena, valvola o relè abbinato.",
    "out.test": "Prova", "out.test_label": "Prova {name}", "out.tested": "Prova inviata: {name}",
    "out.test.armed": "Disinserisci l'impianto per provarla.", "out.test.sounding": "Sta già suonando: riprova quando smette.",
    "out.test.water_closed": "Chiusa per una perdita d'acqua: riaprila con il codice prima di provarla.",
    "out.test_hint.siren": "La sirena suona piano per 2 secondi.",
    "out.test_hint.valve": "La valvola si chiude e dopo 30 secondi si riapre.",
    "out.test_hint.switch": "Il relè si accende per 2 secondi.",
    "out.edit": "Impostazioni", "out.edit_label": "Impostazioni di {name}", "out.save": "Salva", "out.saved": "Salvato.",
    "out.name": "Nome", "out.room": "Stanza", "out.on": "Entra in funzione per",
    "out.chime": "Suono breve all'apertura delle porte con campanello (impianto disinserito)",
    "out.squawk": "Suono breve quando si inserisce e si disinserisce",
    "out.armed_note": "Con l'impianto inserito non si cambia nulla.",
    "out.walk": "Sirene e valvole da provare", "out.walk_tested": "provata alle {time}", "out.walk_untested": "non ancora provata",
    "reason.siren_offline": "sirena non raggiungibile",
  },
  en: {
    "out.kind.siren": "siren", "out.kind.valve": "water valve", "out.kind.switch": "relay",
    "out.state.sounding": "sounding", "out.state.silent": "silent", "out.state.closed": "closed",
    "out.state.open": "open", "out.state.on": "on", "out.state.off": "off",
    "out.pending": "command sent, waiting for the device to confirm",
    "out.home.sounding": "The siren is sounding: {name}", "out.home.closed": "Water shut off: {name}",
    "out.home.closed_water": "A water leak closed the valve. It stays closed until you open it again, once you have checked.",
    "out.home.closed_other": "The valve is closed.",
    "out.home.open_water": "Open the water", "out.home.open_label": "Open the water: {name}",
    "out.home.owner_only": "Only the owner can open the water again, with the code.",
    "keypad.open_water": "Code to open the water", "out.not_closed": "The valve is already open.",
    "out.section": "Sirens, valves and relays",
    "out.intro": "What the house does by itself: sirens sound for alarms, the valve shuts the water off on a leak. Try each one while the system is disarmed.",
    "out.none": "No siren, valve or relay paired.",
    "out.test": "Test", "out.test_label": "Test {name}", "out.tested": "Test sent: {name}",
    "out.test.armed": "Disarm the system to test it.", "out.test.sounding": "It is sounding now: try again when it stops.",
    "out.test.water_closed": "Closed by a water leak: open it with the code before testing it.",
    "out.test_hint.siren": "The siren sounds softly for 2 seconds.",
    "out.test_hint.valve": "The valve closes and opens again 30 seconds later.",
    "out.test_hint.switch": "The relay switches on for 2 seconds.",
    "out.edit": "Settings", "out.edit_label": "Settings of {name}", "out.save": "Save", "out.saved": "Saved.",
    "out.name": "Name", "out.room": "Room", "out.on": "Acts for",
    "out.chime": "Short beep when a door with a chime opens (system disarmed)",
    "out.squawk": "Short beep when the system is armed and disarmed",
    "out.armed_note": "Nothing changes while the system is armed.",
    "out.walk": "Sirens and valves to test", "out.walk_tested": "tested at {time}", "out.walk_untested": "not tested yet",
    "reason.siren_offline": "siren offline",
  },
});

// What can drive each kind, as the hub checks it (hub/web/outputs_api.py DRIVEN_BY).
const DRIVEN_BY = {
  siren: ["intrusion", "fire", "panic"],
  valve: ["water"],
  switch: ["fire", "water", "intrusion", "power", "panic", "tamper"],
};
const INSTALLERS = ["owner", "installer"];

const where = (o) => (o.room ? `${o.name} (${o.room})` : o.name);
const path = (o, tail = "") => `/api/v1/outputs/${encodeURIComponent(o.id)}${tail}`;

function clock(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString(language() === "it" ? "it-IT" : "en-GB", { hour: "2-digit", minute: "2-digit" });
}

// A siren sounding right now for an alarm or a test: the home page says "La sirena suona" only
// then. Its `state` is "sounding" (the device says so, or it cannot say and the hub asked it), and
// the hub wants a sound: a one-second beep (door chime, arming squawk, the water alarm's beep)
// sounds too, but is no news to flash on the home page.
const SOUNDS = ["burglar", "fire", "emergency"];
export const sounding = (o) => o.kind === "siren" && o.state === "sounding" && SOUNDS.includes(o.wanted);
export const sirenSounds = (system) => (system?.outputs || []).some(sounding);
export const valveClosed = (o) => o.kind === "valve" && o.state === "closed";

// Replace one output in the system snapshot with a fresher one (a live `output` message).
export function patchSystem(system, output) {
  if (!system || !output) return;
  const list = system.outputs || [];
  const index = list.findIndex((o) => o.id === output.id);
  if (index >= 0) list[index] = output;
  else list.push(output);
  system.outputs = list;
}

// The home page's block: every siren sounding, every valve closed (the owner can open it with
// the code: `openWater(output)` opens the keypad). Empty when nothing is happening.
export function homeOutputs(system, openWater) {
  const outputs = system?.outputs || [];
  const loud = outputs.filter(sounding);
  const closed = outputs.filter(valveClosed);
  if (!loud.length && !closed.length) return "";
  const owner = ME.role === "owner";
  return h(
    "section",
    { class: "block outputs-home", id: "home-outputs-list", "aria-live": "polite" },
    loud.map((o) => h("p", { class: "output-sounding", "data-output": o.id, "data-state": o.state }, t("out.home.sounding", { name: where(o) }))),
    closed.map((o) =>
      h("div", { class: "output-closed", "data-output": o.id, "data-state": o.state },
        h("p", { class: "output-closed-title" }, t("out.home.closed", { name: where(o) })),
        h("p", {}, t(o.closed_by_water ? "out.home.closed_water" : "out.home.closed_other")),
        owner
          ? h("button", { type: "button", class: "primary", id: `open-water-${o.id}`, "aria-label": t("out.home.open_label", { name: where(o) }), onclick: () => openWater(o) }, t("out.home.open_water"))
          : h("p", { class: "muted" }, t("out.home.owner_only")))),
  );
}

// ------------------------------------------------------------------ the pairing page's list
function testRefusal(exc) {
  const code = exc?.body?.error;
  if (code === "system_armed") return t("out.test.armed");
  if (code === "sounding") return t("out.test.sounding");
  if (code === "water_closed") return t("out.test.water_closed");
  return errorText(exc);
}

// A "Prova" button: the hub tries the output (disarmed only) and answers its new JSON.
export function testButton(output, { armed, onDone, status }) {
  return h("button", {
    type: "button",
    id: `test-${output.id}`,
    "aria-label": t("out.test_label", { name: output.name }),
    disabled: armed,
    onclick: async () => {
      status.textContent = "";
      status.className = "ok";
      try {
        const answer = await api("POST", path(output, "/test"), {});
        status.textContent = t("out.tested", { name: output.name });
        onDone?.(answer);
      } catch (exc) {
        status.className = "error";
        status.textContent = testRefusal(exc);
      }
    },
  }, t("out.test"));
}

function badges(o) {
  return [
    h("span", { class: `badge ${["sounding", "closed", "on"].includes(o.state) ? "warn" : "good"}`, "data-state": o.state }, t(`out.state.${o.state}`)),
    h("span", { class: `badge ${o.online ? "good" : "bad"}` }, o.online ? t("online") : t("offline")),
    o.tamper ? h("span", { class: "badge bad" }, t("tamper")) : "",
    o.battery_low ? h("span", { class: "badge warn" }, t("battery_low")) : "",
  ];
}

function outputCard(output, mode) {
  let current = output;
  const heading = h("h3", {});
  const facts = h("p", { class: "muted" });
  const status = h("p", { role: "status", class: "ok" });
  const armed = Boolean(mode && mode !== "disarmed");
  const id = `out-${output.id.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  const name = h("input", { id: `${id}-name`, required: true, maxlength: 64, autocomplete: "off" });
  const room = h("input", { id: `${id}-room`, maxlength: 64, autocomplete: "off" });
  const boxes = DRIVEN_BY[output.kind].map((kind) => h("input", { type: "checkbox", id: `${id}-on-${kind}`, value: kind }));
  const chime = h("input", { type: "checkbox", id: `${id}-chime` });
  const squawk = h("input", { type: "checkbox", id: `${id}-squawk` });
  const siren = output.kind === "siren";
  const form = h(
    "form",
    { class: "edit-form", id: `${id}-edit`, hidden: true, onsubmit: (event) => { event.preventDefault(); save(); } },
    h("label", { for: name.id }, t("out.name")), name,
    h("label", { for: room.id }, t("out.room")), room,
    h("fieldset", { class: "plain" }, h("legend", {}, t("out.on")),
      boxes.map((box) => h("label", { class: "toggle", for: box.id }, box, t(`incident.kind.${box.value}`)))),
    siren ? h("label", { class: "toggle", for: chime.id }, chime, t("out.chime")) : "",
    siren ? h("label", { class: "toggle", for: squawk.id }, squawk, t("out.squawk")) : "",
    h("div", { class: "row" },
      h("button", { type: "submit", class: "primary" }, t("out.save")),
      h("button", { type: "button", onclick: () => show(false) }, t("cancel"))),
  );
  const edit = h("button", { type: "button", "aria-expanded": "false", "aria-controls": form.id, disabled: armed, onclick: () => show(form.hidden) }, t("out.edit"));

  function show(open) {
    form.hidden = !open;
    edit.setAttribute("aria-expanded", String(open));
    if (!open) return;
    name.value = current.name;
    room.value = current.room || "";
    for (const box of boxes) box.checked = current.on.includes(box.value);
    chime.checked = current.chime;
    squawk.checked = current.squawk;
    name.focus();
  }

  async function save() {
    status.textContent = "";
    status.className = "ok";
    const body = { name: name.value.trim(), room: room.value.trim(), on: boxes.filter((b) => b.checked).map((b) => b.value) };
    if (siren) Object.assign(body, { chime: chime.checked, squawk: squawk.checked });
    try {
      update(await api("PATCH", path(current), body));
      show(false);
      status.textContent = t("out.saved");
    } catch (exc) {
      status.className = "error";
      status.textContent = errorText(exc);
    }
  }

  function update(o) {
    current = o;
    heading.replaceChildren(h("strong", {}, o.name), ` (${t(`out.kind.${o.kind}`)}) `, ...badges(o));
    facts.textContent = [o.room, o.on.map((k) => t(`incident.kind.${k}`)).join(", "), o.pending ? t("out.pending") : ""]
      .filter(Boolean).join(" · ");
    edit.setAttribute("aria-label", t("out.edit_label", { name: o.name }));
  }

  const controls = INSTALLERS.includes(ME.role)
    ? h("div", { class: "row" }, testButton(output, { armed, status, onDone: update }), edit)
    : "";
  const el = h("li", { class: "zone output", "data-output": output.id },
    heading, facts, h("p", { class: "muted" }, t(`out.test_hint.${output.kind}`)), controls, form, status);
  update(output);
  return { el, update };
}

// The outputs on the pairing page: a card each, updated in place by live `output` messages.
export function outputsSection() {
  const list = h("ul", { class: "zones", id: "outputs" });
  const empty = h("p", { class: "muted", hidden: true }, t("out.none"));
  const note = h("p", { class: "muted", hidden: true }, t("out.armed_note"));
  const error = h("p", { class: "error", role: "alert" });
  const cards = new Map();
  let mode = null;

  async function load() {
    try {
      const [{ items }, system] = await Promise.all([api("GET", "/api/v1/outputs"), api("GET", "/api/v1/system")]);
      mode = system.mode;
      cards.clear();
      list.replaceChildren(...items.map((o) => {
        const card = outputCard(o, mode);
        cards.set(o.id, card);
        return card.el;
      }));
      empty.hidden = items.length > 0;
      note.hidden = mode === "disarmed";
      error.textContent = "";
    } catch (exc) {
      error.textContent = errorText(exc);
    }
  }

  const el = section("out.section", h("p", {}, t("out.intro")), note, error, empty, list);
  el.id = "outputs-section";
  return {
    el,
    load,
    onMessage(message) {
      if (message.type === "output" && message.output) cards.get(message.output.id)?.update(message.output);
      else if (message.type === "system" && message.system && message.system.mode !== mode) load();
      else if (message.type === "event" && ["output_changed", "output_removed"].includes(message.kind)) load();
    },
  };
}

// The walk test's outputs: each with when it was last tried (a test the device confirmed), and a
// "Prova" button. `since`: the running (or last) walk test's start, to tell this test's tries.
export function walkOutputs(items, since, mode) {
  if (!items?.length) return "";
  const status = h("p", { role: "status", class: "ok", id: "wt-outputs-status" });
  const armed = Boolean(mode && mode !== "disarmed");
  return h("div", { id: "wt-outputs" },
    h("h3", {}, t("out.walk")),
    h("ul", { class: "list" }, items.map((o) => {
      const tested = o.tested_at && (!since || Date.parse(o.tested_at) >= Date.parse(since));
      return h("li", { "data-output": o.id, class: tested ? "tested" : "untested" },
        h("strong", {}, o.name), ` · ${t(`out.kind.${o.kind}`)}`, o.room ? ` · ${o.room}` : "",
        ` · ${tested ? t("out.walk_tested", { time: clock(o.tested_at) }) : t("out.walk_untested")} `,
        INSTALLERS.includes(ME.role) ? testButton(o, { armed, status }) : "");
    })),
    status);
}
