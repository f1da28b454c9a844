// The home page of a house with several areas (issue 17, item 2): the whole house in one line
// above, then one card per area with its mode in words, its countdown, why it is not ready and
// its own buttons (arm in each of the four modes, disarm), each through the keypad with the area's
// routes (POST /api/v1/areas/{id}/arm and /disarm). With one area none of this shows: the home
// page is the one of a house without areas (app.js).
import { addTexts, t } from "./i18n.js";
import { h } from "./ui.js";

// The armed modes in the order people think of them (zones.js ARM_MODES, alarms.model.ARM_TARGETS).
const ARM_MODES = ["home", "night", "away", "vacation"];
// The whole house is the most urgent area (alarms/areas.py house_of): these say where it is.
const URGENT = ["triggered", "pending"];

addTexts({
  it: {
    "areas.title": "Aree",
    "areas.all": "Tutte le aree",
    "areas.partly": "Inserito in parte",
    "areas.where": "In: {areas}",
    "areas.line": "{area}: {mode}",
    "areas.disarm_all": "Disinserisci tutto",
    "areas.disarm": "Disinserisci {area}",
    "areas.arm_label": "Inserisci {area} in modalità {mode}",
    "areas.arm_title": "Inserisci {area}",
    "areas.switch_title": "Cambia la modalità di {area}",
    "areas.arm_in": "Inserisci in modalità", "areas.switch_to": "Passa alla modalità",
    "areas.not_ready": "Non pronta per {modes}: {zones}",
    "areas.ready": "Pronta per l'inserimento",
    "areas.forbidden": "Il tuo codice non vale per quest'area.",
    "areas.keypad": "{action} · {area}",
    "areas.field": "Aree",
    "areas.of": "Aree: {areas}",
    "areas.required": "Scegli almeno un'area.",
  },
  en: {
    "areas.title": "Areas",
    "areas.all": "Every area",
    "areas.partly": "Partly armed",
    "areas.where": "In: {areas}",
    "areas.line": "{area}: {mode}",
    "areas.disarm_all": "Disarm everything",
    "areas.disarm": "Disarm {area}",
    "areas.arm_label": "Arm {area} in {mode} mode",
    "areas.arm_title": "Arm {area}",
    "areas.switch_title": "Change the mode of {area}",
    "areas.arm_in": "Arm in the mode", "areas.switch_to": "Switch to the mode",
    "areas.not_ready": "Not ready for {modes}: {zones}",
    "areas.ready": "Ready to arm",
    "areas.forbidden": "Your code is not valid for this area.",
    "areas.keypad": "{action} · {area}",
    "areas.field": "Areas",
    "areas.of": "Areas: {areas}",
    "areas.required": "Choose at least one area.",
  },
});

// Whether the house has several areas: only then does anything about areas show.
export const severalAreas = (s) => Array.isArray(s?.areas) && s.areas.length > 1;

// The names of the area ids `ids` (an id the hub no longer lists stays as it is).
export function areaNames(ids, areas) {
  const names = new Map((areas || []).map((a) => [a.id, a.name]));
  return (ids || []).map((id) => names.get(id) || id);
}

// The area countdowns on screen: [{el, deadline, name}] (performance.now() based), ticked by app.js.
let countdowns = [];

export function tickAreas() {
  for (const c of countdowns) {
    const left = Math.max(0, Math.ceil((c.deadline - performance.now()) / 1000));
    c.el.textContent = t(`delay.${c.name}`, { s: left });
  }
}

// The whole house in words: where an alarm or an entry is, every area in the same mode, or partly armed.
function houseText(s) {
  for (const mode of URGENT) {
    const where = s.areas.filter((a) => a.mode === mode).map((a) => a.name);
    if (where.length) return { mode, text: t(`mode.${mode}`), line: t("areas.where", { areas: where.join(", ") }) };
  }
  const modes = new Set(s.areas.map((a) => a.mode));
  if (modes.size === 1) return { mode: s.mode, text: t(`mode.${s.areas[0].mode}`), line: t("areas.all") };
  return { mode: s.mode, text: t("areas.partly"), line: "" };
}

