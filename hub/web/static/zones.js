// The zones page, and how the dashboard speaks of exclusions (issue 13).
// A zone stops protecting in one of four ways (the hub's `excluded.how`): a user's `inhibit`
// (intrusion zones only, until disarm), `open_at_arming` (a forced arm: while it stays open),
// the owner's `isolate` (with the code, a reason and an end: the only way for a 24-hour zone)
// and `auto` (too many alarms in one armed period). Every control that takes a zone out of
// protection first says, naming the zone, what will no longer raise an alarm; none is usable
// while the system is armed, except putting a zone back.
import { addTexts, t } from "./i18n.js";
import { HOUSEHOLD, ME, api, debounce, errorText, h, when } from "./ui.js";
import { areaNames } from "./areas.js";

// Who may change how a zone protects (PATCH /api/v1/zones/{id}: hub/web/zones_api.py).
const CONFIGURERS = ["owner", "installer"];
// The house's areas ({id, name}) as the system JSON lists them; zonesView keeps it current. With
// one area nothing about areas shows.
let AREAS = [];

addTexts({
  it: {
    "excl.title": "Zone escluse: non danno l'allarme",
    "excl.inhibit": "esclusa fino al disinserimento",
    "excl.open_at_arming": "esclusa finché resta aperta",
    "excl.open_at_arming.until_disarm": "esclusa fino al disinserimento (all'inserimento era {why})",
    "excl.isolate": "isolata fino a {until}: {reason}",
    "excl.isolate.open": "isolata: {reason}",
    "excl.auto": "esclusa automaticamente (troppi allarmi)",
    "excl.by": "decisa da {by}",
    "excl.why.offline": "non raggiungibile", "excl.why.tamper": "manomessa",
    "excl.exclude": "Escludi", "excl.exclude_label": "Escludi {name}",
    "excl.isolate_button": "Isola…", "excl.isolate_label": "Isola {name}",
    "excl.renew": "Rinnova l'isolamento…", "excl.renew_label": "Rinnova l'isolamento di {name}",
    "excl.restore": "Ripristina", "excl.restore_label": "Ripristina {name}",
    "excl.armed": "Disinserisci per modificare",
    "excl.always_on": "Sempre attiva (24 ore): solo il proprietario può isolarla, con il codice.",
    "excl.confirm_title": "Escludere «{name}»?",
    "excl.confirm_text": "La zona «{name}» non darà l'allarme fino al prossimo disinserimento.",
    "excl.confirm_yes": "Sì, escludi",
    "excl.isolate_title": "Isolare «{name}»?",
    "excl.isolate_text_24h": "Finché la zona «{name}» è isolata, {what} lì non farà scattare nessun allarme: né a voi, né alla centrale. Si può isolare al massimo per 24 ore.",
    "excl.isolate_text": "Finché la zona «{name}» è isolata non darà l'allarme, nemmeno a impianto inserito. Torna attiva da sola allo scadere delle ore, o quando la ripristini.",
    "excl.what.smoke": "un incendio", "excl.what.water": "una perdita d'acqua",
    "excl.what.power": "una mancanza di corrente", "excl.what.panic": "il pulsante di emergenza",
    "excl.what.other": "un allarme",
    "excl.reason": "Motivo (per esempio: sensore guasto, in attesa del tecnico)",
    "excl.hours": "Per quante ore (da 1 a {max})", "excl.code": "Codice di allarme",
    "excl.isolate_yes": "Isola", "excl.reason_required": "Scrivi il motivo (al massimo 200 caratteri).",
    "excl.hours_range": "Le ore vanno da 1 a {max}.", "excl.code_required": "Inserisci il codice.",
    "excl.restore_title": "Ripristinare «{name}»?",
    "excl.restore_text": "La zona «{name}» torna subito a dare l'allarme come prima.",
    "excl.restore_yes": "Ripristina",
    "excl.isolate_required": "Questa zona è sempre attiva: non si esclude, si può solo isolare (il proprietario, con il codice).",
    "excl.system_armed": "Disinserisci l'impianto prima di modificare le zone.",
    "excl.owner_only": "Solo il proprietario può farlo.",
    "excl.force_note": "Inserendo comunque, una zona aperta non darà l'allarme finché resta aperta; una non raggiungibile o manomessa fino al disinserimento.",
    "zcfg.modes": "Sorvegliata in: {modes}", "zcfg.always": "Sempre attiva (24 ore)", "zcfg.chime_on": "campanello",
    "zcfg.watch": "avviso se non segnala nulla per {n} giorni", "zcfg.watch_off": "controllo del sensore spento",
    "zcfg.edit": "Impostazioni…", "zcfg.edit_label": "Impostazioni di {name}",
    "zcfg.title": "Impostazioni di «{name}»",
    "zcfg.text": "Si cambia solo a impianto disinserito.",
    "zcfg.text_24h": "Questa zona è sempre attiva (24 ore), in ogni modalità e anche a impianto disinserito.",
    "zcfg.modes_legend": "Sorvegliata in modalità",
    "zcfg.areas_legend": "Fa parte delle aree",
    "zcfg.areas_help": "Una zona in più aree (un corridoio comune) dà l'allarme solo quando tutte le sue aree sono inserite.",
    "zcfg.behaviour": "Quando dà l'allarme",
    "zcfg.b.instant": "subito", "zcfg.b.entry": "dopo il ritardo di ingresso", "zcfg.b.follower": "subito, o in ritardo dopo un ingresso",
    "zcfg.chime": "Campanello: un bip quando si apre a impianto disinserito",
    "zcfg.watch_days": "Controllo del sensore: giorni senza segnali prima dell'avviso (0 = spento)",
    "zcfg.watch_help": "Un sensore che per tanti giorni non segnala nulla può essere guasto: meglio saperlo prima di un furto.",
    "zcfg.save": "Salva", "zcfg.saved": "Impostazioni di {name} salvate.",
    "zcfg.modes_required": "Scegli almeno una modalità: una zona che nessuna modalità sorveglia non darebbe mai l'allarme.",
    "zcfg.watch_range": "I giorni vanno da 0 (controllo spento) a 365.",
    "zcfg.behaviour_bad": "Questo tipo di sensore è sempre attivo (24 ore): il comportamento non si cambia.",
    "zcfg.forbidden": "Solo il proprietario o l'installatore possono cambiare le zone.",
  },
  en: {
    "excl.title": "Excluded zones: they raise no alarm",
    "excl.inhibit": "excluded until the system is disarmed",
    "excl.open_at_arming": "excluded while it stays open",
    "excl.open_at_arming.until_disarm": "excluded until the system is disarmed (it was {why} at arming)",
    "excl.isolate": "isolated until {until}: {reason}",
    "excl.isolate.open": "isolated: {reason}",
    "excl.auto": "excluded automatically (too many alarms)",
    "excl.by": "by {by}",
    "excl.why.offline": "offline", "excl.why.tamper": "tampered",
    "excl.exclude": "Exclude", "excl.exclude_label": "Exclude {name}",
    "excl.isolate_button": "Isolate…", "excl.isolate_label": "Isolate {name}",
    "excl.renew": "Renew the isolation…", "excl.renew_label": "Renew the isolation of {name}",
    "excl.restore": "Restore", "excl.restore_label": "Restore {name}",
    "excl.armed": "Disarm to make changes",
    "excl.always_on": "Always active (24 hours): only the owner can isolate it, with the code.",
    "excl.confirm_title": "Exclude “{name}”?",
    "excl.confirm_text": "The zone “{name}” will not raise the alarm until the system is next disarmed.",
    "excl.confirm_yes": "Yes, exclude",
    "excl.isolate_title": "Isolate “{name}”?",
    "excl.isolate_text_24h": "While the zone “{name}” is isolated, {what} there raises no alarm at all: not to you, not to the centre. It can be isolated for 24 hours at most.",
    "excl.isolate_text": "While the zone “{name}” is isolated it raises no alarm, even with the system armed. It comes back by itself when the hours are over, or when you restore it.",
    "excl.what.smoke": "a fire", "excl.what.water": "a water leak",
    "excl.what.power": "a power cut", "excl.what.panic": "the emergency button",
    "excl.what.other": "an alarm",
    "excl.reason": "Reason (for example: faulty sensor, waiting for the technician)",
    "excl.hours": "For how many hours (1 to {max})", "excl.code": "Alarm code",
    "excl.isolate_yes": "Isolate", "excl.reason_required": "Write the reason (200 characters at most).",
    "excl.hours_range": "Hours go from 1 to {max}.", "excl.code_required": "Enter the code.",
    "excl.restore_title": "Restore “{name}”?",
    "excl.restore_text": "The zone “{name}” raises the alarm again, at once.",
    "excl.restore_yes": "Restore",
    "excl.isolate_required": "This zone is always active: it cannot be excluded, only isolated (by the owner, with the code).",
    "excl.system_armed": "Disarm the system before changing the zones.",
    "excl.owner_only": "Only the owner can do this.",
    "excl.force_note": "Arming anyway, an open zone raises no alarm while it stays open; an offline or tampered one until the system is disarmed.",
    "zcfg.modes": "Watched in: {modes}", "zcfg.always": "Always active (24 hours)", "zcfg.chime_on": "chime",
    "zcfg.watch": "warning if it reports nothing for {n} days", "zcfg.watch_off": "sensor watch off",
    "zcfg.edit": "Settings…", "zcfg.edit_label": "Settings of {name}",
    "zcfg.title": "Settings of “{name}”",
    "zcfg.text": "These change only while the system is disarmed.",
    "zcfg.text_24h": "This zone is always active (24 hours), in every mode and while disarmed too.",
    "zcfg.modes_legend": "Watched in the modes",
    "zcfg.areas_legend": "Belongs to the areas",
    "zcfg.areas_help": "A zone in several areas (a shared hall) raises the alarm only while all of its areas are armed.",
    "zcfg.behaviour": "When it raises the alarm",
    "zcfg.b.instant": "at once", "zcfg.b.entry": "after the entry delay", "zcfg.b.follower": "at once, or delayed after an entry",
    "zcfg.chime": "Chime: a beep when it opens while disarmed",
    "zcfg.watch_days": "Sensor watch: days without a signal before a warning (0 = off)",
    "zcfg.watch_help": "A sensor that reports nothing for many days may be dead: better to know before a burglary.",
    "zcfg.save": "Save", "zcfg.saved": "Settings of {name} saved.",
    "zcfg.modes_required": "Choose at least one mode: a zone no mode watches would never raise the alarm.",
    "zcfg.watch_range": "Days go from 0 (watch off) to 365.",
    "zcfg.behaviour_bad": "This kind of sensor is always active (24 hours): its behaviour cannot be changed.",
    "zcfg.forbidden": "Only the owner or the installer may change the zones.",
  },
});

