// Settings, the owner's sections: users and their codes, the contacts the hub notifies, and
// saving the language of whoever is logged in. Built with DOM calls like the rest of the app:
// names and numbers typed by people never become markup.
import { language, setLanguage, t } from "./i18n.js";
import { qrSvg } from "./qr.js";
import { ME, api, errorText, h, section, when } from "./ui.js";

const ROLES = ["owner", "member", "installer"];
const CHANNELS = ["sms", "email", "push", "voice"];

// The language of this login: shown at once, saved on the hub so that it follows the user to
// a reload, a new login and another device. A failed save keeps the local choice.
export async function saveLanguage(lang) {
  setLanguage(lang);
  try {
    await api("PATCH", "/api/v1/session", { language: lang });
  } catch {
    /* kept in this browser; the next switch saves it again */
  }
}

export function languageSection(onChange) {
  const select = h("select", { id: "s-lang", onchange: () => onChange(select.value) },
    h("option", { value: "it", selected: language() === "it" }, "Italiano"),
    h("option", { value: "en", selected: language() === "en" }, "English"));
  return section("settings.language", h("label", { for: "s-lang" }, t("settings.language")), select);
}

function field(id, labelKey, input, help) {
  input.id = id;
  if (help) input.setAttribute("aria-describedby", `${id}-help`);
  return h("div", { class: "field" }, h("label", { for: id }, t(labelKey)), input, help ? h("p", { class: "muted", id: `${id}-help` }, help) : "");
}

function codeInput(extra = {}) {
  return h("input", { type: "password", inputmode: "numeric", pattern: "[0-9]*", maxlength: "12", autocomplete: "new-password", ...extra });
}

function checkbox(id, labelKey) {
  const box = h("input", { type: "checkbox", id });
  return [box, h("label", { for: id, class: "toggle" }, box, ` ${t(labelKey)}`)];
}

function roleSelect(current) {
  return h("select", {}, ROLES.map((r) => h("option", { value: r, selected: r === current }, t(`role.${r}`))));
}

// ------------------------------------------------------------------ temporary codes
// A user's window (when their codes work): shown and typed in the hub's wall-clock time. The hub
// answers times in its own zone ("2026-12-07T00:00:00+01:00"), so the text before the offset is
// what its clock reads; a datetime-local value without an offset is taken as the hub's time too.
const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

function hubTime(iso) {
  const [date, time] = iso.slice(0, 16).split("T");
  const [y, m, d] = date.split("-");
  return { date: `${d}/${m}/${y}`, time, ymd: [Number(y), Number(m), Number(d)] };
}

// "from 07/12/2026 00:00 · until 13/12/2026 included · Tue · 09:00–12:00"
export function windowText(w) {
  const parts = [];
  if (w.valid_from) {
    const at = hubTime(w.valid_from);
    parts.push(t("users.window_from", { at: at.time === "00:00" ? at.date : `${at.date} ${at.time}` }));
  }
  if (w.valid_until) {
    const at = hubTime(w.valid_until);
    if (at.time === "00:00") {  // the end of the day before, as people say it
      const day = new Date(Date.UTC(at.ymd[0], at.ymd[1] - 1, at.ymd[2] - 1));
      const d = `${String(day.getUTCDate()).padStart(2, "0")}/${String(day.getUTCMonth() + 1).padStart(2, "0")}/${day.getUTCFullYear()}`;
      parts.push(t("users.window_through", { at: d }));
    } else {
      parts.push(t("users.window_until", { at: `${at.date} ${at.time}` }));
    }
  }
  if (w.weekdays?.length) parts.push(w.weekdays.map((d) => t(`day.${d}`)).join(", "));
  if (w.hours) parts.push(w.hours.replace("-", "–"));
  return parts.join(" · ");
}

function windowEnded(w) {
  return Boolean(w?.valid_until) && Date.parse(w.valid_until) <= Date.now();
}

