// What the pairing form asks of a new device (issue 17, item 6): the room, chosen among the rooms
// in use or created on purpose (the hub refuses an unknown room without `new_room`: a typo never
// makes a room), and for each zone its behaviour, the armed modes that watch it, the chime and,
// when the house has several areas, the areas it belongs to (the first one unless chosen).
// The form opens with the hub's proposal (the candidate's, by kind), and follows the proposal
// for the name and room typed (GET /api/v1/pairing/proposal) until the installer changes a choice.
import { addTexts, t } from "./i18n.js";
import { api, debounce, h } from "./ui.js";
import "./areas.js"; // its texts: "areas.required"

// The armed modes in the order people think of them (alarms.model.ARM_TARGETS: the same four).
const MODES = ["home", "night", "away", "vacation"];
// An intrusion zone's behaviours (alarms.model.Behaviour but 24h); the other kinds are always 24h.
const BEHAVIOURS = ["instant", "entry", "follower"];
const INTRUSION = ["motion", "contact", "camera"];
const NEW_ROOM = "\u0000new"; // the select's "new room" option: no room can be called this
const PLACES = ["window", "door", "front_door"];

addTexts({
  it: {
    "pc.room_none": "Nessuna stanza", "pc.room_new": "Nuova stanza…", "pc.room_new_name": "Come si chiama la nuova stanza",
    "pc.room_new_required": "Scrivi il nome della nuova stanza.",
    "pc.room_unknown": "Questa stanza non esiste: sceglila dall'elenco o creala come nuova stanza.",
    "pc.modes": "Sorvegliata quando l'impianto è inserito in",
    "pc.modes_required": "Scegli almeno una modalità: una zona che nessuna modalità sorveglia non darebbe mai l'allarme.",
    "pc.chime": "Campanello: un bip quando si apre a impianto disinserito",
    "pc.b.instant": "Immediata", "pc.b.entry": "Ingresso (con ritardo)", "pc.b.follower": "A seguire (dopo un ingresso)",
    "pc.proposal": "Proposta: {behaviour}, sorvegliata in {modes}.",
    "pc.proposal_24h": "Sempre attiva (24 ore), anche a impianto disinserito.",
    "pc.place.window": "È una finestra: dà l'allarme subito, mai con il ritardo d'ingresso.",
    "pc.place.door": "È una porta: dà l'allarme subito (il ritardo è solo per la porta d'ingresso).",
    "pc.place.front_door": "È la porta d'ingresso: dà il tempo di disinserire entrando.",
    "pc.areas": "Fa parte delle aree",
  },
  en: {
    "pc.room_none": "No room", "pc.room_new": "New room…", "pc.room_new_name": "What the new room is called",
    "pc.room_new_required": "Write the name of the new room.",
    "pc.room_unknown": "This room does not exist: choose it from the list or create it as a new room.",
    "pc.modes": "Watched while the system is armed in",
    "pc.modes_required": "Choose at least one mode: a zone no mode watches would never raise the alarm.",
    "pc.chime": "Chime: a beep when it opens while disarmed",
    "pc.b.instant": "Instant", "pc.b.entry": "Entry (delayed)", "pc.b.follower": "Follower (after an entry)",
    "pc.proposal": "Proposed: {behaviour}, watched in {modes}.",
    "pc.proposal_24h": "Always active (24 hours), also while disarmed.",
    "pc.place.window": "A window: it raises the alarm at once, never after the entry delay.",
    "pc.place.door": "A door: it raises the alarm at once (the delay is for the front door only).",
    "pc.place.front_door": "The front door: it gives you time to disarm when you come in.",
    "pc.areas": "Belongs to the areas",
  },
});

// The room: a select of the rooms in use, "no room" and "new room…" (which shows a name field).
export function roomChoice(id, labelKey) {
  const select = h("select", { id, onchange: () => shown() });
  const name = h("input", { id: `${id}-new`, maxlength: 64, autocomplete: "off" });
  const newField = h("div", { class: "field", hidden: true }, h("label", { for: name.id }, t("pc.room_new_name")), name);
  let rooms = [];

  function shown() {
    newField.hidden = select.value !== NEW_ROOM;
  }

  function setRooms(list) {
    if (JSON.stringify(list) === JSON.stringify(rooms)) return; // unchanged: keep the choice and focus
    const chosen = select.value;
    rooms = list;
    select.replaceChildren(
      h("option", { value: "" }, t("pc.room_none")),
      ...rooms.map((r) => h("option", { value: r }, r)),
      h("option", { value: NEW_ROOM }, t("pc.room_new")),
    );
    select.value = chosen && (chosen === NEW_ROOM || rooms.includes(chosen)) ? chosen : "";
    shown();
  }

  // {room, new_room?} for the request, or an error text.
  function value() {
    if (select.value !== NEW_ROOM) return { room: select.value };
    const typed = name.value.trim().replace(/\s+/g, " ");
    if (!typed) return { error: t("pc.room_new_required"), focus: name };
    return { room: typed, new_room: true };
  }

  const current = () => (select.value === NEW_ROOM ? name.value.trim() : select.value);
  const el = h("div", {}, h("div", { class: "field" }, h("label", { for: id }, t(labelKey)), select), newField);
  setRooms([]);
  return { el, setRooms, value, current, inputs: [select, name] };
}