export const ALWAYS_ON = "24h"; // smoke, water, power, panic: active also when disarmed
// The armed modes in the order people think of them (alarms.model.ARM_TARGETS: the same four).
export const ARM_MODES = ["home", "night", "away", "vacation"];
const BEHAVIOURS = ["instant", "entry", "follower"]; // an intrusion zone's (alarms.model.Behaviour, but 24h)
const MAX_WATCH_DAYS = 365;

// The armed modes that watch a zone: `modes`, else (an older hub) its `home` flag as the hub
// reads it (alarms.model.modes_from_home: every mode, or away and vacation).
export function modesOf(zone) {
  if (Array.isArray(zone?.modes)) return zone.modes;
  return zone?.home ? ARM_MODES : ["away", "vacation"];
}
const MAX_HOURS = 720;
const MAX_HOURS_24H = 24;
// What a member may end with PATCH {"bypassed": false}; the rest only the owner, with the code.
const MEMBER_ENDS = ["inhibit", "open_at_arming"];

// The words for how a zone is excluded and until when. `excluded` is the zone's `excluded`
// ({how, by, reason, until}) or an entry of the system's `excluded` list ({how, until}).
export function exclusionText(excluded) {
  if (!excluded) return "";
  switch (excluded.how) {
    case "inhibit":
      return t("excl.inhibit");
    case "open_at_arming":
      return ["offline", "tamper"].includes(excluded.reason)
        ? t("excl.open_at_arming.until_disarm", { why: t(`excl.why.${excluded.reason}`) })
        : t("excl.open_at_arming");
    case "isolate":
      return excluded.until
        ? t("excl.isolate", { until: when(excluded.until, { seconds: false }), reason: excluded.reason || "—" })
        : t("excl.isolate.open", { reason: excluded.reason || "—" });
    case "auto":
      return t("excl.auto");
    default:
      return t("excl.inhibit");
  }
}