// The whole-house card's contents (app.js puts them in #mode-card): the mode line and each area's
// mode in one line (each area's countdown is in its card, where it says whose it is).
export function houseLine(s) {
  const { mode, text, line } = houseText(s);
  return {
    mode,
    children: [
      h("p", { id: "mode", "data-mode": s.mode, class: "mode-text" }, text),
      line ? h("p", { class: "mode-hint", id: "mode-hint" }, line) : "",
      h("ul", { class: "area-lines", id: "area-lines" },
        s.areas.map((a) => h("li", { "data-area": a.id }, t("areas.line", { area: a.name, mode: t(`mode.${a.mode}`) })))),
    ],
  };
}

const readyIn = (area, m) => (area.ready_modes ? area.ready_modes[m] !== false : Boolean(area.ready));

// One area's card: its name and mode, its countdown, its buttons and why it is not ready.
function areaCard(area, { household, openKeypad }) {
  const countdown = h("p", { class: "countdown area-countdown", "aria-live": "off" });
  const delay = Object.keys(area.delays || {}).find((name) => name !== "siren") || null;
  if (delay) countdowns.push({ el: countdown, deadline: performance.now() + area.delays[delay].remaining * 1000, name: delay });
  const canArm = household && (area.mode === "disarmed" || area.mode.startsWith("armed_"));
  const notReady = ARM_MODES.filter((m) => !readyIn(area, m));
  const why = (area.not_ready || []).map((z) => `${z.name} (${t(`reason.${z.reason}`)})`);
  const modes = ARM_MODES.filter((m) => area.mode !== `armed_${m}`);
  return h(
    "section",
    { class: `card area area-${area.mode}`, "data-area": area.id, "aria-labelledby": `area-${area.id}-name` },
    h("h2", { id: `area-${area.id}-name`, class: "area-name" }, area.name),
    h("p", { class: `area-mode mode-${area.mode}`, "data-mode": area.mode }, t(`mode.${area.mode}`)),
    countdown,
    household && area.mode !== "disarmed"
      ? h("button", { type: "button", class: "primary area-disarm", id: `area-${area.id}-disarm`, onclick: () => openKeypad("disarm", area) },
          t("areas.disarm", { area: area.name }))
      : "",
    canArm ? h("p", { class: "area-arm-title", "aria-hidden": "true" }, t(area.mode === "disarmed" ? "areas.arm_in" : "areas.switch_to")) : "",
    canArm
      ? h("div", { class: "area-arm", role: "group", "aria-label": t(area.mode === "disarmed" ? "areas.arm_title" : "areas.switch_title", { area: area.name }) },
          modes.map((m) => h("button", {
            type: "button",
            class: `area-arm-mode${readyIn(area, m) ? "" : " arm-not-ready"}`,
            id: `area-${area.id}-arm-${m}`,
            "data-mode": m,
            "aria-label": t("areas.arm_label", { area: area.name, mode: t(`arm.${m}`) }),
            onclick: () => openKeypad(`arm_${m}`, area),
          }, t(`arm.${m}`))))
      : "",
    area.mode !== "disarmed"
      ? ""
      : notReady.length
        ? h("p", { class: "arm-why area-why" },
            t("areas.not_ready", { modes: notReady.map((m) => t(`arm.${m}`)).join(", "), zones: why.join(", ") || t("not_ready") }))
        : h("p", { class: "ok area-ready" }, t("areas.ready")),
  );
}

// The area cards and, when any area is not disarmed, one button that disarms them all (the
// person at the door needs one button, not one per area).
export function areaActions(s, { household, openKeypad }) {
  countdowns = [];
  const armed = s.areas.some((a) => a.mode !== "disarmed");
  const cards = s.areas.map((a) => areaCard(a, { household, openKeypad }));
  tickAreas();
  return [
    household && armed
      ? h("button", { type: "button", class: "big primary", id: "disarm", onclick: () => openKeypad("disarm") }, t("areas.disarm_all"))
      : "",
    h("div", { class: "areas", id: "areas" }, cards),
  ];
}
