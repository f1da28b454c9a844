// The installer's page, /pairing (owner and installer sessions; issues 6 and 7): pair the
// devices a scan finds, rename / move / remove the paired ones, and run a walk test. Also the
// walk-test banner app.js shows on every page, because the alarms are off while a test runs.
//
// The lists are updated in place (cards keyed by id), never rebuilt: the candidates are polled
// every 2 s during a scan and the paired devices follow the WebSocket, and a rebuild would wipe
// the form the installer is typing in.
import { language, t } from "./i18n.js";
import { ME, api, debounce, errorText, h, section } from "./ui.js";
import { outputsSection, walkOutputs } from "./outputs.js";
import { roomChoice, zoneChoice } from "./pairing_choice.js";

const INSTALLERS = ["owner", "installer"];
const POLL_MS = 2000; // candidates while a scan runs
const SCAN_SECONDS = 30;
const WALK_MINUTES = [5, 10, 15, 30, 60]; // the hub allows at most 60
const WALK_DEFAULT = 15;
const BINDKEY = /^[0-9a-fA-F]{32}$/; // BTHome v2 AES-128 key
const DEVICE_EVENTS = new Set(["device_paired", "device_removed", "device_renamed", "zone_changed", "zone_removed"]);

// ------------------------------------------------------------------ formatting
function clock(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString(language() === "it" ? "it-IT" : "en-GB", { hour: "2-digit", minute: "2-digit" });
}

function known(value) {
  return value !== null && value !== undefined;
}

// As the hub's zone_signal: Zigbee reports a link quality (LQI, 0-255), the other radios dBm.
function signalUnit(driver) {
  return String(driver || "").split("#")[0] === "zigbee2mqtt" ? "LQI" : "dBm";
}

function radioFacts(item) {
  return [
    known(item.signal) ? `${t("signal")}: ${item.signal} ${signalUnit(item.driver)}` : "",
    known(item.battery) ? `${t("battery")}: ${item.battery}%` : "",
  ];
}