// The zone's exclusion, from the zone JSON: `excluded`, or a bare `bypassed` from an older hub.
export function exclusionOf(zone) {
  if (zone?.excluded) return zone.excluded;
  return zone?.bypassed ? { how: "inhibit" } : null;
}

// What an API refusal means for the person who tried.
function refusal(exc) {
  const code = exc?.body?.error;
  if (exc?.status === 403 && code === "bad_code") return t("bad_code");
  if (exc?.status === 429) return t("locked", { s: exc.headers?.get("Retry-After") || "90" });
  if (code === "isolate_required") return t("excl.isolate_required");
  if (code === "system_armed") return t("excl.system_armed");
  if (code === "restore_required") return t("excl.owner_only");
  if (exc?.status === 403) return t("excl.owner_only");
  return errorText(exc);
}

// A modal dialog that asks before acting: `run` does the request; a refusal shows in the
// dialog and leaves it open, success closes it.
function ask({ title, text, fields = [], yes, run, cls = "warn" }) {
  const error = h("p", { class: "error", role: "alert", id: "ask-error" });
  const ok = h("button", { type: "submit", class: cls, id: "ask-yes" }, yes);
  const dialog = h("dialog", { class: "ask", role: "alertdialog", "aria-labelledby": "ask-title", "aria-describedby": "ask-text" });
  const form = h(
    "form",
    { method: "dialog", novalidate: true }, // the checks below say what is wrong in words
    h("h2", { id: "ask-title" }, title),
    h("p", { id: "ask-text" }, text),
    fields,
    error,
    h("div", { class: "row" }, h("button", { type: "button", id: "ask-no", onclick: () => dialog.close() }, t("cancel")), ok),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    ok.disabled = true;
    try {
      const problem = await run();
      if (problem) error.textContent = problem;
      else dialog.close();
    } catch (exc) {
      error.textContent = refusal(exc);
    } finally {
      ok.disabled = false;
    }
  });
  dialog.append(form);
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  (fields.length ? dialog.querySelector("input") : ok).focus();
  return dialog;
}

