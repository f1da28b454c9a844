// Settings > Alarm timings.
import { t } from "./i18n.js";
import { api, errorText, h, section } from "./ui.js";

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