function mmss(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// Keeps `list`'s children in the order of `items`: new cards are made, known ones updated in
// place (a focused input keeps its focus and value), vanished ones removed.
function sync(list, cards, items, keyOf, make) {
  const keys = new Set(items.map(keyOf));
  for (const [key, card] of cards) {
    if (!keys.has(key)) {
      card.el.remove();
      cards.delete(key);
    }
  }
  items.forEach((item, index) => {
    const key = keyOf(item);
    let card = cards.get(key);
    if (card) card.update(item);
    else {
      card = make(item);
      cards.set(key, card);
    }
    // Moved only when out of place: moving a node takes the focus away from its inputs.
    if (list.children[index] !== card.el) list.insertBefore(card.el, list.children[index] || null);
  });
}

let serial = 0; // element ids: candidate and device ids carry ':' and '#', awkward in selectors
const nextId = (prefix) => `${prefix}-${++serial}`;

function field(id, labelKey, control) {
  return h("div", { class: "field" }, h("label", { for: id }, t(labelKey)), control);
}

// ------------------------------------------------------------------ 1. pair a device
function candidateCard(candidate, { roomsNow, areasNow, paired }) {
  const id = nextId("cand");
  // The hub's suggested name ("Sensore movimento"), not the model code ("SIM-MOTION"): the model is in the facts.
  const title = candidate.suggested_name || candidate.model || candidate.address;
  const facts = h("p", { class: "muted" });
  const name = h("input", { id: `${id}-name`, required: !candidate.suggested_name, maxlength: 64, autocomplete: "off", placeholder: candidate.suggested_name || null });
  const room = roomChoice(`${id}-room`, "pair.room");
  const kind = h("select", { id: `${id}-kind`, onchange: () => { choice.kindChanged(); propose(); } },
    candidate.kinds.map((k) => h("option", { value: k }, t(`kind.${k}`))));
  // Behaviour, modes and chime: the hub's proposal for the kind, then for the name and room typed.
  const choice = zoneChoice(id, kind, candidate.proposal);
  const propose = () => choice.later(name.value.trim(), room.current());
  name.addEventListener("input", propose);
  for (const input of room.inputs) input.addEventListener(input.tagName === "SELECT" ? "change" : "input", propose);
  const bthome = candidate.driver.split("#")[0] === "bthome";
  const bindkey = bthome
    ? h("input", { id: `${id}-bindkey`, autocomplete: "off", spellcheck: "false", maxlength: 32, inputmode: "text" })
    : null;
  const error = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    { class: "pair-form", id: `${id}-form`, hidden: true, onsubmit: (event) => { event.preventDefault(); submit(); } },
    field(`${id}-name`, "pair.name", name),
    room.el,
    candidate.kinds.length ? field(`${id}-kind`, "pair.kind", kind) : "",
    candidate.kinds.length ? choice.el : "",
    bindkey ? field(`${id}-bindkey`, "pair.bindkey", bindkey) : "",
    error,
    h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, t("pair.submit"))),
  );
  const open = h("button", {
    type: "button",
    class: "pair-open",
    "aria-expanded": "false",
    "aria-controls": form.id,
    "aria-label": t("pair.open_label", { name: title }),
    onclick: () => {
      form.hidden = !form.hidden;
      open.setAttribute("aria-expanded", String(!form.hidden));
      if (!form.hidden) name.focus();
    },
  }, t("pair.open"));

  async function submit() {
    error.textContent = "";
    const where = room.value();
    const zone = candidate.kinds.length ? choice.value() : { zone: null };
    const body = { candidate: candidate.id, name: name.value.trim() || candidate.suggested_name || "" };
    const wrong = !body.name ? { error: t("pair.name_required"), focus: name } : where.error ? where : zone.error ? zone : null;
    if (wrong) {
      error.textContent = wrong.error;
      wrong.focus.focus();
      return;
    }
    Object.assign(body, { room: where.room }, where.new_room ? { new_room: true } : {}, zone.zone ? { zones: [zone.zone] } : {});
    if (bindkey && bindkey.value.trim()) {
      if (!BINDKEY.test(bindkey.value.trim())) {
        error.textContent = t("pair.bindkey_invalid");
        bindkey.focus();
        return;
      }
      body.bindkey = bindkey.value.trim().toLowerCase();
    }
    try {
      const device = await api("POST", "/api/v1/devices", body);
      paired(candidate, device);
    } catch (exc) {
      if (exc.status === 409 && exc.body?.error === "already_paired") error.textContent = t("pair.duplicate");
      else if (exc.body?.error === "unknown_room") error.textContent = t("pc.room_unknown");
      else if (exc.status === 404 && exc.body?.error === "unknown_candidate") error.textContent = t("pair.unknown");
      else error.textContent = errorText(exc);
    }
  }

  const el = h("article", { class: "card candidate", "data-candidate": candidate.id }, h("h3", {}, title), facts, open, form);
  const update = (c) => {
    facts.textContent = [c.suggested_name ? c.model : "", c.driver, c.address, ...radioFacts(c)].filter(Boolean).join(" · ");
    room.setRooms(roomsNow());
    choice.setAreas(areasNow());
  };
  choice.refresh("", "");
  update(candidate);
  return { el, update };
}