function codeField() {
  return [
    h("label", { for: "ask-code" }, t("excl.code")),
    h("input", { id: "ask-code", type: "password", inputmode: "numeric", autocomplete: "off", pattern: "[0-9]*", maxlength: 12 }),
  ];
}

const zonePath = (zone, tail = "") => `/api/v1/zones/${encodeURIComponent(zone.id)}${tail}`;

export function confirmInhibit(zone) {
  return ask({
    title: t("excl.confirm_title", { name: zone.name }),
    text: t("excl.confirm_text", { name: zone.name }),
    yes: t("excl.confirm_yes"),
    run: () => api("PATCH", zonePath(zone), { bypassed: true }).then(() => null),
  });
}

export function askIsolate(zone) {
  const always = zone.behaviour === ALWAYS_ON;
  const max = always ? MAX_HOURS_24H : MAX_HOURS;
  const what = t(["smoke", "water", "power", "panic"].includes(zone.kind) ? `excl.what.${zone.kind}` : "excl.what.other");
  const reason = h("input", { id: "ask-reason", type: "text", maxlength: 200, autocomplete: "off" });
  const hours = h("input", { id: "ask-hours", type: "number", min: 1, max, step: 1, value: Math.min(24, max), inputmode: "numeric" });
  return ask({
    title: t("excl.isolate_title", { name: zone.name }),
    text: always ? t("excl.isolate_text_24h", { name: zone.name, what }) : t("excl.isolate_text", { name: zone.name }),
    fields: [
      ...codeField(),
      h("label", { for: "ask-reason" }, t("excl.reason")), reason,
      h("label", { for: "ask-hours" }, t("excl.hours", { max })), hours,
    ],
    yes: t("excl.isolate_yes"),
    run: async () => {
      const code = document.getElementById("ask-code").value;
      const why = reason.value.trim();
      const n = Number(hours.value);
      if (!code) return t("excl.code_required");
      if (!why || why.length > 200) return t("excl.reason_required");
      if (!Number.isInteger(n) || n < 1 || n > max) return t("excl.hours_range", { max });
      await api("POST", zonePath(zone, "/isolate"), { code, reason: why, hours: n });
      return null;
    },
  });
}