// The fields of a window; value() is null when they are all empty (the codes always work).
function windowFields(pre, current) {
  const w = current || {};
  const from = h("input", { type: "datetime-local", value: w.valid_from ? w.valid_from.slice(0, 16) : "" });
  const until = h("input", { type: "datetime-local", value: w.valid_until ? w.valid_until.slice(0, 16) : "" });
  const [start, end] = w.hours ? w.hours.split("-") : ["", ""];
  const hoursFrom = h("input", { type: "time", value: start });
  const hoursTo = h("input", { type: "time", value: end === "24:00" ? "00:00" : end });
  const days = WEEKDAYS.map((d) => {
    const [box, label] = checkbox(`${pre}-day-${d}`, `day.${d}`);
    box.value = d;
    box.checked = Boolean(w.weekdays?.includes(d));
    return [box, label];
  });
  const el = h("details", { class: "window", open: Boolean(current) },
    h("summary", {}, t("users.window")),
    h("p", { class: "muted" }, t("users.window_help")),
    field(`${pre}-from`, "users.window_from_label", from),
    field(`${pre}-until`, "users.window_until_label", until),
    h("fieldset", { class: "plain" }, h("legend", {}, t("users.window_days")),
      h("div", { class: "row" }, days.map(([, label]) => label))),
    h("div", { class: "row" },
      field(`${pre}-hours-from`, "users.window_hours_from", hoursFrom),
      field(`${pre}-hours-to`, "users.window_hours_to", hoursTo)));
  function value() {
    const out = {};
    if (from.value) out.valid_from = from.value;
    if (until.value) out.valid_until = until.value;
    const chosen = days.filter(([box]) => box.checked).map(([box]) => box.value);
    if (chosen.length) out.weekdays = chosen;
    if (hoursFrom.value || hoursTo.value) {
      // "00:00" as an end is the end of the day: 22:00-00:00 is the evening, not a span of nothing.
      const to = hoursTo.value === "00:00" && hoursFrom.value !== "00:00" ? "24:00" : hoursTo.value;
      out.hours = `${hoursFrom.value}-${to}`;
    }
    return Object.keys(out).length ? out : null;
  }
  return { el, value };
}

// An error of the API as one line: the field it names, in the user's words where we have them.
function problem(exc) {
  const error = exc?.body?.error || "";
  if (error === "last_owner") return t("users.last_owner");
  if (error === "owner_window") return t("users.owner_window");
  if (error === "user_exists") return t("users.exists");
  if (error === "self") return t("users.self");
  if (error === "name_taken") return t("contacts.name_taken");
  if (error === "from_config") return t("contacts.from_config");
  if (error.startsWith("invalid_field:")) {
    const name = exc.body.field;
    const label = t(`field.${name}`);
    // The hub names why with a stable code; its English message is the fallback.
    const why = exc.body.reason ? t(`why.${exc.body.reason}`) : "";
    const msg = why && why !== `why.${exc.body.reason}` ? why : exc.body.message || "";
    return t("field.invalid", { field: label === `field.${name}` ? name : label, msg });
  }
  return errorText(exc);
}

function confirmBox(textKey, vars, onYes, onNo) {
  return h("div", { class: "confirm", role: "alertdialog", "aria-label": t(textKey, vars) },
    h("p", {}, t(textKey, vars)),
    h("div", { class: "row" },
      h("button", { type: "button", class: "warn", onclick: onYes }, t("users.confirm_yes")),
      h("button", { type: "button", onclick: onNo }, t("cancel"))));
}