function pairSection(onPaired) {
  const status = h("p", { id: "scan-status", role: "status", class: "muted" });
  const warnings = h("p", { id: "pair-warnings", role: "alert", class: "error", hidden: true });
  const result = h("p", { id: "pair-result", role: "status", class: "ok" });
  const list = h("div", { id: "candidates" });
  const empty = h("p", { class: "muted", id: "candidates-empty", hidden: true }, t("pair.none"));
  const scanButton = h("button", { type: "button", id: "scan", class: "primary", onclick: () => scan() }, t("pair.scan"));
  const cards = new Map();
  let roomNames = []; // the rooms in use, as the hub lists them with the candidates
  let areaList = []; // the house's areas ({id, name}), likewise
  let scanUntil = 0;
  let poller = null;

  function paired(candidate, device) {
    cards.get(candidate.id)?.el.remove();
    cards.delete(candidate.id);
    result.textContent = t("pair.done", { name: device.name });
    empty.hidden = cards.size > 0;
    onPaired();
  }

  async function load() {
    try {
      const answer = await api("GET", "/api/v1/pairing/candidates");
      const items = answer.items;
      roomNames = answer.rooms || [];
      areaList = answer.areas || [];
      // A bridge that lost its broker: its candidates are what it said last, and nothing can join.
      const down = (answer.warnings || []).map((w) => t("pair.bridge_down", { driver: w.driver }));
      warnings.textContent = down.join(" ");
      warnings.hidden = !down.length;
      sync(list, cards, items.filter((c) => !c.paired), (c) => c.id, (c) => candidateCard(c, { roomsNow: () => roomNames, areasNow: () => areaList, paired }));
      empty.hidden = cards.size > 0;
    } catch (exc) {
      status.textContent = errorText(exc);
    }
  }

  function tick() {
    const left = (scanUntil - Date.now()) / 1000;
    if (left > 0) {
      status.textContent = t("pair.scanning", { s: Math.ceil(left) });
      load();
      return;
    }
    stopPolling();
    status.textContent = t("pair.scan_done");
    load();
  }

  function stopPolling() {
    clearInterval(poller);
    poller = null;
    scanButton.disabled = false;
  }

  async function scan() {
    status.textContent = "";
    result.textContent = "";
    try {
      const answer = await api("POST", "/api/v1/pairing/scan", { seconds: SCAN_SECONDS });
      scanUntil = Date.now() + (answer.seconds || SCAN_SECONDS) * 1000;
      scanButton.disabled = true;
      clearInterval(poller);
      poller = setInterval(tick, POLL_MS);
      tick();
    } catch (exc) {
      status.textContent = errorText(exc);
    }
  }

  const el = section(
    "pair.section",
    h("p", {}, t("pair.intro")),
    h("div", { class: "row" }, scanButton),
    warnings,
    status,
    result,
    empty,
    list,
  );
  el.id = "pair";
  return {
    el,
    load,
    destroy: () => clearInterval(poller),
  };
}

// ------------------------------------------------------------------ 2. paired devices
function deviceCard(device, { removed, rooms }) {
  const id = nextId("dev");
  const heading = h("h3", {});
  const facts = h("p", { class: "muted" });
  const online = h("span", { class: "badge" });
  const status = h("p", { role: "status", class: "ok" });
  const error = h("p", { class: "error", role: "alert" });
  let current = device;

  const name = h("input", { id: `${id}-name`, required: true, maxlength: 80, autocomplete: "off" });
  const room = h("input", { id: `${id}-room`, list: rooms.id, maxlength: 80, autocomplete: "off" });
  const editForm = h(
    "form",
    { class: "edit-form", id: `${id}-edit`, hidden: true, onsubmit: (event) => { event.preventDefault(); save(); } },
    field(`${id}-name`, "pair.name", name),
    field(`${id}-room`, "pair.room", room),
    h("div", { class: "row" },
      h("button", { type: "submit", class: "primary" }, t("devices.save")),
      h("button", { type: "button", onclick: () => showEdit(false) }, t("cancel"))),
  );
  const editButton = h("button", { type: "button", "aria-expanded": "false", "aria-controls": editForm.id, onclick: () => showEdit(editForm.hidden) }, t("devices.edit"));
  const confirmText = h("p", {});
  const confirmBox = h(
    "div",
    { class: "confirm", hidden: true, role: "group", "aria-label": t("devices.remove") },
    confirmText,
    h("div", { class: "row" },
      h("button", { type: "button", class: "warn", onclick: () => remove() }, t("devices.confirm_yes")),
      h("button", { type: "button", onclick: () => { confirmBox.hidden = true; } }, t("cancel"))),
  );
  const removeButton = h("button", { type: "button", onclick: () => {
    confirmText.textContent = t("devices.confirm", { name: current.name });
    confirmBox.hidden = false;
    confirmBox.querySelector("button").focus();
  } }, t("devices.remove"));

  function showEdit(show) {
    editForm.hidden = !show;
    editButton.setAttribute("aria-expanded", String(show));
    if (show) {
      name.value = current.name;
      room.value = current.room || "";
      name.focus();
    }
  }

  async function save() {
    error.textContent = "";
    status.textContent = "";
    if (!name.value.trim()) {
      error.textContent = t("pair.name_required");
      return;
    }
    try {
      const body = { name: name.value.trim(), room: room.value.trim() };
      update(await api("PATCH", `/api/v1/devices/${encodeURIComponent(current.id)}`, body));
      showEdit(false);
      status.textContent = t("devices.saved");
    } catch (exc) {
      error.textContent = errorText(exc);
    }
  }

  async function remove() {
    error.textContent = "";
    try {
      await api("DELETE", `/api/v1/devices/${encodeURIComponent(current.id)}`);
      removed(current);
    } catch (exc) {
      error.textContent = exc.status === 404 ? t("devices.gone") : errorText(exc);
    }
  }

  function update(d) {
    current = d;
    heading.textContent = d.name;
    online.className = `badge ${d.online ? "good" : "bad"}`;
    online.textContent = d.online ? t("online") : t("offline");
    facts.textContent = [
      `${t("devices.driver")}: ${d.driver}`,
      `${t("pair.room")}: ${d.room || "—"}`,
      ...radioFacts(d),
      t("devices.zones", { n: d.zones.length }),
    ].filter(Boolean).join(" · ");
    editButton.setAttribute("aria-label", t("devices.edit_label", { name: d.name }));
    removeButton.setAttribute("aria-label", t("devices.remove_label", { name: d.name }));
  }

  const el = h(
    "article",
    { class: "card device", "data-device": device.id },
    h("div", {}, heading, online),
    facts,
    h("div", { class: "row" }, editButton, removeButton),
    editForm,
    confirmBox,
    status,
    error,
  );
  update(device);
  return { el, update };
}