// Put a zone back: the owner with the code (any exclusion), a member ends an inhibit.
export function askRestore(zone) {
  const owner = ME.role === "owner";
  return ask({
    title: t("excl.restore_title", { name: zone.name }),
    text: t("excl.restore_text", { name: zone.name }),
    fields: owner ? codeField() : [],
    yes: t("excl.restore_yes"),
    cls: "primary",
    run: async () => {
      if (!owner) {
        await api("PATCH", zonePath(zone), { bypassed: false });
        return null;
      }
      const code = document.getElementById("ask-code").value;
      if (!code) return t("excl.code_required");
      await api("POST", zonePath(zone, "/restore"), { code });
      return null;
    },
  });
}

// What a refused zone change means, in words (hub/web/zones_api.py zone_patch).
function configRefusal(exc) {
  const code = exc?.body?.error;
  if (code === "invalid_field:modes") return t("zcfg.modes_required");
  if (code === "invalid_field:watch_days") return t("zcfg.watch_range");
  if (code === "invalid_field:behaviour") return t("zcfg.behaviour_bad");
  if (code === "invalid_field:areas") return t("areas.required");
  if (code === "system_armed") return t("excl.system_armed");
  if (exc?.status === 403) return t("zcfg.forbidden");
  return errorText(exc);
}

// The owner or the installer sets which armed modes watch a zone, how it alarms, its chime and
// its sensor watch (a 24-hour zone: only the sensor watch). The hub checks every value and says
// why it refuses; `onSaved` gets the zone as the hub now has it.
export function askConfigure(zone, onSaved = () => {}) {
  const always = zone.behaviour === ALWAYS_ON;
  const current = modesOf(zone);
  const boxes = ARM_MODES.map((m) => h("input", { type: "checkbox", id: `cfg-mode-${m}`, value: m, checked: current.includes(m) }));
  const behaviour = h("select", { id: "cfg-behaviour" },
    BEHAVIOURS.map((b) => h("option", { value: b, selected: zone.behaviour === b }, t(`zcfg.b.${b}`))));
  const chime = h("input", { type: "checkbox", id: "cfg-chime", checked: Boolean(zone.chime) });
  const watch = h("input", {
    id: "cfg-watch", type: "number", min: 0, max: MAX_WATCH_DAYS, step: 1, inputmode: "numeric",
    value: zone.watch_days ?? 0, "aria-describedby": "cfg-watch-help",
  });
  const lower = (text) => text.charAt(0).toLowerCase() + text.slice(1);
  // Several areas: which the zone belongs to (a 24-hour zone too: its alarms are its areas').
  const areas = AREAS.length > 1 ? AREAS : [];
  const mine = zone.areas?.length ? zone.areas : areas.slice(0, 1).map((a) => a.id);
  const areaBoxes = areas.map((a) => h("input", { type: "checkbox", id: `cfg-area-${a.id}`, value: a.id, checked: mine.includes(a.id) }));
  const fields = always
    ? []
    : [
        h("fieldset", { class: "plain modes-choice", id: "cfg-modes" },
          h("legend", {}, t("zcfg.modes_legend")),
          ARM_MODES.map((m, i) => h("label", { class: "toggle" }, boxes[i], `${t(`arm.${m}`)}: ${lower(t(`arm.hint.${m}`))}`))),
        h("label", { for: "cfg-behaviour" }, t("zcfg.behaviour")), behaviour,
        h("label", { class: "toggle" }, chime, t("zcfg.chime")),
      ];
  if (areas.length) {
    fields.push(h("fieldset", { class: "plain areas-choice", id: "cfg-areas", "aria-describedby": "cfg-areas-help" },
      h("legend", {}, t("zcfg.areas_legend")),
      areas.map((a, i) => h("label", { class: "toggle" }, areaBoxes[i], a.name)),
      h("p", { class: "muted", id: "cfg-areas-help" }, t("zcfg.areas_help"))));
  }
  fields.push(
    h("label", { for: "cfg-watch" }, t("zcfg.watch_days")), watch,
    h("p", { class: "muted", id: "cfg-watch-help" }, t("zcfg.watch_help")),
  );
  return ask({
    title: t("zcfg.title", { name: zone.name }),
    text: t(always ? "zcfg.text_24h" : "zcfg.text"),
    fields,
    yes: t("zcfg.save"),
    cls: "primary",
    run: async () => {
      const days = Number(watch.value);
      if (watch.value === "" || !Number.isInteger(days) || days < 0 || days > MAX_WATCH_DAYS) return t("zcfg.watch_range");
      const body = { watch_days: days };
      if (areas.length) {
        body.areas = areas.filter((a, i) => areaBoxes[i].checked).map((a) => a.id);
        if (!body.areas.length) return t("areas.required");
      }
      if (!always) {
        body.modes = ARM_MODES.filter((m, i) => boxes[i].checked);
        body.behaviour = behaviour.value;
        body.chime = chime.checked;
      }
      try {
        onSaved(await api("PATCH", zonePath(zone), body));
      } catch (exc) {
        return configRefusal(exc);
      }
      return null;
    },
  });
}

