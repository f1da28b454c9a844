// The casahub dashboard: a small single-page app over the hub's HTTP API and /api/v1/ws.
// Plain ES module, no build step. Everything is built with DOM calls (never innerHTML with
// data), so nothing the hub or a sensor name says can become markup.
import { language, t, translate } from "./i18n.js";
import { anomalyChannel, channelName, recipientName, saveLanguage, settingsView } from "./settings.js";
import { HOUSEHOLD, ME, api, debounce, errorText, h, section, when } from "./ui.js";
import { EXTRA_ROUTES, walkTestBanner } from "./views.js";
import { ALWAYS_ON, ARM_MODES, exclusionOf, exclusionText, modesOf, zonesView } from "./zones.js";
import { alarmCard } from "./alarm.js";
import { homeOutputs, patchSystem, sirenSounds } from "./outputs.js";
import { historyView } from "./history.js";
import { areaActions, houseLine, severalAreas, tickAreas } from "./areas.js";

const main = document.getElementById("main");
const state = { system: null, zones: new Map() };

// ------------------------------------------------------------------ live updates
const conn = document.getElementById("conn");
const banner = document.getElementById("offline");
let socket = null;
let attempt = 0;
let lastMessage = 0;
let current = null; // the view on screen: {onMessage?, refresh?, destroy?}

function setConnected(up) {
  conn.className = `conn ${up ? "conn-up" : "conn-down"}`;
  conn.dataset.i18n = up ? "connected" : "offline_short";
  conn.textContent = t(conn.dataset.i18n);
  banner.hidden = up;
  document.body.classList.toggle("disconnected", !up);
}