function devicesSection(rooms, onRemoved) {
  const list = h("div", { id: "devices" });
  const empty = h("p", { class: "muted", hidden: true }, t("devices.empty"));
  const result = h("p", { id: "devices-result", role: "status", class: "ok" });
  const error = h("p", { class: "error", role: "alert" });
  const cards = new Map();
  const driverOfZone = new Map();

  function removed(device) {
    cards.get(device.id)?.el.remove();
    cards.delete(device.id);
    empty.hidden = cards.size > 0;
    result.textContent = t("devices.removed", { name: device.name });
    onRemoved();
  }

  async function load() {
    try {
      const [{ items }, zones] = await Promise.all([api("GET", "/api/v1/devices"), api("GET", "/api/v1/zones")]);
      const driverOf = new Map(items.map((d) => [d.id, d.driver]));
      driverOfZone.clear();
      for (const z of zones.items) driverOfZone.set(z.id, driverOf.get(z.device));
      items.sort((a, b) => (a.room || "").localeCompare(b.room || "") || a.name.localeCompare(b.name));
      sync(list, cards, items, (d) => d.id, (d) => deviceCard(d, { removed, rooms }));
      empty.hidden = cards.size > 0;
      const names = [...new Set(items.map((d) => d.room).filter(Boolean))].sort();
      rooms.replaceChildren(...names.map((r) => h("option", { value: r })));
      error.textContent = "";
    } catch (exc) {
      error.textContent = errorText(exc);
    }
  }

  const el = section("devices.section", result, error, empty, list);
  el.id = "paired";
  const signalText = (zone, signal) => (known(signal) ? `${t("signal")}: ${signal} ${signalUnit(driverOfZone.get(zone))}` : "");
  return { el, load, signalText };
}

// ------------------------------------------------------------------ 3. walk test
function zoneLine(z, extra) {
  const where = [z.room, z.kind ? t(`kind.${z.kind}`) : ""].filter(Boolean).join(", ");
  return h("li", { "data-zone": z.zone }, h("strong", {}, z.name || z.zone), where ? ` · ${where}` : "", extra ? ` · ${extra}` : "");
}

