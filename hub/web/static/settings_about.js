// Settings > About: the hub's version, its devices and those waiting to be paired, and the
// commissioning report (the installer's record of the system, also the owner's to keep).
import { addTexts, language, t } from "./i18n.js";
import { api, errorText, h, section } from "./ui.js";

addTexts({
  it: {
    "about.version": "Versione di casahub: {v}", "about.report": "Verbale di collaudo (apri)",
    "about.report_note": "Il verbale elenca zone, dispositivi, canali, utenti e l'esito della verifica EN 50131: stampalo o salvalo.",
  },
  en: {
    "about.version": "casahub version: {v}", "about.report": "Commissioning report (open)",
    "about.report_note": "The report lists zones, devices, channels, users and the EN 50131 checklist: print or save it.",
  },
});

export function aboutSection() {
  const version = h("p", { id: "about-version" });
  const pairing = h("div", { id: "pairing" });
  const el = section("settings.about",
    version,
    h("p", {}, h("a", { href: `/api/v1/pairing/report?format=html&lang=${language()}`, target: "_blank", rel: "noopener", id: "about-report" }, t("about.report"))),
    h("p", { class: "muted" }, t("about.report_note")),
    h("h2", {}, t("settings.pairing")),
    pairing);

  async function refresh() {
    try {
      const health = await fetch("/api/v1/health", { cache: "no-store" }).then((r) => r.json());
      version.textContent = t("about.version", { v: health.version });
      const [devices, candidates] = await Promise.all([api("GET", "/api/v1/devices"), api("GET", "/api/v1/pairing/candidates")]);
      pairing.replaceChildren(
        h("ul", { class: "list" },
          devices.items.map((d) => h("li", {}, h("strong", {}, d.name), ` (${d.driver}, ${d.room || "—"}): ${t("pairing.paired")}, ${d.online ? t("online") : t("offline")}`)),
          candidates.items.map((c) => h("li", {}, h("strong", {}, c.suggested_name || c.model || c.address), ` (${c.driver}, ${c.address}): ${t("pairing.candidate")}`))),
        candidates.items.length ? "" : h("p", { class: "muted" }, t("pairing.empty")),
      );
    } catch (exc) {
      pairing.textContent = errorText(exc);
    }
  }

  return { el, refresh };
}