// ------------------------------------------------------------------ users and codes
export function usersSection() {
  const list = h("ul", { class: "people", id: "users" });
  const status = h("p", { role: "status", id: "u-status", class: "muted" });
  const error = h("p", { role: "alert", id: "u-error", class: "error" });
  const name = h("input", { autocomplete: "off", autocapitalize: "none", maxlength: "64", required: true });
  const password = h("input", { type: "password", autocomplete: "new-password", minlength: "8", required: true });
  const role = roleSelect("member");
  const code = codeInput();
  const duress = codeInput();
  const addWindow = windowFields("u-window", null);
  const form = h("form", { id: "u-add", class: "stack", onsubmit: (e) => { e.preventDefault(); add(); } },
    h("h3", {}, t("users.add")),
    field("u-name", "users.username", name),
    field("u-password", "users.password", password),
    field("u-role", "users.role", role),
    field("u-code", "users.code", code),
    field("u-duress", "users.duress", duress, t("users.duress_help")),
    addWindow.el,
    h("div", { class: "row" }, h("button", { type: "submit", class: "primary", id: "u-add-submit" }, t("users.submit"))));
  const el = section("settings.users",
    h("p", {}, t("users.you", { user: ME.user, role: t(`role.${ME.role}`) })),
    list, status, error, form);

  function say(text, isError = false) {
    status.textContent = isError ? "" : text;
    error.textContent = isError ? text : "";
  }

  function warned(body, doneKey, vars) {
    let text = t(doneKey, vars);
    if (body?.warnings?.includes("code_short")) text += ` ${t("users.code_short")}`;
    if (body?.warnings?.includes("window_ended")) text += ` ${t("users.window_ended_warning")}`;
    say(text);
  }

  async function add() {
    const body = { username: name.value.trim(), password: password.value, role: role.value };
    if (code.value) body.code = code.value;
    if (duress.value) body.duress_code = duress.value;
    const window = addWindow.value();
    if (window) body.window = window;
    try {
      const user = await api("POST", "/api/v1/users", body);
      form.reset();
      warned(user, "users.added", { user: user.username });
      await refresh();
    } catch (exc) {
      say(problem(exc), true);
    }
  }

  function editor(user, item) {
    const pre = `ue-${user.username}`;
    const r = roleSelect(user.role);
    const c = codeInput();
    const d = codeInput();
    const p = h("input", { type: "password", autocomplete: "new-password", minlength: "8" });
    const [dropCode, dropCodeLabel] = checkbox(`${pre}-nocode`, "users.remove_code");
    const [dropDuress, dropDuressLabel] = checkbox(`${pre}-noduress`, "users.remove_duress");
    const win = windowFields(`${pre}-window`, user.window);
    const before = JSON.stringify(win.value());
    const box = h("form", { class: "edit-form stack", onsubmit: async (e) => {
      e.preventDefault();
      const body = {};
      if (r.value !== user.role) body.role = r.value;
      if (dropCode.checked) body.code = "";
      else if (c.value) body.code = c.value;
      if (dropDuress.checked) body.duress_code = "";
      else if (d.value) body.duress_code = d.value;
      if (p.value) body.password = p.value;
      if (JSON.stringify(win.value()) !== before) body.window = win.value();  // null: always valid
      try {
        const changed = await api("PATCH", `/api/v1/users/${encodeURIComponent(user.username)}`, body);
        warned(changed, "users.saved", { user: user.username });
        await refresh();
      } catch (exc) {
        say(problem(exc), true);
      }
    } },
      field(`${pre}-role`, "users.role", r),
      field(`${pre}-code`, "users.new_code", c),
      user.has_code ? dropCodeLabel : "",
      field(`${pre}-duress`, "users.new_duress", d, t("users.duress_help")),
      user.has_duress ? dropDuressLabel : "",
      field(`${pre}-password`, "users.new_password", p),
      win.el,
      h("div", { class: "row" },
        h("button", { type: "submit", class: "primary", id: `${pre}-save` }, t("users.save")),
        h("button", { type: "button", onclick: () => box.remove() }, t("cancel"))));
    item.querySelector(".edit-form, .confirm")?.remove();
    item.append(box);
    r.focus();
  }

  function askRemove(user, item) {
    item.querySelector(".edit-form, .confirm")?.remove();
    const box = confirmBox("users.confirm", { user: user.username }, async () => {
      try {
        await api("DELETE", `/api/v1/users/${encodeURIComponent(user.username)}`);
        say(t("users.removed", { user: user.username }));
        await refresh();
      } catch (exc) {
        box.remove();
        say(problem(exc), true);
      }
    }, () => box.remove());
    item.append(box);
    box.querySelector("button").focus();
  }

  function row(user) {
    const item = h("li", { class: "person", "data-user": user.username });
    const me = user.username === ME.user;
    item.append(
      h("div", {},
        h("strong", {}, user.username), me ? ` ${t("users.you_label")}` : "", " ",
        h("span", { class: "badge" }, t(`role.${user.role}`)), " ",
        h("span", { class: `badge ${user.has_code ? "good" : "warn"}` }, t(user.has_code ? "users.has_code" : "users.no_code")), " ",
        user.has_duress ? h("span", { class: "badge" }, t("users.has_duress")) : "",
        user.window ? h("p", { class: "muted window-text" },
          h("span", { class: `badge ${windowEnded(user.window) ? "warn" : ""}` },
            t(windowEnded(user.window) ? "users.window_ended" : "users.temporary")), " ",
          windowText(user.window)) : ""),
      h("div", { class: "row" },
        h("button", { type: "button", "aria-label": t("users.edit_label", { user: user.username }), onclick: () => editor(user, item) }, t("users.edit")),
        me ? "" : h("button", { type: "button", class: "warn", "aria-label": t("users.remove_label", { user: user.username }), onclick: () => askRemove(user, item) }, t("users.remove"))),
    );
    return item;
  }

  async function refresh() {
    try {
      const { items } = await api("GET", "/api/v1/users");
      list.replaceChildren(...items.map(row));
    } catch (exc) {
      say(problem(exc), true);
    }
  }

  return { el, refresh };
}