function connect() {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/ws`;
  const ws = new WebSocket(url);
  socket = ws;
  ws.addEventListener("open", () => {
    attempt = 0;
    lastMessage = Date.now();
    setConnected(true);
    current?.refresh?.(); // whatever happened while we were away
  });
  ws.addEventListener("message", (event) => {
    lastMessage = Date.now();
    if (event.data === "pong") return;
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (message.type === "system") state.system = message.system;
    if (message.type === "output") patchSystem(state.system, message.output);
    updateBadge();
    current?.onMessage?.(message);
  });
  ws.addEventListener("close", async (event) => {
    if (socket !== ws) return;
    socket = null;
    setConnected(false);
    if (event.code === 1008) {
      // credentials no longer valid: back to the login page (api() redirects on 401)
      try {
        await api("GET", "/api/v1/session");
      } catch {
        return;
      }
    }
    const wait = Math.min(3000, 250 * 2 ** attempt++);
    setTimeout(connect, wait);
  });
}

// A hub that dies without closing the socket (power cut) is noticed by the missing pongs.
setInterval(() => {
  if (socket?.readyState === WebSocket.OPEN) {
    if (Date.now() - lastMessage > 25000) socket.close();
    else socket.send("ping");
  }
}, 10000);

function updateBadge() {
  const active = (state.system?.incidents || []).filter((i) => i.state === "active").length;
  const link = document.querySelector('#menu a[href="/incidents"]');
  if (link) link.classList.toggle("alert", active > 0);
  document.body.dataset.mode = state.system?.mode || "";
  walkTestBanner(state.system);
}

// ------------------------------------------------------------------ keypad (arm / disarm)
const dialog = document.getElementById("keypad");
const codeInput = document.getElementById("code");
const keypadError = document.getElementById("keypad-error");
const keypadNotReady = document.getElementById("keypad-notready");
const forceButton = document.getElementById("keypad-force");
let keypadAction = null;
let keypadTarget = null; // the valve "open_water" opens, or the area to arm or disarm (null: every area)

function buildKeys() {
  const keys = document.getElementById("keys");
  const press = (d) => () => {
    if (codeInput.value.length < 12) codeInput.value += d;
  };
  const buttons = ["1", "2", "3", "4", "5", "6", "7", "8", "9"].map((d) =>
    h("button", { type: "button", class: "key", "aria-label": t("keypad.digit", { d }), onclick: press(d) }, d),
  );
  buttons.push(h("button", { type: "button", class: "key", "aria-label": t("keypad.clear"), onclick: () => { codeInput.value = ""; } }, "C"));
  buttons.push(h("button", { type: "button", class: "key", "aria-label": t("keypad.digit", { d: 0 }), onclick: press("0") }, "0"));
  buttons.push(h("button", { type: "button", class: "key", "aria-label": t("keypad.back"), onclick: () => { codeInput.value = codeInput.value.slice(0, -1); } }, "⌫"));
  keys.replaceChildren(...buttons);
}

function openKeypad(action, target = null) {
  keypadAction = action;
  keypadTarget = target;
  buildKeys();
  const title = t(`keypad.${action}`);
  document.getElementById("keypad-title").textContent =
    target && action !== "open_water" ? t("areas.keypad", { action: title, area: target.name }) : title;
  codeInput.value = "";
  keypadError.textContent = "";
  keypadNotReady.replaceChildren();
  forceButton.hidden = true;
  dialog.showModal();
  document.querySelector("#keys .key").focus();
}

async function sendCode(force) {
  const code = codeInput.value;
  if (!code) return;
  keypadError.textContent = "";
  if (keypadAction === "open_water") return openWater(code);
  try {
    const base = keypadTarget ? `/api/v1/areas/${encodeURIComponent(keypadTarget.id)}` : "/api/v1/system";
    const path = `${base}/${keypadAction === "disarm" ? "disarm" : "arm"}`;
    const body = keypadAction === "disarm" ? { code } : { mode: keypadAction.slice("arm_".length), code, force };
    state.system = await api("POST", path, body);
    dialog.close();
    current?.onMessage?.({ type: "system", system: state.system });
  } catch (exc) {
    if (exc.status === 409 && exc.body.error === "not_ready") {
      keypadError.textContent = t("not_ready");
      keypadNotReady.replaceChildren(
        ...exc.body.not_ready.map((z) => h("li", {}, `${z.name}: ${t(`reason.${z.reason}`)}`)),
        h("li", { class: "force-note", id: "keypad-force-note" }, t("excl.force_note")), // what "bypass and arm" means
      );
      forceButton.hidden = false;
    } else if (exc.status === 403 && exc.body.error === "bad_code") {
      keypadError.textContent = t("bad_code");
      codeInput.value = "";
    } else if (exc.status === 403 && exc.body.error === "forbidden_area") {
      keypadError.textContent = t("areas.forbidden");
      codeInput.value = "";
    } else if (exc.status === 429) {
      keypadError.textContent = t("locked", { s: exc.headers?.get("Retry-After") || "90" });
      codeInput.value = "";
    } else if (exc.status === 409 && exc.body.error === "walk_test") {
      keypadError.textContent = t("wt.arm_refused");
    } else {
      keypadError.textContent = errorText(exc);
    }
  }
}

// The owner opens a valve a leak closed: the same keypad and the same code as disarming.
async function openWater(code) {
  try {
    const output = await api("POST", `/api/v1/outputs/${encodeURIComponent(keypadTarget.id)}/open`, { code });
    dialog.close();
    patchSystem(state.system, output);
    current?.onMessage?.({ type: "output", output });
  } catch (exc) {
    if (exc.status === 403 && exc.body.error === "bad_code") {
      keypadError.textContent = t("bad_code");
      codeInput.value = "";
    } else if (exc.status === 429) {
      keypadError.textContent = t("locked", { s: exc.headers?.get("Retry-After") || "90" });
      codeInput.value = "";
    } else if (exc.status === 409 && exc.body.error === "not_closed") {
      keypadError.textContent = t("out.not_closed");
    } else {
      keypadError.textContent = errorText(exc);
    }
  }
}

document.getElementById("keypad-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sendCode(false);
});
forceButton.addEventListener("click", () => sendCode(true));
document.getElementById("keypad-cancel").addEventListener("click", () => dialog.close());

// ------------------------------------------------------------------ shared pieces
function incidentCard(incident, { actions = true } = {}) {
  const zones = [...new Set(incident.activations.map((a) => a.name))].join(", ");
  const buttons = [];
  if (actions && HOUSEHOLD.includes(ME.role)) {
    if (incident.state === "active") {
      buttons.push(h("button", { type: "button", class: "primary", onclick: () => incidentAction(incident.id, "ack") }, t("ack")));
    }
    if (["active", "acknowledged"].includes(incident.state)) {
      buttons.push(h("button", { type: "button", onclick: () => incidentAction(incident.id, "resolve") }, t("resolve")));
    }
  }
  return h(
    "article",
    { class: `card incident incident-${incident.state}`, "data-incident": incident.id },
    h("h3", {}, t(`incident.kind.${incident.kind}`), " ", h("span", { class: `badge state-${incident.state}` }, t(`incident.state.${incident.state}`))),
    h("p", {}, zones, incident.confirmed ? ` · ${t("confirmed")}` : ""),
    h("p", { class: "muted" }, `${t("opened")}: ${when(incident.opened_at)}`, incident.closed_at ? ` · ${t("closed")}: ${when(incident.closed_at)}` : ""),
    h("div", { class: "row" }, h("a", { href: `/incidents/${encodeURIComponent(incident.id)}`, "data-link": true, class: "button" }, t("details")), buttons),
  );
}

async function incidentAction(id, action) {
  try {
    await api("POST", `/api/v1/incidents/${encodeURIComponent(id)}/${action}`, {});
    current?.refresh?.();
  } catch (exc) {
    alert(errorText(exc));
  }
}

function b64urlBytes(text) {
  const padded = text.replaceAll("-", "+").replaceAll("_", "/") + "=".repeat((4 - (text.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

async function enablePush(out) {
  out.textContent = "";
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    out.textContent = t("push.unsupported");
    return;
  }
  let key;
  try {
    key = (await api("GET", "/api/v1/push/vapid")).public_key;
  } catch (exc) {
    out.textContent = exc.status === 404 ? t("push.disabled") : errorText(exc);
    return;
  }
  if ((await Notification.requestPermission()) !== "granted") {
    out.textContent = t("push.denied");
    return;
  }
  try {
    const registration = await navigator.serviceWorker.ready;
    const subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64urlBytes(key) });
    await api("POST", "/api/v1/push/subscriptions", subscription.toJSON());
    out.textContent = t("push.on");
  } catch (exc) {
    out.textContent = errorText(exc);
  }
}

function pushBlock() {
  const out = h("p", { role: "status", class: "muted" });
  return section("settings.push", h("button", { type: "button", onclick: () => enablePush(out) }, t("push.enable")), out);
}

// ------------------------------------------------------------------ views
// The household's buttons on an incident: acknowledge, resolve, details.
function incidentButtons(incident) {
  const buttons = [h("a", { href: `/incidents/${encodeURIComponent(incident.id)}`, "data-link": true, class: "button" }, t("details"))];
  if (HOUSEHOLD.includes(ME.role)) {
    if (incident.state === "active") {
      buttons.push(h("button", { type: "button", class: "primary", onclick: () => incidentAction(incident.id, "ack") }, t("ack")));
    }
    if (["active", "acknowledged"].includes(incident.state)) {
      buttons.push(h("button", { type: "button", onclick: () => incidentAction(incident.id, "resolve") }, t("resolve")));
    }
  }
  return buttons;
}

// Nothing on screen says a siren sounds unless one does: a siren output whose `state` is
// "sounding" (hub/core/views.py output_json). Without one the alarm is silent, or the hub has
// no siren at all.
const hasSiren = (s) => sirenSounds(s);

// The zones out of protection: the system's `excluded` list, with each zone's reason and who.
function exclusionsOf(s, zones) {
  const listed = Array.isArray(s.excluded)
    ? s.excluded
    : [...zones.values()].filter((z) => exclusionOf(z)).map((z) => ({ zone: z.id, name: z.name, ...exclusionOf(z) }));
  return listed.map((e) => ({ ...e, ...(zones.get(e.zone)?.excluded || {}), zone: e.zone, name: e.name || zones.get(e.zone)?.name || e.zone }));
}

// The armed mode a mode is in or arming to ("armed_night" -> "night"), else null.
const targetOf = (mode) => /^(?:armed|arming)_(\w+)$/.exec(mode || "")?.[1] || null;
// Modes in which somebody stays at home: arming them is no "leave now".
const STAY = ["home", "night"];
const MAX_NAMES = 8;

function names(list) {
  if (list.length <= MAX_NAMES) return list.join(", ");
  return t("mode.zones.more", { zones: list.slice(0, MAX_NAMES).join(", "), n: list.length - MAX_NAMES });
}

// The intrusion zones the `target` mode watches (`on`) and leaves out (`off`); an excluded zone
// is in neither (the amber list says it).
function watchedIn(target, zones) {
  const intrusion = [...zones.values()].filter((z) => z.behaviour !== ALWAYS_ON);
  return {
    on: intrusion.filter((z) => modesOf(z).includes(target) && !exclusionOf(z)).map((z) => z.name),
    off: intrusion.filter((z) => !modesOf(z).includes(target)).map((z) => z.name),
  };
}

// Why `target` is not ready, as the engine decides it (alarms/engine.py readiness): a zone the
// mode watches that is open, offline or tampered, and any siren offline (the system's list).
function notReadyIn(target, s, zones) {
  const out = [];
  for (const z of zones.values()) {
    if (z.behaviour === ALWAYS_ON || exclusionOf(z) || !modesOf(z).includes(target)) continue;
    if (z.active) out.push({ name: z.name, reason: "open" });
    if (!z.online) out.push({ name: z.name, reason: "offline" });
    if (z.tamper) out.push({ name: z.name, reason: "tamper" });
  }
  return [...out, ...(s.not_ready || []).filter((r) => r.reason === "siren_offline")];
}

const readyIn = (s, m) => (s.ready_modes ? s.ready_modes[m] !== false : m === "away" ? s.ready : s.ready_home ?? s.ready);

// One tile per armed mode the house is not in: its name, what it is for, and why it is not ready.
function armTiles(s, zones) {
  return ARM_MODES.filter((m) => s.mode !== `armed_${m}`).map((m) => {
    const ready = readyIn(s, m);
    const why = ready ? [] : notReadyIn(m, s, zones);
    return h(
      "div",
      { class: `arm-mode${ready ? "" : " arm-not-ready"}`, "data-mode": m },
      h("button", { type: "button", class: "arm", id: `arm-${m}`, "aria-describedby": ready ? null : `arm-why-${m}`, onclick: () => openKeypad(`arm_${m}`) },
        h("span", { class: "arm-name" }, t(`arm.${m}`)),
        h("span", { class: "arm-hint" }, t(`arm.hint.${m}`))),
      ready
        ? ""
        : h("p", { class: "arm-why", id: `arm-why-${m}` },
            why.length ? t("arm.not_ready", { zones: why.map((r) => `${r.name} (${t(`reason.${r.reason}`)})`).join(", ") }) : t("arm.not_ready_unknown")),
    );
  });
}

// The mode card's words: the hint, and for an armed mode which zones watch and which do not.
function modeWords(s, zones, excluded) {
  const target = targetOf(s.mode);
  if (s.mode.startsWith("arming")) return { hint: STAY.includes(target) ? "mode.hint.arming_stay" : "mode.hint.arming", line: "" };
  if (!s.mode.startsWith("armed_")) return { hint: `mode.hint.${s.mode}`, line: "" };
  if (!zones.size) return { hint: `mode.hint.${s.mode}`, line: "" }; // the zones are still loading
  const { on, off } = watchedIn(target, zones);
  let hint = `mode.hint.${s.mode}`;
  if (excluded.length) hint = STAY.includes(target) ? "mode.hint.armed_home_excluded" : "mode.hint.armed_away_excluded";
  else if (on.length && !off.length) hint = "mode.hint.armed_all";
  let line = "";
  if (!on.length) line = t("mode.zones.none");
  else if (off.length) line = `${t("mode.zones.on", { zones: names(on) })} ${t("mode.zones.off", { zones: names(off) })}`;
  return { hint, line };
}

// The home page, most urgent first: an active alarm (what the SMS says), the mode, the zones
// that do not protect, the buttons, readiness (only while disarmed), anomalies.
function homeView(root) {
  const top = h("div", { id: "home-alerts" });
  const outputsBox = h("div", { id: "home-outputs" }); // sirens sounding, valves a leak closed
  const modeBox = h("section", { class: "mode", id: "mode-card", "aria-live": "polite" });
  const excludedBox = h("div", { id: "exclusions" });
  const actions = h("div", { class: "actions", id: "actions" });
  const notReady = h("div", { id: "not-ready" });
  const anomalies = h("div", { id: "home-anomalies" });
  root.append(top, outputsBox, modeBox, excludedBox, actions, notReady, anomalies, HOUSEHOLD.includes(ME.role) ? pushBlock() : "");
  let deadline = null;
  let delayName = null;
  let zones = new Map();
  const countdown = h("p", { class: "countdown", id: "countdown", "aria-live": "off" });

  function draw() {
    const s = state.system;
    if (!s) return;
    const incidents = s.incidents
      .filter((i) => ["active", "acknowledged"].includes(i.state))
      .sort((a, b) => (a.state === b.state ? String(b.opened_at).localeCompare(String(a.opened_at)) : a.state === "active" ? -1 : 1));
    top.replaceChildren(...incidents.map((i) => alarmCard(i, zones, incidentButtons(i))));
    outputsBox.replaceChildren(homeOutputs(s, (valve) => openKeypad("open_water", valve)));
    anomalies.replaceChildren(
      s.anomalies.length
        ? section(
            "active.anomalies",
            h("ul", { class: "list" }, s.anomalies.map((a) => h("li", {}, h("a", { href: "/anomalies", "data-link": true }, a.manual.title), ` · ${a.subject || a.device || ""}`))),
          )
        : "",
    );
    const excluded = exclusionsOf(s, zones);
    const always = excluded.filter((e) => zones.get(e.zone)?.behaviour === ALWAYS_ON);
    const areas = severalAreas(s);
    if (areas) {
      // Several areas: the whole house in one line, each area in its own card (areas.js).
      const house = houseLine(s);
      modeBox.className = `mode mode-${house.mode} mode-house`;
      modeBox.replaceChildren(...house.children);
    } else {
      let { hint, line } = modeWords(s, zones, excluded);
      if (s.mode === "disarmed" && always.length) hint = "mode.hint.disarmed_excluded";
      if (s.mode === "triggered" && !hasSiren(s)) hint = "mode.hint.triggered_nosiren";
      modeBox.className = `mode mode-${s.mode}`;
      modeBox.replaceChildren(
        h("p", { id: "mode", "data-mode": s.mode, class: "mode-text" }, t(`mode.${s.mode}`)),
        h("p", { class: "mode-hint", id: "mode-hint" }, t(hint)),
        line ? h("p", { class: "mode-zones", id: "mode-zones" }, line) : "",
        countdown,
      );
    }
    excludedBox.replaceChildren(
      excluded.length
        ? h("section", { class: "block excluded-list", "aria-labelledby": "excluded-title" },
            h("h2", { id: "excluded-title" }, t("excl.title")),
            h("ul", {}, excluded.map((e) => h("li", { "data-zone": e.zone, "data-how": e.how }, h("strong", {}, e.name), `: ${exclusionText(e)}`))),
            h("p", {}, h("a", { href: "/zones", "data-link": true }, t("zones.title"))))
        : "",
    );
    delayName = Object.keys(s.delays || {}).find((name) => name !== "siren" || hasSiren(s)) || null;
    deadline = delayName ? performance.now() + s.delays[delayName].remaining * 1000 : null;
    tick();
    // Disarm first when armed (what the person at the door needs); the modes to arm, or to
    // switch to, while disarmed or armed (docs/modes.md: one armed mode goes to another).
    const household = HOUSEHOLD.includes(ME.role);
    if (areas) {
      actions.replaceChildren(...areaActions(s, { household, openKeypad }));
      notReady.replaceChildren();
      return;
    }
    const canArm = household && (s.mode === "disarmed" || s.mode.startsWith("armed_"));
    actions.replaceChildren(
      household && s.mode !== "disarmed"
        ? h("button", { type: "button", class: "big primary", id: "disarm", onclick: () => openKeypad("disarm") }, t("disarm"))
        : "",
      canArm
        ? h("section", { class: "arm-block", "aria-labelledby": "arm-title" },
            h("h2", { id: "arm-title" }, t(s.mode === "disarmed" ? "arm.title" : "arm.switch")),
            h("div", { class: "arm-modes" }, armTiles(s, zones)))
        : "",
    );
    // Whether the house can be armed matters only while it is not: every mode ready, away not
    // ready (its zones, and arming away anyway), or only some modes ready.
    const readyModes = ARM_MODES.filter((m) => readyIn(s, m));
    notReady.replaceChildren(
      s.mode !== "disarmed"
        ? ""
        : readyModes.length === ARM_MODES.length
          ? h("p", { class: "ok", id: "ready" }, t("ready"))
          : !readyIn(s, "away")
            ? section(
                "notready.title",
                h("ul", { class: "list" }, s.not_ready.map((z) => h("li", {}, h("strong", {}, z.name), `: ${t(`reason.${z.reason}`)}`))),
                household
                  ? h("button", { type: "button", class: "warn", id: "bypass-arm", onclick: () => openKeypad("arm_away") }, t("arm.bypass_away"))
                  : "",
              )
            : h("p", { class: "ok", id: "ready" }, t("arm.ready_for", { modes: readyModes.map((m) => t(`arm.${m}`)).join(", ") })),
    );
  }

  function tick() {
    tickAreas();
    if (deadline === null) {
      countdown.textContent = "";
      return;
    }
    const left = Math.max(0, Math.ceil((deadline - performance.now()) / 1000));
    countdown.textContent = t(`delay.${delayName}`, { s: left });
  }

  const timer = setInterval(tick, 250);
  const refresh = async () => {
    try {
      const [system, list] = await Promise.all([api("GET", "/api/v1/system"), api("GET", "/api/v1/zones")]);
      state.system = system;
      zones = new Map(list.items.map((z) => [z.id, z]));
      draw();
    } catch (exc) {
      modeBox.textContent = errorText(exc);
    }
  };
  draw();
  refresh();
  return {
    refresh,
    onMessage(message) {
      if (message.type === "zone" && message.zone) zones.set(message.zone.id, message.zone);
      if (message.type === "system" || message.type === "zone" || message.type === "output") draw();
    },
    destroy() {
      clearInterval(timer);
    },
  };
}

function incidentsView(root) {
  const list = h("div", { id: "incident-list" });
  root.append(h("h1", {}, t("incidents.title")), list);
  const refresh = async () => {
    try {
      const { items } = await api("GET", "/api/v1/incidents?state=all");
      list.replaceChildren(...(items.length ? items.map((i) => incidentCard(i)) : [h("p", {}, t("incidents.empty"))]));
    } catch (exc) {
      list.textContent = errorText(exc);
    }
  };
  const later = debounce(refresh);
  refresh();
  return { refresh, onMessage: (m) => { if (m.type === "incident") later(); } };
}

function incidentView(root, id) {
  const body = h("div", { id: "incident-detail" }, t("loading"));
  root.append(h("p", {}, h("a", { href: "/incidents", "data-link": true }, `← ${t("incidents.title")}`)), body);
  const refresh = async () => {
    try {
      const incident = await api("GET", `/api/v1/incidents/${encodeURIComponent(id)}`);
      const items = [
        ...incident.activations.map((a) => ({ at: a.at, text: t("activation", { zone: a.name }), kind: "activation" })),
        ...incident.notifications.map((n) => ({
          at: n.sent_at || n.created_at,
          kind: `notification state-${n.state}`,
          text: `${t("notification", { channel: channelName(n.channel), recipient: recipientName(n.recipient), state: t(`notif.state.${n.state}`) })}` +
            ` (${n.transport}, ${t("attempts", { n: n.attempts })}${n.last_error ? `, ${n.last_error}` : ""})`,
        })),
      ].sort((a, b) => String(a.at).localeCompare(String(b.at)));
      body.replaceChildren(
        h("h1", {}, t(`incident.kind.${incident.kind}`), " ", h("span", { class: `badge state-${incident.state}` }, t(`incident.state.${incident.state}`))),
        incidentCard(incident),
        section("timeline", h("ol", { class: "timeline" }, items.map((i) => h("li", { class: i.kind }, h("time", { datetime: i.at }, when(i.at)), " ", i.text)))),
        incident.snapshots?.length ? section("camera.snapshots", h("ul", { class: "snapshots", id: "snapshots" },
          incident.snapshots.map((s) => h("li", {},
            h("a", { href: s.url, target: "_blank", rel: "noopener", "aria-label": t("snapshot.alt", { at: when(s.at) }) },
              h("img", { src: s.url, alt: t("snapshot.alt", { at: when(s.at) }), loading: "lazy", width: 160, height: 120 })),
            h("time", { datetime: s.at }, when(s.at)))))) : "",
      );
      body.querySelector(".card .button")?.remove();
      body.querySelector(".card h3")?.remove(); // the title is the page's heading
    } catch (exc) {
      body.textContent = errorText(exc);
    }
  };
  const later = debounce(refresh);
  refresh();
  return {
    refresh,
    onMessage(m) {
      if ((m.type === "incident" && m.incident?.id === id) || (m.type === "notification" && m.notification?.incident === id)) later();
    },
  };
}

function anomaliesView(root) {
  const list = h("div", { id: "anomaly-list" });
  root.append(h("h1", {}, t("anomalies.title")), list);
  const refresh = async () => {
    try {
      const { items } = await api("GET", `/api/v1/anomalies?state=all&lang=${language()}`);
      list.replaceChildren(
        ...(items.length
          ? items.map((a) =>
              h("article", { class: `card anomaly anomaly-${a.state}`, "data-anomaly": a.id },
                h("h2", {}, a.manual.title, " ", h("span", { class: `badge state-${a.state}` }, t(`anomaly.state.${a.state}`))),
                h("p", { class: "muted" }, `${t("opened")}: ${when(a.opened_at)}`, a.device || (a.subject && a.kind !== "channel_failure") ? ` · ${t("device")}: ${a.device || a.subject}` : ""),
                anomalyChannel(a),
                h("p", {}, a.manual.meaning),
                h("h3", {}, t("steps")),
                h("ol", {}, a.manual.steps.map((s) => h("li", {}, s)))))
          : [h("p", {}, t("anomalies.empty"))]),
      );
    } catch (exc) {
      list.textContent = errorText(exc);
    }
  };
  const later = debounce(refresh);
  refresh();
  return { refresh, onMessage: (m) => { if (m.type === "anomaly") later(); } };
}

// ------------------------------------------------------------------ router
const ROUTES = [
  [/^\/$/, homeView, "/"],
  [/^\/incidents$/, incidentsView, "/incidents"],
  [/^\/incidents\/([^/]+)$/, incidentView, "/incidents"],
  [/^\/zones$/, (root) => zonesView(root, () => state.system), "/zones"],
  [/^\/history$/, historyView, "/history"],
  [/^\/anomalies$/, anomaliesView, "/anomalies"],
  [/^\/settings$/, (root) => settingsView(root, "", { pushBlock, rerender }), "/settings"],
  [/^\/settings\/([a-z_]+)$/, (root, page) => settingsView(root, page, { pushBlock, rerender }), "/settings"],
  ...EXTRA_ROUTES,
];

function render() {
  current?.destroy?.();
  current = null;
  main.replaceChildren();
  const path = location.pathname;
  for (const [pattern, view, nav] of ROUTES) {
    const match = pattern.exec(path);
    if (!match) continue;
    for (const link of document.querySelectorAll("#menu a")) {
      if (link.getAttribute("href") === nav) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    current = view(main, ...match.slice(1).map(decodeURIComponent)) || {};
    return;
  }
  main.append(h("p", {}, t("not_found")));
}

function rerender() {
  translate();
  buildKeys();
  walkTestBanner(state.system);
  if (socket?.readyState === WebSocket.OPEN) setConnected(true);
  else if (socket === null) setConnected(false);
  render();
}

function navigate(path) {
  if (path === location.pathname) return;
  history.pushState(null, "", path);
  render();
  main.focus();
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-link]");
  if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = new URL(link.href);
  if (url.origin !== location.origin) return;
  event.preventDefault();
  navigate(url.pathname);
});
window.addEventListener("popstate", render);

document.getElementById("lang").addEventListener("click", () => {
  saveLanguage(language() === "it" ? "en" : "it"); // shown now, saved on the hub for the next login
  rerender();
});

document.getElementById("logout").addEventListener("click", async () => {
  try {
    await api("DELETE", "/api/v1/session");
  } finally {
    location.assign("/login");
  }
});

// A push notification of an older build links to /#/incidents/<id>.
if (location.pathname === "/" && location.hash.startsWith("#/incidents/")) {
  history.replaceState(null, "", location.hash.slice(1));
}
document.getElementById("nav-settings").hidden = ME.role !== "owner";
document.getElementById("nav-pairing").hidden = !["owner", "installer"].includes(ME.role);
if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
translate();
buildKeys();
render();
connect();
