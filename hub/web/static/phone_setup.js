// Settings › Phone (issue 18, item 2): a phone takes Web Push only from a
// page it trusts, so it installs the hub's own certificate authority first. A QR code per phone
// kind: Android downloads the root (GET /ca.crt), an iPhone its configuration profile
// (GET /ca.mobileconfig); both open without a login. The fingerprint is there to compare with
// what the phone shows. Without the hub's CA (TLS off, or the owner's own certificate) it says
// what to do instead: ntfy needs no certificate at all.
import { addTexts, t } from "./i18n.js";
import { qrSvg } from "./qr.js";
import { api, errorText, h } from "./ui.js";

addTexts({
  it: {
    "phone.why": "Il telefono mostra le notifiche della centrale solo se si fida del suo indirizzo. Una volta per telefono: inquadra il codice, installa il certificato della centrale, poi apri la centrale dal telefono e tocca «Attiva le notifiche» in Impostazioni › Canali e prove.",
    "phone.android": "Android", "phone.ios": "iPhone e iPad",
    "phone.qr.android": "Codice QR: certificato della centrale per Android",
    "phone.qr.ios": "Codice QR: profilo della centrale per iPhone e iPad",
    "phone.link": "Oppure apri questo indirizzo sul telefono:",
    "phone.steps.android": "Android: inquadra il codice e scarica il certificato. Poi Impostazioni › Sicurezza › Crittografia e credenziali › Installa un certificato › Certificato CA, e scegli «casahub-ca.crt».",
    "phone.steps.ios": "iPhone: inquadra il codice con la Fotocamera e apri il link in Safari, consenti il download. Poi Impostazioni › Generali › VPN e gestione dispositivi › installa «casahub». Infine Impostazioni › Generali › Info › Impostazioni certificati attendibili: attiva casahub.",
    "phone.fingerprint": "Impronta del certificato (confrontala con quella che mostra il telefono):",
    "phone.off": "La centrale non usa HTTPS, quindi il telefono non può ricevere le notifiche del browser. Usa ntfy (non serve nessun certificato) o chiedi all'installatore di attivare HTTPS.",
    "phone.own": "La centrale usa un certificato vostro: se il telefono lo riconosce già, tocca «Attiva le notifiche» in Impostazioni › Canali e prove. Altrimenti usa ntfy, che non ha bisogno di certificati.",
  },
  en: {
    "phone.why": "A phone shows the hub's notifications only when it trusts the hub's address. Once per phone: scan the code, install the hub's certificate, then open the hub on the phone and tap \"Enable notifications\" in Settings › Channels and tests.",
    "phone.android": "Android", "phone.ios": "iPhone and iPad",
    "phone.qr.android": "QR code: the hub's certificate for Android",
    "phone.qr.ios": "QR code: the hub's profile for iPhone and iPad",
    "phone.link": "Or open this address on the phone:",
    "phone.steps.android": "Android: scan the code and download the certificate. Then Settings › Security › Encryption & credentials › Install a certificate › CA certificate, and pick \"casahub-ca.crt\".",
    "phone.steps.ios": "iPhone: scan the code with the Camera, open the link in Safari and allow the download. Then Settings › General › VPN & Device Management › install \"casahub\". Last, Settings › General › About › Certificate Trust Settings: turn casahub on.",
    "phone.fingerprint": "The certificate's fingerprint (compare it with what the phone shows):",
    "phone.off": "The hub does not use HTTPS, so a phone cannot get browser notifications. Use ntfy (no certificate needed) or ask the installer to turn HTTPS on.",
    "phone.own": "The hub uses your own certificate: if the phone already trusts it, tap \"Enable notifications\" in Settings › Channels and tests. Otherwise use ntfy, which needs no certificate.",
  },
});

const PLATFORMS = ["android", "ios"];

// Fills `el` (the Settings sub-page /settings/phone, settings.js) once the hub has answered.
export async function render(el) {
  const body = h("div", { id: "phone-setup" });
  el.append(body);

  function show(setup, platform, box, buttons) {
    const url = setup.urls[platform];
    for (const b of buttons) b.setAttribute("aria-pressed", String(b.dataset.platform === platform));
    box.replaceChildren(
      qrSvg(url, t(`phone.qr.${platform}`)),
      h("p", { class: "muted" }, t("phone.link"), " ", h("a", { href: url, id: "phone-url", class: "token" }, url)),
      h("p", {}, t(`phone.steps.${platform}`)),
    );
    box.firstChild.id = "phone-qr";
    box.firstChild.dataset.platform = platform;
  }

  async function refresh() {
    try {
      const setup = await api("GET", "/api/v1/phone-setup");
      if (!setup.local_ca) {
        body.replaceChildren(h("p", { class: "muted", id: "phone-none" }, t(setup.reason === "own_certificate" ? "phone.own" : "phone.off")));
        return;
      }
      const box = h("div", { id: "phone-qr-box" });
      const buttons = PLATFORMS.map((p) => h("button", { type: "button", "data-platform": p, onclick: () => show(setup, p, box, buttons) }, t(`phone.${p}`)));
      body.replaceChildren(
        h("p", {}, t("phone.why")),
        h("div", { class: "row", role: "group" }, buttons),
        box,
        h("p", { class: "muted" }, t("phone.fingerprint")),
        h("p", {}, h("code", { id: "phone-fingerprint", class: "token" }, setup.fingerprint)),
      );
      show(setup, /iPhone|iPad/.test(navigator.userAgent) ? "ios" : "android", box, buttons);
    } catch (exc) {
      body.textContent = errorText(exc);
    }
  }

  await refresh();
  return el;
}