// ------------------------------------------------------------------ contacts
export function contactsSection() {
  const list = h("ul", { class: "people", id: "contacts" });
  const status = h("p", { role: "status", id: "c-status", class: "muted" });
  const error = h("p", { role: "alert", id: "c-error", class: "error" });
  const title = h("h3", { id: "c-form-title" }, t("contacts.add"));
  const name = h("input", { autocomplete: "off", maxlength: "64", required: true });
  const phone = h("input", { type: "tel", autocomplete: "off", placeholder: "+39…" });
  const email = h("input", { type: "email", autocomplete: "off" });
  const lang = h("select", {}, h("option", { value: "it" }, "Italiano"), h("option", { value: "en" }, "English"));
  const [push, pushLabel] = checkbox("c-push", "contacts.push");
  const [voice, voiceLabel] = checkbox("c-voice", "contacts.voice");
  const cancel = h("button", { type: "button", id: "c-cancel", hidden: true, onclick: () => clear() }, t("cancel"));
  let editing = null; // the id of the contact in the form, or null for a new one
  const form = h("form", { id: "c-form", class: "stack", onsubmit: (e) => { e.preventDefault(); save(); } },
    title,
    field("c-name", "contacts.name", name),
    field("c-phone", "contacts.phone", phone),
    field("c-email", "contacts.email", email),
    field("c-lang", "contacts.language", lang),
    pushLabel, voiceLabel,
    h("div", { class: "row" }, h("button", { type: "submit", class: "primary", id: "c-submit" }, t("contacts.submit")), cancel));
  const el = section("settings.contacts", h("p", { class: "muted" }, t("contacts.note")), list, status, error, form);

  function say(text, isError = false) {
    status.textContent = isError ? "" : text;
    error.textContent = isError ? text : "";
  }

  function clear() {
    editing = null;
    form.reset();
    push.checked = true;
    lang.value = language();
    title.textContent = t("contacts.add");
    cancel.hidden = true;
  }

  function edit(contact) {
    editing = contact.id;
    name.value = contact.name;
    phone.value = contact.phone || "";
    email.value = contact.email || "";
    lang.value = contact.language;
    push.checked = contact.push;
    voice.checked = contact.voice;
    title.textContent = t("contacts.edit_title", { name: contact.name });
    cancel.hidden = false;
    name.focus();
  }

  async function save() {
    const body = { name: name.value.trim(), phone: phone.value.trim() || null, email: email.value.trim() || null, language: lang.value, push: push.checked, voice: voice.checked };
    try {
      const saved = editing === null
        ? await api("POST", "/api/v1/contacts", body)
        : await api("PATCH", `/api/v1/contacts/${encodeURIComponent(editing)}`, body);
      say(t("contacts.saved", { name: saved.name }));
      clear();
      await refresh();
    } catch (exc) {
      say(problem(exc), true);
    }
  }

  function askRemove(contact, item) {
    item.querySelector(".confirm")?.remove();
    const box = confirmBox("contacts.confirm", { name: contact.name }, async () => {
      try {
        await api("DELETE", `/api/v1/contacts/${encodeURIComponent(contact.id)}`);
        say(t("contacts.removed", { name: contact.name }));
        if (editing === contact.id) clear();
        await refresh();
      } catch (exc) {
        box.remove();
        say(problem(exc), true);
      }
    }, () => box.remove());
    item.append(box);
    box.querySelector("button").focus();
  }

  function row(contact) {
    const item = h("li", { class: "person", "data-contact": contact.id });
    const reach = [contact.phone, contact.email].filter(Boolean).join(" · ");
    item.append(
      h("div", {}, h("strong", {}, contact.name), ` (${contact.language.toUpperCase()})`),
      reach ? h("p", { class: "muted" }, reach) : "",
      h("p", { class: "channels", "aria-label": t("contacts.channels", { name: contact.name }) },
        CHANNELS.filter((c) => contact.channels.includes(c)).map((c) => h("span", { class: "badge good", "data-channel": c }, t(`channel.${c}`))),
        contact.channels.length ? "" : h("span", { class: "badge warn" }, t("contacts.no_channel"))),
      contact.source === "config"
        ? h("p", { class: "muted" }, h("span", { class: "badge" }, t("contacts.config")), " ", t("contacts.from_config"))
        : h("div", { class: "row" },
            h("button", { type: "button", "aria-label": t("contacts.edit_label", { name: contact.name }), onclick: () => edit(contact) }, t("users.edit")),
            h("button", { type: "button", class: "warn", "aria-label": t("contacts.remove_label", { name: contact.name }), onclick: () => askRemove(contact, item) }, t("users.remove"))),
    );
    return item;
  }

  async function refresh() {
    try {
      const { items } = await api("GET", "/api/v1/contacts");
      list.replaceChildren(...(items.length ? items.map(row) : [h("li", { class: "muted" }, t("contacts.empty"))]));
    } catch (exc) {
      say(problem(exc), true);
    }
  }

  clear();
  return { el, refresh };
}