function walkTestSection(signalText) {
  const minutes = h("select", { id: "wt-minutes" },
    WALK_MINUTES.map((m) => h("option", { value: String(m), selected: m === WALK_DEFAULT }, t("wt.min", { n: m }))));
  const start = h("button", { type: "button", id: "wt-start", class: "primary", onclick: () => begin() }, t("wt.start"));
  const stop = h("button", { type: "button", id: "wt-stop", class: "warn", hidden: true, onclick: () => end() }, t("wt.stop"));
  const startBox = h("div", { id: "wt-start-box" }, field("wt-minutes", "wt.minutes", minutes), h("div", { class: "row" }, start));
  const status = h("p", { id: "wt-status", role: "status", class: "wt-status" });
  const countdown = h("p", { id: "wt-countdown", class: "countdown", "aria-live": "off" });
  const error = h("p", { id: "wt-error", class: "error", role: "alert" });
  const results = h("div", { id: "wt-results" });
  let running = false;
  let deadline = null; // performance.now() at which the running test ends
  let tested = -1;
  let mode = null; // the system's mode: an output is tried only while disarmed

  // `remaining` (seconds, from the hub's clock) sets the countdown: the phone's clock may be off.
  function draw(w, remaining) {
    running = Boolean(w.active);
    let testedList = w.tested || [];
    let untestedList = w.untested || [];
    let tampers = w.tampers || [];
    if (!running && w.started_at) {
      // Idle, the hub answers every zone's last result: show those of the last walk test only.
      const since = Date.parse(w.started_at);
      const earlier = testedList.filter((z) => Date.parse(z.at) < since);
      testedList = testedList.filter((z) => Date.parse(z.at) >= since);
      untestedList = [...earlier.map(({ zone, name, room, kind }) => ({ zone, name, room, kind })), ...untestedList];
      tampers = tampers.filter((z) => Date.parse(z.at) >= since);
    }
    startBox.hidden = running;
    stop.hidden = !running;
    if (!running) deadline = null;
    else if (known(remaining)) deadline = performance.now() + remaining * 1000;
    else if (deadline === null) deadline = performance.now() + (Date.parse(w.ends_at) - Date.now());
    status.textContent = running ? t("wt.running", { time: clock(w.ends_at) }) : t(w.started_at ? "wt.ended" : "wt.idle");
    tick();
    tested = testedList.length;
    if (!running && !w.started_at) {
      results.replaceChildren(walkOutputs(w.outputs, null, mode)); // no walk test ever ran: only the outputs to try
      return;
    }
    const when = (z) => [clock(z.at), signalText(z.zone, z.signal)].filter(Boolean).join(" · ");
    results.replaceChildren(
      h("h3", {}, t("wt.tested", { n: testedList.length })),
      testedList.length
        ? h("ul", { class: "list tested", id: "wt-tested" }, testedList.map((z) => zoneLine(z, when(z))))
        : h("p", { class: "muted", id: "wt-tested-none" }, t("wt.none_tested")),
      h("h3", {}, t("wt.untested", { n: untestedList.length })),
      untestedList.length
        ? h("ul", { class: "list untested", id: "wt-untested" }, untestedList.map((z) => zoneLine(z)))
        : h("p", { class: "ok", id: "wt-untested-none" }, t("wt.all_tested")),
      tampers.length ? h("h3", {}, t("wt.tampers")) : "",
      tampers.length ? h("ul", { class: "list", id: "wt-tampers" }, tampers.map((z) => zoneLine(z, clock(z.at)))) : "",
      walkOutputs(w.outputs, w.started_at, mode), // sirens and valves: tried with their own button
    );
  }

  function tick() {
    countdown.textContent = deadline === null ? "" : mmss((deadline - performance.now()) / 1000);
  }

  async function load() {
    try {
      const [walk, system] = await Promise.all([api("GET", "/api/v1/pairing/walktest"), api("GET", "/api/v1/system")]);
      mode = system.mode;
      draw(walk, system.walk_test?.remaining);
      error.textContent = "";
    } catch (exc) {
      error.textContent = exc.status === 404 ? t("wt.unavailable") : errorText(exc);
    }
  }

  async function begin() {
    error.textContent = "";
    try {
      const chosen = Number(minutes.value);
      draw(await api("POST", "/api/v1/pairing/walktest", { minutes: chosen }), chosen * 60);
    } catch (exc) {
      if (exc.body?.error === "system_armed") error.textContent = t("wt.not_disarmed");
      else if (exc.body?.error === "walk_test_active") {
        error.textContent = t("wt.active");
        load();
      } else error.textContent = errorText(exc);
    }
  }

  async function end() {
    error.textContent = "";
    try {
      draw(await api("DELETE", "/api/v1/pairing/walktest"));
    } catch (exc) {
      error.textContent = exc.body?.error === "no_walk_test" ? t("wt.idle") : errorText(exc);
      load();
    }
  }

  const later = debounce(load, 150);
  const timer = setInterval(tick, 500);
  const el = section("wt.section", h("p", {}, t("wt.intro")), startBox, status, countdown, h("div", { class: "row" }, stop), error, results);
  el.id = "walktest";
  return {
    el,
    load,
    onMessage(message) {
      if (message.type === "event" && String(message.kind || "").startsWith("walk_test")) later();
      else if (message.type === "event" && ["output_status", "output_changed", "output_removed"].includes(message.kind)) later();
      else if (message.type === "system") {
        if (message.system && message.system.mode !== mode) {
          mode = message.system.mode;
          later();
        }
        const w = message.system?.walk_test;
        if (Boolean(w?.active) !== running) later();
        else if (w?.active) {
          if (known(w.remaining)) deadline = performance.now() + w.remaining * 1000;
          const count = Array.isArray(w.tested) ? w.tested.length : w.tested;
          if (known(count) && count !== tested) later();
        }
      }
    },
    destroy: () => clearInterval(timer),
  };
}

