// Settings > Installer access.
import { t } from "./i18n.js";
import { qrSvg } from "./qr.js";
import { api, errorText, h, section, when } from "./ui.js";

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