// ------------------------------------------------------------------ alarm timings
// The owner's three timings (exit and entry delays, siren time) are a form; the others are shown.
// The hub keeps the installer's values (the config) apart from the ones changed here, so a reset
// always has somewhere to go back to; values outside EN 50131 grade 2 are saved with a warning.
const EDITABLE = ["exit_delay", "entry_delay", "siren_time"];
const SHOWN = ["abort_window", "confirmation_window", "offline_grace", "swinger_limit"];

export function delaysSection() {
  const inputs = new Map();
  const sources = new Map();
  const fields = EDITABLE.map((name) => {
    const id = `d-${name}`;
    const input = h("input", { type: "number", id, name, min: "0", max: "86400", step: "1", inputmode: "numeric", required: true,
      "aria-describedby": `${id}-source` });
    const source = h("p", { class: "muted", id: `${id}-source` });
    inputs.set(name, input);
    sources.set(name, source);
    return h("div", { class: "field" },
      h("label", { for: id }, t("delays.label", { name: t(`delay.${name}`) })),
      h("div", { class: "unit-input" }, input, h("span", { class: "unit", "aria-hidden": "true" }, t("delays.unit"))),
      source);
  });
  const others = h("dl", { class: "facts", id: "delays" });
  const warnings = h("ul", { class: "warnings", id: "d-warnings", role: "alert" });
  const status = h("p", { role: "status", id: "d-status", class: "muted" });
  const error = h("p", { role: "alert", id: "d-error", class: "error" });
  const form = h("form", { id: "d-form", class: "stack delays", novalidate: true, onsubmit: (e) => { e.preventDefault(); save(); } },
    ...fields,
    warnings,
    h("div", { class: "row" },
      h("button", { type: "submit", class: "primary", id: "d-save" }, t("delays.save")),
      h("button", { type: "button", id: "d-reset", onclick: () => reset() }, t("delays.reset"))),
    status, error);
  const el = section("settings.delays", h("p", { class: "muted" }, t("delays.note")), form, h("h3", {}, t("delays.others")), others);
  let shown = null; // the hub's last answer

  function say(text, isError = false) {
    status.textContent = isError ? "" : text;
    error.textContent = isError ? text : "";
  }

  function draw(answer) {
    shown = answer;
    for (const name of EDITABLE) {
      inputs.get(name).value = String(answer.settings[name]);
      sources.get(name).textContent = answer.source[name] === "dashboard"
        ? t("delays.changed", { n: answer.config[name] })
        : t("delays.installer");
    }
    others.replaceChildren(...SHOWN.flatMap((name) => [
      h("dt", {}, t(`delay.${name}`)),
      h("dd", {}, name === "swinger_limit" ? String(answer.settings[name]) : t("seconds", { n: answer.settings[name] })),
    ]));
    warnings.replaceChildren(...answer.warnings.map((w) =>
      h("li", { class: "warn", "data-warning": w.reason }, t(`delays.warn.${w.reason}`, { n: answer.settings[w.field] }))));
  }

  function problemOf(exc) {
    const name = exc?.body?.field;
    if (exc?.status === 400 && name) {
      const label = EDITABLE.includes(name) ? t(`delay.${name}`) : name;
      return t("field.invalid", { field: label, msg: t("delays.bad_value") });
    }
    return errorText(exc);
  }

  async function save() {
    const body = {};
    for (const name of EDITABLE) {
      const input = inputs.get(name);
      const value = input.valueAsNumber;
      if (input.value.trim() === "" || !Number.isFinite(value) || value < 0) {
        say(t("field.invalid", { field: t(`delay.${name}`), msg: t("delays.bad_value") }), true);
        input.focus();
        return;
      }
      if (!shown || value !== shown.settings[name]) body[name] = value;
    }
    try {
      draw(await api("PATCH", "/api/v1/system/settings", body));
      say(t("delays.saved"));
    } catch (exc) {
      say(problemOf(exc), true);
    }
  }

  async function reset() {
    try {
      draw(await api("DELETE", "/api/v1/system/settings"));
      say(t("delays.reset_done"));
    } catch (exc) {
      say(problemOf(exc), true);
    }
  }

  async function refresh() {
    try {
      draw(await api("GET", "/api/v1/system/settings"));
    } catch (exc) {
      say(problemOf(exc), true);
    }
  }

  return { el, refresh };
}