// How a zone protects, in words: the modes that watch it (or always), how, chime, sensor watch.
function protectionText(zone) {
  const always = zone.behaviour === ALWAYS_ON;
  const modes = ARM_MODES.filter((m) => modesOf(zone).includes(m)).map((m) => t(`arm.${m}`));
  const parts = always ? [t("zcfg.always")] : [t("zcfg.modes", { modes: modes.join(", ") }), t(`behaviour.${zone.behaviour}`)];
  if (!always && zone.chime) parts.push(t("zcfg.chime_on"));
  if (zone.watch_days > 0) parts.push(t("zcfg.watch", { n: zone.watch_days }));
  else if (!always && zone.watch_days === 0) parts.push(t("zcfg.watch_off"));
  if (AREAS.length > 1) parts.push(t("areas.of", { areas: areaNames(zone.areas?.length ? zone.areas : [AREAS[0].id], AREAS).join(", ") }));
  return parts.join(" · ");
}

// The controls of one zone: exclude / isolate / restore, as the role and the mode allow; the
// zone's settings for the owner and the installer.
function zoneControls(zone, mode, onSaved) {
  const armed = mode && mode !== "disarmed";
  const settings = CONFIGURERS.includes(ME.role)
    ? h("button", { type: "button", id: `config-${zone.id}`, "aria-label": t("zcfg.edit_label", { name: zone.name }), disabled: armed, onclick: () => askConfigure(zone, onSaved) }, t("zcfg.edit"))
    : null;
  if (!HOUSEHOLD.includes(ME.role)) {
    return settings ? [h("div", { class: "row" }, settings), armed ? h("p", { class: "muted armed-note" }, t("excl.armed")) : ""] : [];
  }
  const owner = ME.role === "owner";
  const excluded = exclusionOf(zone);
  const always = zone.behaviour === ALWAYS_ON;
  const buttons = [];
  const button = (id, label, aria, onclick, cls = "", locked = armed) =>
    h("button", { type: "button", id, class: cls, "aria-label": aria, disabled: locked, onclick }, label);
  if (excluded) {
    if (owner || MEMBER_ENDS.includes(excluded.how)) {
      buttons.push(button(`restore-${zone.id}`, t("excl.restore"), t("excl.restore_label", { name: zone.name }), () => askRestore(zone), "primary", false));
    }
    if (owner && excluded.how === "isolate") {
      buttons.push(button(`isolate-${zone.id}`, t("excl.renew"), t("excl.renew_label", { name: zone.name }), () => askIsolate(zone)));
    }
  } else {
    if (!always) buttons.push(button(`bypass-${zone.id}`, t("excl.exclude"), t("excl.exclude_label", { name: zone.name }), () => confirmInhibit(zone), "warn"));
    if (owner) buttons.push(button(`isolate-${zone.id}`, t("excl.isolate_button"), t("excl.isolate_label", { name: zone.name }), () => askIsolate(zone)));
  }
  if (settings) buttons.push(settings);
  const notes = [];
  if (always && !excluded && !owner) notes.push(h("p", { class: "muted" }, t("excl.always_on")));
  if (armed && buttons.some((b) => b.disabled)) notes.push(h("p", { class: "muted armed-note" }, t("excl.armed")));
  return [buttons.length ? h("div", { class: "row" }, buttons) : "", ...notes];
}

