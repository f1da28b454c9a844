// Settings, the owner's pages: an index of short sub-pages (/settings/people, /settings/contacts,
// ...), each one screen on a phone instead of one page of 3,700 px. Each sub-page lives in its
// own module (settings_people.js, settings_contacts.js, ...) and gives back {el, refresh?}; this
// module lists them, draws the index and the one asked for, and keeps the language choice.
import { addTexts, language, setLanguage, t } from "./i18n.js";
import { ME, api, h, section } from "./ui.js";
import { aboutSection } from "./settings_about.js";
import { backupSection } from "./settings_backup.js";
import { channelsSection } from "./settings_channels.js";
import { contactsSection } from "./settings_contacts.js";
import { delaysSection } from "./settings_delays.js";
import { tokensSection } from "./settings_installer.js";
import { usersSection } from "./settings_people.js";
import { schedulesSection } from "./settings_schedules.js";

export { anomalyChannel, channelName, recipientName } from "./settings_channels.js";
export { windowText } from "./settings_people.js";

addTexts({
  it: {
    "settings.back": "Impostazioni", "settings.open": "Apri {page}",
    "settings.hint.people": "Chi usa l'impianto, i ruoli, i codici di allarme e di coercizione.",
    "settings.hint.contacts": "Chi riceve allarmi e anomalie, e su quali canali.",
    "settings.hint.delays": "Tempi di uscita e di ingresso, durata della sirena.",
    "settings.hint.installer": "Un accesso a tempo per l'installatore.",
    "settings.hint.channels": "SMS, email, app: prova un canale, guarda quale non funziona.",
    "settings.hint.schedules": "Inserisci, disinserisci o ricordati dell'allarme a orari fissi.",
    "settings.hint.phone": "Prepara il telefono per le notifiche.",
    "settings.hint.backup": "Le copie di sicurezza e come ripristinarle.",
    "settings.hint.about": "Versione, dispositivi e verbale di collaudo.",
    "settings.phone": "Telefono", "settings.channels": "Canali e prove", "settings.backup": "Copie di sicurezza",
    "settings.about": "Informazioni",
  },
  en: {
    "settings.back": "Settings", "settings.open": "Open {page}",
    "settings.hint.people": "Who uses the system, their roles, alarm and duress codes.",
    "settings.hint.contacts": "Who gets alarms and anomalies, and on which channels.",
    "settings.hint.delays": "Exit and entry delays, siren time.",
    "settings.hint.installer": "Time-limited access for the installer.",
    "settings.hint.channels": "SMS, email, app: test a channel, see which one fails.",
    "settings.hint.schedules": "Arm, disarm or get a reminder at set times.",
    "settings.hint.phone": "Set up the phone for notifications.",
    "settings.hint.backup": "Backups and how to restore them.",
    "settings.hint.about": "Version, devices and the commissioning report.",
    "settings.phone": "Phone", "settings.channels": "Channels and tests", "settings.backup": "Backups",
    "settings.about": "About",
  },
});

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

// The phone setup page is another module's (phone_setup.js, exporting a render function): it is
// loaded only when opened, so that the other pages never wait for it.
async function phoneSetupSection() {
  const el = section("settings.phone");
  try {
    const module = await import("./phone_setup.js");
    const render = module.render || module.phoneSetupSection || module.default;
    const made = await render(el);
    if (made instanceof Node && made !== el) el.append(made);
    else if (made?.el instanceof Node) el.append(made.el);
  } catch (exc) {
    el.append(h("p", { class: "error" }, String(exc?.message || exc)));
  }
  return { el };
}
// True once phone_setup.js is in hub/web/static (another engineer's part of issue 18).
const PHONE_SETUP = true;

// slug, title key, build(options) -> {el, refresh?}; the hint is settings.hint.<slug>. The index's order:
// the (people first; the rarely opened last).
const PAGES = [
  ["people", "settings.users", usersSection],
  ["contacts", "settings.contacts", contactsSection],
  ["delays", "settings.delays", delaysSection],
  ["installer", "settings.installer", tokensSection],
  ["channels", "settings.channels", channelsSection],
  ...(PHONE_SETUP ? [["phone", "settings.phone", phoneSetupSection]] : []),
  ["schedules", "settings.schedules", schedulesSection],
  ["backup", "settings.backup", backupSection],
  ["about", "settings.about", aboutSection],
];

function indexView(root, options) {
  root.append(
    h("h1", {}, t("settings.title")),
    h("nav", { class: "subpages", "aria-label": t("settings.title") },
      h("ul", {}, PAGES.map(([slug, titleKey]) => h("li", {},
        h("a", { href: `/settings/${slug}`, "data-link": true, class: "subpage", id: `settings-${slug}` },
          h("strong", {}, t(titleKey)), h("span", { class: "muted" }, t(`settings.hint.${slug}`))))))),
    languageSection(options.onLanguage),
  );
  return {};
}

// One sub-page: a way back to the index, then the section with its title as the page's heading.
function subView(root, slug, options) {
  const page = PAGES.find(([s]) => s === slug);
  const back = h("p", { class: "back" }, h("a", { href: "/settings", "data-link": true, id: "settings-back" }, `← ${t("settings.back")}`));
  if (!page) {
    root.append(back, h("p", {}, t("not_found")));
    return {};
  }
  const body = h("div", { class: "subpage-body", "data-settings": slug });
  root.append(back, body);
  const draw = (part) => {
    const heading = part.el.querySelector(":scope > h2");
    if (heading) heading.replaceWith(h("h1", {}, heading.textContent));
    body.replaceChildren(part.el);
    return part;
  };
  const made = page[2](options);
  if (made instanceof Promise) {
    let part = null;
    made.then((p) => { part = draw(p); part.refresh?.(); });
    return { refresh: () => part?.refresh?.(), onMessage: (m) => part?.onMessage?.(m), destroy: () => part?.destroy?.() };
  }
  const part = draw(made);
  part.refresh?.();
  return { refresh: () => part.refresh?.(), onMessage: (m) => part.onMessage?.(m), destroy: () => part.destroy?.() };
}

// The view of /settings and /settings/<slug>. `app` gives what lives in app.js: pushBlock (this
// device's notifications) and rerender (after a language change).
export function settingsView(root, slug, app) {
  if (ME.role !== "owner") {
    root.append(h("h1", {}, t("settings.title")), h("p", { class: "error", id: "forbidden" }, t("forbidden")));
    return {};
  }
  const options = { pushBlock: app.pushBlock, onLanguage: (lang) => { saveLanguage(lang); app.rerender(); } };
  return slug ? subView(root, slug, options) : indexView(root, options);
}