// ------------------------------------------------------------------ installer access
// The owner grants the installer a token that expires (8 hours unless chosen otherwise, at most
// 7 days), sees every access still valid and revokes any. The secret is shown once, here, at
// creation: the hub keeps only its digest and never lists it again.
const TTLS = [["3600", "ttl.1h"], ["14400", "ttl.4h"], ["28800", "ttl.8h"], ["86400", "ttl.24h"], ["604800", "ttl.7d"]];

export function tokensSection() {
  const ttl = h("select", { id: "s-ttl" }, TTLS.map(([v, k]) => h("option", { value: v, selected: v === "28800" }, t(k))));
  const out = h("div", { id: "installer-token", "aria-live": "polite" });
  const list = h("ul", { class: "people", id: "tokens" });
  const status = h("p", { role: "status", id: "tokens-status", class: "muted" });
  const error = h("p", { role: "alert", id: "tokens-error", class: "error" });
  const el = section("settings.installer",
    h("p", {}, t("installer.note")),
    h("label", { for: "s-ttl" }, t("installer.ttl")), ttl,
    h("button", { type: "button", id: "make-token", onclick: () => create() }, t("installer.create")),
    out,
    h("h3", {}, t("tokens.title")), list, status, error);

  async function create() {
    out.replaceChildren();
    error.textContent = "";
    try {
      const token = await api("POST", "/api/v1/tokens", { role: "installer", ttl: Number(ttl.value) });
      out.append(
        h("p", {}, h("code", { id: "token-text", class: "token" }, token.token)),
        h("p", {}, t("installer.expires", { at: when(token.expires_at) })),
        h("p", { class: "muted" }, t("installer.once")),
        qrSvg(token.token, t("installer.token")),
      );
      await refresh();
    } catch (exc) {
      out.textContent = errorText(exc);
    }
  }

  async function revoke(token) {
    error.textContent = "";
    try {
      await api("DELETE", `/api/v1/tokens/${encodeURIComponent(token.id)}`);
      status.textContent = t("tokens.revoked");
      await refresh();
    } catch (exc) {
      error.textContent = errorText(exc);
    }
  }

  function line(token) {
    const vars = { role: t(`role.${token.role}`), user: token.user, at: token.expires_at ? when(token.expires_at, { seconds: false }) : t("tokens.no_expiry") };
    // The hub's own label of a token granted here only repeats who granted it (and in English).
    const label = token.label && !token.label.startsWith("installer access from ") ? token.label : "";
    return h("li", { "data-token": token.id },
      h("span", {}, label ? h("strong", {}, label) : "", label ? " · " : "", t(token.user ? "tokens.line" : "tokens.line_no_user", vars)),
      " ",
      h("button", { type: "button", class: "warn", onclick: () => revoke(token) }, t("tokens.revoke")));
  }

  async function refresh() {
    try {
      const answer = await api("GET", "/api/v1/tokens");
      list.replaceChildren(...answer.items.map(line));
      if (!answer.items.length) list.append(h("li", { class: "muted" }, t("tokens.none")));
    } catch (exc) {
      error.textContent = errorText(exc);
    }
  }

  return { el, refresh };
}