export function zoneItem(zone, device, mode, onSaved = () => {}) {
  const excluded = exclusionOf(zone);
  const badges = [
    h("span", { class: `badge ${zone.active ? "bad" : "good"}` }, zone.active ? t("zone_active") : t("zone_idle")),
    h("span", { class: `badge ${zone.online ? "good" : "bad"}` }, zone.online ? t("online") : t("offline")),
    excluded ? h("span", { class: "badge warn" }, t("bypassed")) : "",
    zone.tamper ? h("span", { class: "badge bad" }, t("tamper")) : "",
    zone.battery_low ? h("span", { class: "badge warn" }, t("battery_low")) : "",
  ];
  const facts = device
    ? [
        device.battery !== null && device.battery !== undefined ? `${t("battery")}: ${device.battery}%` : "",
        device.signal !== null && device.signal !== undefined ? `${t("signal")}: ${device.signal} dBm` : "",
        device.last_seen ? `${t("last_seen")}: ${when(device.last_seen)}` : "",
      ].filter(Boolean).join(" · ")
    : "";
  return h(
    "li",
    { class: `zone${excluded ? " zone-excluded" : ""}`, "data-zone": zone.id },
    h("div", {}, h("strong", {}, zone.name), ` (${t(`kind.${zone.kind}`)})`, " ", badges),
    h("p", { class: "muted zone-protection" }, protectionText(zone)),
    facts ? h("p", { class: "muted" }, facts) : "",
    excluded
      ? h("p", { class: "excluded", "data-how": excluded.how },
          exclusionText(excluded), excluded.by ? ` · ${t("excl.by", { by: excluded.by })}` : "")
      : "",
    zoneControls(zone, mode, onSaved),
  );
}

// Events after which the zone list is read again: zones and devices that came or went, renamed
// devices. Everything else about a zone arrives as a `zone` message and is drawn in place.
const ZONE_LIST_EVENTS = new Set(["zone_removed", "device_removed", "device_renamed", "device_paired"]);

// `system()` gives the latest system JSON the app holds (or null before the first one).
export function zonesView(root, system) {
  const body = h("div", { id: "zones" }, t("loading"));
  root.append(h("h1", {}, t("zones.title")), body);
  let byId = new Map();
  let zonesById = new Map();
  let mode = system()?.mode || null;
  const roomOf = (zone) => zone.room || byId.get(zone.device)?.room || t("zones.no_room");
  const refresh = async () => {
    try {
      const [zones, devices, sys] = await Promise.all([api("GET", "/api/v1/zones"), api("GET", "/api/v1/devices"), api("GET", "/api/v1/system")]);
      mode = sys.mode;
      AREAS = Array.isArray(sys.areas) ? sys.areas.map(({ id, name }) => ({ id, name })) : [];
      byId = new Map(devices.items.map((d) => [d.id, d]));
      zonesById = new Map(zones.items.map((z) => [z.id, z]));
      const rooms = new Map();
      for (const zone of zones.items) {
        const room = roomOf(zone);
        if (!rooms.has(room)) rooms.set(room, []);
        rooms.get(room).push(zone);
      }
      body.replaceChildren(
        ...[...rooms.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([room, list]) =>
          h("section", { class: "block" }, h("h2", {}, room), h("ul", { class: "zones" }, list.map((z) => zoneItem(z, byId.get(z.device), mode, update)))),
        ),
      );
    } catch (exc) {
      body.textContent = errorText(exc);
    }
  };
  const later = debounce(refresh, 300);
  // A live `zone` message redraws that zone where it is; a new zone, or one that changed room,
  // redraws the list. The control that had the focus keeps it.
  function update(zone) {
    zonesById.set(zone.id, zone);
    const item = [...body.querySelectorAll("[data-zone]")].find((el) => el.dataset.zone === zone.id);
    if (!item || item.closest("section")?.querySelector("h2")?.textContent !== roomOf(zone)) return later();
    const focused = item.contains(document.activeElement) ? document.activeElement.id : null;
    item.replaceWith(zoneItem(zone, byId.get(zone.device), mode, update));
    if (focused) document.getElementById(focused)?.focus();
  }
  // Battery, signal and last seen are not pushed live (a reading would cost every dashboard a
  // message): read them again every minute, unless a control on the page is in use.
  const telemetry = setInterval(() => {
    if (!body.contains(document.activeElement) && !document.querySelector("dialog.ask[open]")) refresh();
  }, 60_000);
  refresh();
  return {
    refresh,
    destroy: () => clearInterval(telemetry),
    onMessage: (m) => {
      if (m.type === "zone" && m.zone) update(m.zone);
      else if (m.type === "system" && m.system && m.system.mode !== mode) {
        // armed or disarmed: the change controls lock or unlock
        mode = m.system.mode;
        for (const zone of zonesById.values()) update(zone);
      } else if (m.type === "anomaly" || (m.type === "event" && ZONE_LIST_EVENTS.has(m.kind))) later();
    },
  };
}
