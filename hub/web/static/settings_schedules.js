// Settings > Schedules.
import { t } from "./i18n.js";
import { api, h, section } from "./ui.js";
import { checkbox, codeInput, confirmRemove, field, problem, said } from "./settings_common.js";

// ------------------------------------------------------------------ schedules
// "Arm night at 23:30 Mon-Fri", "disarm at 07:00", "remind me at 09:00 if still off": the hub runs
// them (hub/core/scheduler.py). The modes and days come from the hub's answer, never a copy here.
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
    confirmRemove(item, "schedules.confirm", { name: label }, async () => {
      await api("DELETE", `/api/v1/schedules/${encodeURIComponent(s.id)}`);
      say(t("schedules.removed", { name: label }));
      await refresh();
    }, say);
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