// ------------------------------------------------------------------ the page
export function pairingView(root) {
  root.append(h("h1", {}, t("pair.title")));
  if (!INSTALLERS.includes(ME.role)) {
    root.append(h("p", { class: "error", id: "forbidden" }, t("forbidden")));
    return {};
  }
  const rooms = h("datalist", { id: "pair-rooms" }); // the rooms in use, offered by every room field
  const devices = devicesSection(rooms, () => pair.load()); // a removed device is a candidate again
  const pair = pairSection(() => devices.load());
  const walk = walkTestSection(devices.signalText);
  const outputs = outputsSection();
  // The device list grows long on a phone: buttons to the parts below the first (not #anchors, which
  // would go through the router's popstate and rebuild the page).
  const jump = (el, key) => h("button", { type: "button", class: "jump", onclick: () => el.scrollIntoView() }, t(key));
  root.append(
    h("div", { class: "row", id: "pairing-parts" },
      jump(walk.el, "wt.section"), jump(outputs.el, "out.section"), jump(devices.el, "devices.section")),
    rooms,
    pair.el,
    walk.el, // before the device list, which can be long: the installer pairs, then walks the house
    outputs.el,
    devices.el,
  );

  const refresh = () => {
    pair.load();
    devices.load();
    walk.load();
    outputs.load();
  };
  const laterDevices = debounce(devices.load, 300);
  refresh();
  return {
    refresh,
    onMessage(message) {
      walk.onMessage(message);
      outputs.onMessage(message);
      // Pairing and removal (here, in the CLI or elsewhere) show as the zones they create or remove.
      if (message.type === "event" && DEVICE_EVENTS.has(message.kind)) laterDevices();
      else if (message.type === "anomaly") laterDevices(); // a device went offline or came back
    },
    destroy() {
      pair.destroy();
      walk.destroy();
    },
  };
}

// ------------------------------------------------------------------ banner on every page
// app.js calls this with every system snapshot: while a walk test runs the alarms are off,
// and whoever looks at any page of the dashboard must know it and until when. The household
// (owner and member) can end it from there: it silences their alarms, whoever started it.
const STOPPERS = ["owner", "member"];

async function stopFromBanner(button, note) {
  button.disabled = true;
  note.textContent = "";
  try {
    await api("DELETE", "/api/v1/pairing/walktest");
  } catch (exc) {
    if (exc.body?.error !== "no_walk_test") note.textContent = errorText(exc); // ended meanwhile: fine
  } finally {
    button.disabled = false;
  }
}

export function walkTestBanner(system) {
  let banner = document.getElementById("walktest-banner");
  if (!banner) {
    const text = h("span", { id: "walktest-banner-text", role: "status" });
    const note = h("span", { class: "error", role: "alert" });
    const stop = h("button", { type: "button", id: "walktest-banner-stop", class: "warn", hidden: !STOPPERS.includes(ME.role) },
      t("wt.stop"));
    stop.onclick = () => stopFromBanner(stop, note);
    banner = h("div", { id: "walktest-banner", class: "banner banner-warn", hidden: true }, text, " ", stop, note);
    document.getElementById("offline").after(banner);
  }
  const walk = system?.walk_test;
  banner.hidden = !walk?.active;
  const text = walk?.active ? t("wt.banner", { time: clock(walk.ends_at) }) : "";
  const line = document.getElementById("walktest-banner-text");
  if (line.textContent !== text) line.textContent = text; // a live region: say it once, not per snapshot
}
