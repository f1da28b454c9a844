// Shared pieces of the Settings sub-pages (settings.js is the index): form fields, the API's
// refusals in the user's words, the confirmation box. Built with DOM calls: names and numbers
// typed by people never become markup.
import { t } from "./i18n.js";
import { errorText, h } from "./ui.js";

export const ROLES = ["owner", "member", "installer"];
export const CHANNELS = ["sms", "email", "push", "voice"];

export function field(id, labelKey, input, help) {
  input.id = id;
  if (help) input.setAttribute("aria-describedby", `${id}-help`);
  return h("div", { class: "field" }, h("label", { for: id }, t(labelKey)), input, help ? h("p", { class: "muted", id: `${id}-help` }, help) : "");
}

export function codeInput(extra = {}) {
  return h("input", { type: "password", inputmode: "numeric", pattern: "[0-9]*", maxlength: "12", autocomplete: "new-password", ...extra });
}

export function checkbox(id, labelKey) {
  const box = h("input", { type: "checkbox", id });
  return [box, h("label", { for: id, class: "toggle" }, box, ` ${t(labelKey)}`)];
}

export function roleSelect(current) {
  return h("select", {}, ROLES.map((r) => h("option", { value: r, selected: r === current }, t(`role.${r}`))));
}

// An error of the API as one line: the field it names, in the user's words where we have them.
export function problem(exc) {
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

export function confirmBox(textKey, vars, onYes, onNo) {
  return h("div", { class: "confirm", role: "alertdialog", "aria-label": t(textKey, vars) },
    h("p", {}, t(textKey, vars)),
    h("div", { class: "row" },
      h("button", { type: "button", class: "warn", onclick: onYes }, t("users.confirm_yes")),
      h("button", { type: "button", onclick: onNo }, t("cancel"))));
}

// Asks under a list's row before removing what it shows: the box takes the focus, yes runs
// `remove` (the DELETE, its message, the refresh), and a refusal of the hub is said in the
// user's words through `say` while the box goes.
export function confirmRemove(item, textKey, vars, remove, say) {
  const box = confirmBox(textKey, vars, async () => {
    try {
      await remove();
    } catch (exc) {
      box.remove();
      say(problem(exc), true);
    }
  }, () => box.remove());
  item.append(box);
  box.querySelector("button").focus();
}

// A text of the hub's vocabulary when the dashboard has words for it, else the hub's own.
export function said(key, fallback) {
  const text = t(key);
  return text === key ? fallback : text;
}
