// Settings > People and codes: users, their roles, alarm and duress codes, the windows in
// which a temporary code works, and the areas a member's codes may arm and disarm.
import { addTexts, t } from "./i18n.js";
import { ME, api, h, section } from "./ui.js";
import { areaNames, severalAreas } from "./areas.js";
import { checkbox, codeInput, confirmRemove, field, problem, roleSelect } from "./settings_common.js";

addTexts({
  it: {
    "users.areas": "Aree in cui valgono i suoi codici",
    "users.areas_help": "I suoi codici inseriscono e disinseriscono solo le aree scelte. Tutte scelte: tutta la casa, anche le aree aggiunte in seguito. Un proprietario vale sempre ovunque.",
    "field.areas": "Aree",
    "why.owner_areas": "i codici di un proprietario valgono in tutte le aree.",
    "why.unknown_area": "un'area che l'impianto non ha.",
    "why.no_area": "scegli almeno un'area.",
  },
  en: {
    "users.areas": "Areas their codes work in",
    "users.areas_help": "Their codes arm and disarm only the areas chosen. All chosen: the whole house, areas added later too. An owner's codes always work everywhere.",
    "field.areas": "Areas",
    "why.owner_areas": "an owner's codes work in every area.",
    "why.unknown_area": "an area the system does not have.",
    "why.no_area": "choose at least one area.",
  },
});

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

// ------------------------------------------------------------------ areas
// A checkbox per area of the house ({id, name}; nothing with one area), shown only while `role`
// is not owner: an owner is never limited. value(): null is every area (each box checked, so an
// area added later is theirs too), a list the areas chosen, [] none (refused before sending).
function areaFields(pre, houseAreas, current, role) {
  const areas = houseAreas.length > 1 ? houseAreas : [];
  const boxes = areas.map((a) => h("input", { type: "checkbox", id: `${pre}-${a.id}`, value: a.id,
    checked: current == null || current.includes(a.id) }));
  const initial = JSON.stringify(boxes.map((b) => b.checked));
  const el = areas.length ? h("fieldset", { class: "plain areas-choice", id: pre, "aria-describedby": `${pre}-help` },
    h("legend", {}, t("users.areas")),
    areas.map((a, i) => h("label", { class: "toggle", for: `${pre}-${a.id}` }, boxes[i], ` ${a.name}`)),
    h("p", { class: "muted", id: `${pre}-help` }, t("users.areas_help"))) : "";
  const shown = () => areas.length > 0 && role.value !== "owner";
  const sync = () => { if (el) el.hidden = !shown(); };
  role.addEventListener("change", sync);
  sync();
  function value() {
    const chosen = boxes.filter((b) => b.checked).map((b) => b.value);
    return chosen.length === boxes.length ? null : chosen;
  }
  const changed = () => JSON.stringify(boxes.map((b) => b.checked)) !== initial;
  return { el, shown, value, changed, sync };
}

// "Aree: Garage" for a user limited to areas, in a house with several; nothing otherwise.
function areasText(user, houseAreas) {
  if (!Array.isArray(user.areas) || houseAreas.length < 2) return "";
  return h("p", { class: "muted areas-text" }, t("areas.of", { areas: areaNames(user.areas, houseAreas).join(", ") }));
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
  // The house's areas ({id, name}), from GET /api/v1/system at each refresh; the add form's
  // checkboxes are made again when they change.
  let houseAreas = [];
  let addAreas = areaFields("u-areas", houseAreas, null, role);
  const areasSlot = h("div", { class: "areas-slot" });
  const form = h("form", { id: "u-add", class: "stack", onsubmit: (e) => { e.preventDefault(); add(); } },
    h("h3", {}, t("users.add")),
    field("u-name", "users.username", name),
    field("u-password", "users.password", password),
    field("u-role", "users.role", role),
    field("u-code", "users.code", code),
    field("u-duress", "users.duress", duress, t("users.duress_help")),
    areasSlot,
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
    if (addAreas.shown()) {
      const areas = addAreas.value();
      if (areas?.length === 0) return say(t("areas.required"), true);
      if (areas) body.areas = areas;
    }
    try {
      const user = await api("POST", "/api/v1/users", body);
      form.reset();  // the checkboxes back to every area, the role to member
      addAreas.sync();
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
    const places = areaFields(`${pre}-areas`, houseAreas, user.areas, r);
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
      if (places.shown() && places.changed()) {
        body.areas = places.value();  // null: every area
        if (body.areas?.length === 0) return say(t("areas.required"), true);
      }
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
      places.el,
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
    confirmRemove(item, "users.confirm", { user: user.username }, async () => {
      await api("DELETE", `/api/v1/users/${encodeURIComponent(user.username)}`);
      say(t("users.removed", { user: user.username }));
      await refresh();
    }, say);
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
          windowText(user.window)) : "",
        areasText(user, houseAreas)),
      h("div", { class: "row" },
        h("button", { type: "button", "aria-label": t("users.edit_label", { user: user.username }), onclick: () => editor(user, item) }, t("users.edit")),
        me ? "" : h("button", { type: "button", class: "warn", "aria-label": t("users.remove_label", { user: user.username }), onclick: () => askRemove(user, item) }, t("users.remove"))),
    );
    return item;
  }

  async function refresh() {
    try {
      const [{ items }, system] = await Promise.all([api("GET", "/api/v1/users"), api("GET", "/api/v1/system")]);
      const areas = severalAreas(system) ? system.areas.map(({ id, name }) => ({ id, name })) : [];
      if (JSON.stringify(areas) !== JSON.stringify(houseAreas)) {
        houseAreas = areas;
        addAreas = areaFields("u-areas", houseAreas, null, role);
        areasSlot.replaceChildren(addAreas.el);
      }
      list.replaceChildren(...items.map(row));
    } catch (exc) {
      say(problem(exc), true);
    }
  }

  return { el, refresh };
}