// A zone's choices: behaviour (intrusion kinds), modes and chime, pre-filled with the proposal;
// the areas (every kind) when the hub lists several, the first one checked.
export function zoneChoice(id, kindSelect, proposals) {
  const behaviour = h("select", { id: `${id}-behaviour`, onchange: () => { touched = true; } },
    BEHAVIOURS.map((b) => h("option", { value: b }, t(`pc.b.${b}`)))); // short: a phone shows them whole
  const boxes = MODES.map((m) => h("input", { type: "checkbox", id: `${id}-mode-${m}`, value: m, onchange: () => { touched = true; } }));
  const chime = h("input", { type: "checkbox", id: `${id}-chime` });
  const hint = h("p", { class: "muted", id: `${id}-proposal`, role: "status" });
  const behaviourField = h("div", { class: "field" }, h("label", { for: behaviour.id }, t("pair.behaviour")), behaviour);
  const modes = h(
    "fieldset",
    { class: "plain modes-choice", id: `${id}-modes` },
    h("legend", {}, t("pc.modes")),
    MODES.map((m, i) => h("label", { class: "toggle" }, boxes[i], t(`arm.${m}`))),
  );
  const chimeField = h("label", { class: "toggle" }, chime, t("pc.chime"));
  const areasField = h("fieldset", { class: "plain areas-choice", id: `${id}-areas`, hidden: true });
  let areaBoxes = [];
  let areas = [];
  let touched = false; // the installer chose: the proposal no longer overwrites the form
  let proposal = null;

  function apply(p) {
    proposal = p;
    const intrusion = INTRUSION.includes(kindSelect.value);
    behaviourField.hidden = !intrusion;
    modes.hidden = !intrusion;
    if (!p) return;
    if (!touched && intrusion) {
      behaviour.value = p.behaviour;
      boxes.forEach((box) => { box.checked = p.modes.includes(box.value); });
    }
    const words = MODES.filter((m) => p.modes.includes(m)).map((m) => t(`arm.${m}`).toLowerCase());
    const place = PLACES.includes(p.place) ? ` ${t(`pc.place.${p.place}`)}` : "";
    hint.textContent = intrusion
      ? t("pc.proposal", { behaviour: t(`pc.b.${p.behaviour}`).toLowerCase(), modes: words.join(", ") }) + place
      : t("pc.proposal_24h");
  }

  // The proposal for the name and room as typed (the candidate's by kind until then).
  async function refresh(name, room) {
    const kind = kindSelect.value;
    if (!name && !room) {
      apply(proposals?.[kind] || null);
      return;
    }
    try {
      const query = new URLSearchParams({ kind, name: name.slice(0, 64), room: room.slice(0, 64) });
      const p = await api("GET", `/api/v1/pairing/proposal?${query}`);
      if (p.kind === kindSelect.value) apply(p); // the kind changed meanwhile: a newer answer follows
    } catch {
      apply(proposals?.[kind] || proposal); // an older hub: keep what the form shows
    }
  }

  // The areas ({id, name}) the hub lists: checkboxes when there are several (one: nothing shows).
  function setAreas(list) {
    if (JSON.stringify(list || []) === JSON.stringify(areas)) return; // unchanged: keep the choice
    const chosen = new Set(areaBoxes.filter((box) => box.checked).map((box) => box.value));
    areas = list || [];
    // One area: no checkbox at all (not even hidden), as if the house had no areas.
    areaBoxes = (areas.length > 1 ? areas : []).map((a, i) => h("input", {
      type: "checkbox", id: `${id}-area-${a.id}`, value: a.id, checked: chosen.size ? chosen.has(a.id) : i === 0,
    }));
    areasField.replaceChildren(...(areaBoxes.length ? [h("legend", {}, t("pc.areas")), ...areas.map((a, i) => h("label", { class: "toggle" }, areaBoxes[i], a.name))] : []));
    areasField.hidden = areas.length < 2;
  }

  // The zone for the request, or an error text.
  function value() {
    const zone = { kind: kindSelect.value, chime: chime.checked };
    if (areas.length > 1) {
      zone.areas = areaBoxes.filter((box) => box.checked).map((box) => box.value);
      if (!zone.areas.length) return { error: t("areas.required"), focus: areaBoxes[0] };
    }
    if (!INTRUSION.includes(zone.kind)) return { zone };
    zone.behaviour = behaviour.value;
    zone.modes = MODES.filter((m, i) => boxes[i].checked);
    if (!zone.modes.length) return { error: t("pc.modes_required"), focus: boxes[0] };
    return { zone };
  }

  const el = h("div", { class: "zone-choice" }, hint, behaviourField, modes, chimeField, areasField);
  return {
    el,
    value,
    setAreas,
    refresh,
    later: debounce(refresh, 250),
    kindChanged: () => { touched = false; },
  };
}
