// Settings > Contacts: who the hub tells of alarms and anomalies, and on which channels.
import { language, t } from "./i18n.js";
import { api, h, section } from "./ui.js";
import { CHANNELS, checkbox, confirmRemove, field, problem } from "./settings_common.js";

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
    confirmRemove(item, "contacts.confirm", { name: contact.name }, async () => {
      await api("DELETE", `/api/v1/contacts/${encodeURIComponent(contact.id)}`);
      say(t("contacts.removed", { name: contact.name }));
      if (editing === contact.id) clear();
      await refresh();
    }, say);
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