// ------------------------------------------------------------------ schedules
// "Arm night at 23:30 Mon-Fri", "disarm at 07:00", "remind me at 09:00 if still off": the hub runs
// them (hub/core/scheduler.py). The modes and days come from the hub's answer, never a copy here.
function said(key, fallback) {
  const text = t(key);
  return text === key ? fallback : text;
}

// "2026-12-07T23:30:00+01:00" as the hub's clock reads it: "07/12/2026 23:30".
function hubClock(iso) {
  const [date, time] = iso.slice(0, 16).split("T");
  return `${date.split("-").reverse().join("/")} ${time}`;
}

export function schedulesSection() {
  const list = h("ul", { class: "people", id: "schedules" });
  const status = h("p", { role: "status", id: "sch-status", class: "muted" });
  const error = h("p", { role: "alert", id: "sch-error", class: "error" });
  const name = h("input", { autocomplete: "off", maxlength: "64", required: true });
  const action = h("select", {}, ["arm", "disarm", "remind"].map((a) => h("option", { value: a }, t(`schedules.action.${a}`))));
  const mode = h("select", {});
  const at = h("input", { type: "time", required: true, value: "23:30" });
  const days = h("fieldset", { class: "plain", id: "sch-days" }, h("legend", {}, t("schedules.days")));
  const [force, forceLabel] = checkbox("sch-force", "schedules.force");
  const code = codeInput({ autocomplete: "off" });
  const modeField = field("sch-mode", "schedules.mode", mode);
  const codeField = field("sch-code", "schedules.code", code);
  const form = h("form", { id: "sch-form", class: "stack", onsubmit: (e) => { e.preventDefault(); save(); } },
    h("h3", {}, t("schedules.add")),
    field("sch-name", "schedules.name", name),
    field("sch-action", "schedules.action", action),
    modeField,
    field("sch-at", "schedules.at", at),
    days, forceLabel, codeField,
    h("div", { class: "row" }, h("button", { type: "submit", class: "primary", id: "sch-submit" }, t("schedules.submit"))));
  const el = section("settings.schedules", h("p", { class: "muted" }, t("schedules.note")), list, status, error, form);
  let weekdays = [];

  function say(text, isError = false) {
    status.textContent = isError ? "" : text;
    error.textContent = isError ? text : "";
  }

  // Only what the chosen action takes: a mode to arm in or to end, force for an arming, the code for a disarm.
  function shape() {
    modeField.hidden = action.value === "remind";
    modeField.querySelector("label").textContent = t(action.value === "disarm" ? "schedules.disarm_mode" : "schedules.mode");
    forceLabel.hidden = action.value !== "arm";
    codeField.hidden = action.value !== "disarm";
  }
  action.addEventListener("change", shape);

  function choices(modes, dayNames) {
    if (!mode.options.length) mode.replaceChildren(...modes.map((m) => h("option", { value: m }, said(`schedules.mode.${m}`, m))));
    if (weekdays.length) return;
    weekdays = dayNames;
    for (const d of dayNames) {
      const [box, label] = checkbox(`sch-day-${d}`, `schedules.day.${d}`);
      box.value = d;
      days.append(label);
    }
  }

  function line(s) {
    const what = t(`schedules.action.${s.action}`) + (s.mode ? ` (${said(`schedules.mode.${s.mode}`, s.mode)})` : "");
    const when = s.weekdays.length ? s.weekdays.map((d) => t(`schedules.day.${d}`)).join(", ") : t("schedules.every_day");
    return t("schedules.line", { action: what, at: s.at, days: when });
  }

  function askRemove(s, item) {
    item.querySelector(".confirm")?.remove();
    const label = s.name ?? `#${s.id}`;
    const box = confirmBox("schedules.confirm", { name: label }, async () => {
      try {
        await api("DELETE", `/api/v1/schedules/${encodeURIComponent(s.id)}`);
        say(t("schedules.removed", { name: label }));
        await refresh();
      } catch (exc) {
        box.remove();
        say(problem(exc), true);
      }
    }, () => box.remove());
    item.append(box);
    box.querySelector("button").focus();
  }

  function row(s) {
    const item = h("li", { class: "person", "data-schedule": s.id });
    const label = s.name ?? `#${s.id}`;
    item.append(
      h("div", {}, h("strong", {}, label), ": ", s.action ? line(s) : t("schedules.unreadable")),
      h("p", { class: "muted" },
        s.next_run ? t("schedules.next", { when: hubClock(s.next_run) }) : "",
        s.force ? ` · ${t("schedules.force")}` : "",
        ` · ${t("schedules.by", { user: s.created_by })}`),
      h("div", { class: "row" },
        h("button", { type: "button", class: "warn", "aria-label": t("schedules.remove_label", { name: label }), onclick: () => askRemove(s, item) }, t("users.remove"))),
    );
    return item;
  }

  async function save() {
    const body = { name: name.value.trim(), action: action.value, at: at.value };
    if (action.value !== "remind") body.mode = mode.value;
    const chosen = [...days.querySelectorAll("input:checked")].map((box) => box.value);
    if (chosen.length) body.weekdays = chosen;
    if (action.value === "arm") body.force = force.checked;
    if (action.value === "disarm") body.code = code.value;
    try {
      const saved = await api("POST", "/api/v1/schedules", body);
      say(t("schedules.saved", { name: saved.name }));
      form.reset();
      shape();
      await refresh();
    } catch (exc) {
      const why = exc?.body?.error;
      say(why === "bad_code" ? t("bad_code") : problem(exc), true);
    } finally {
      code.value = "";
    }
  }

  async function refresh() {
    try {
      const answer = await api("GET", "/api/v1/schedules");
      choices(answer.modes, answer.weekdays);
      list.replaceChildren(...(answer.items.length ? answer.items.map(row) : [h("li", { class: "muted" }, t("schedules.empty"))]));
    } catch (exc) {
      say(problem(exc), true);
    }
  }

  shape();
  return { el, refresh };
}
