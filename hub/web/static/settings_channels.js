// Settings > Channels and tests: which notification channels the hub has, which one fails (an
// active channel_failure anomaly), and a test message on each, sent through the real outbox
// (POST /api/v1/channels/{channel}/test, hub/web/channels_api.py) whose outcome is followed on
// screen until it is delivered or given up. The anomaly page's channel_failure card uses the
// same test (anomalyChannel): the manual says "send a test message from the dashboard".
import { addTexts, duration, t } from "./i18n.js";
import { ME, api, errorText, h, section, when } from "./ui.js";

addTexts({
  it: {
    "channels.note": "Un messaggio di prova passa dalla stessa coda degli allarmi: se arriva, quel canale funziona. Va al tuo contatto (quello con il tuo nome utente) o a quello scelto qui.",
    "channels.recipient": "Destinatario delle prove", "channels.own": "{name} (tu)",
    "channels.to": "A: {names}", "channels.nobody": "Nessun contatto su questo canale.",
    "channels.configured": "attivo", "channels.demo": "demo: solo nel registro", "channels.not_configured": "non configurato",
    "channels.failing": "non riuscito", "channels.test": "Invia una prova", "channels.test_label": "Invia un messaggio di prova con {channel}",
    "channels.sending": "Prova in coda per {name}…", "channels.sent": "Consegnato a {name} ({at}).",
    "channels.dead": "Non consegnato a {name}: {why}", "channels.retrying": "Ancora in prova ({n} tentativi): {why}",
    "channels.waiting": "Nessuna risposta ancora: l'esito resta negli Allarmi > dettagli e nello Storico.",
    "channels.too_many": "Troppe prove: riprova tra {min}.", "channels.no_recipient": "Nessun contatto riceve questo canale: aggiungine uno in Contatti.",
    "channels.not_reachable": "{name} non riceve questo canale.", "channels.unconfigured": "Questo canale non è configurato (casahub.toml).",
    "channels.empty": "Nessun canale di notifica.", "channels.failed_channel": "Canale che non funziona: {channel}",
    "channels.open": "Canali e prove",
    "channel.ntfy": "ntfy", "channel.centre": "Collegamento DC-09", "channel.gsm": "SMS (modem)",
    "recipient.centre": "Centrale operativa", "recipient.household": "famiglia (tutti i telefoni iscritti)",
  },
  en: {
    "channels.note": "A test message goes through the same queue as the alarms: if it arrives, that channel works. It goes to your own contact (the one with your username) or to the one chosen here.",
    "channels.recipient": "Who gets the tests", "channels.own": "{name} (you)",
    "channels.to": "To: {names}", "channels.nobody": "No contact on this channel.",
    "channels.configured": "on", "channels.demo": "demo: log only", "channels.not_configured": "not configured",
    "channels.failing": "failing", "channels.test": "Send a test", "channels.test_label": "Send a test message with {channel}",
    "channels.sending": "Test queued for {name}…", "channels.sent": "Delivered to {name} ({at}).",
    "channels.dead": "Not delivered to {name}: {why}", "channels.retrying": "Still trying ({n} attempts): {why}",
    "channels.waiting": "No answer yet: the outcome stays in the History.",
    "channels.too_many": "Too many tests: try again in {min}.", "channels.no_recipient": "No contact gets this channel: add one in Contacts.",
    "channels.not_reachable": "{name} does not get this channel.", "channels.unconfigured": "This channel is not configured (casahub.toml).",
    "channels.empty": "No notification channel.", "channels.failed_channel": "Channel not working: {channel}",
    "channels.open": "Channels and tests",
    "channel.ntfy": "ntfy", "channel.centre": "DC-09 link", "channel.gsm": "SMS (modem)",
    "recipient.centre": "Monitoring centre", "recipient.household": "household (every subscribed phone)",
  },
});

// "sms" -> "SMS", "centre" -> "Collegamento DC-09": a channel in people's words.
export function channelName(channel) {
  const key = `channel.${channel}`;
  const text = t(key);
  return text === key ? channel : text;
}

// Who a message went to: a contact's name, or the household topic and the centre in words.
export function recipientName(recipient) {
  return ["centre", "household"].includes(recipient) ? t(`recipient.${recipient}`) : recipient;
}

// Sends one test and follows its outbox row on `out` until it is sent or dead (1 s apart, at
// most a minute; the row keeps its outcome in the history after that).
async function sendTest(channel, contact, out) {
  out.textContent = "";
  out.dataset.state = "";
  let answer;
  try {
    answer = await api("POST", `/api/v1/channels/${encodeURIComponent(channel)}/test`, contact ? { contact } : {});
  } catch (exc) {
    out.dataset.state = "refused";
    const why = exc?.body?.error;
    if (exc?.status === 429) {
      out.textContent = t("channels.too_many", { min: duration(exc.headers?.get("Retry-After") || 60) });
    } else if (why === "no_recipient") out.textContent = t("channels.no_recipient");
    else if (why === "not_reachable") out.textContent = t("channels.not_reachable", { name: contact });
    else if (why === "not_configured") out.textContent = t("channels.unconfigured");
    else out.textContent = errorText(exc);
    return;
  }
  const name = recipientName(answer.recipient);
  out.dataset.notification = answer.id;
  out.dataset.state = answer.state;
  out.textContent = t("channels.sending", { name });
  for (let i = 0; i < 60; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    let row;
    try {
      row = await api("GET", answer.notification);
    } catch {
      continue;
    }
    out.dataset.state = row.state;
    if (row.state === "sent") {
      out.textContent = t("channels.sent", { name, at: when(row.sent_at) });
      return;
    }
    if (row.state === "dead") {
      out.textContent = t("channels.dead", { name, why: row.last_error || "?" });
      return;
    }
    if (row.last_error) out.textContent = t("channels.retrying", { n: row.attempts, why: row.last_error });
  }
  out.textContent = t("channels.waiting");
}

function transportBadge(c) {
  if (c.failing) return h("span", { class: "badge warn", "data-failing": "" }, t("channels.failing"));
  if (!c.configured) return h("span", { class: "badge warn" }, t("channels.not_configured"));
  return h("span", { class: "badge good" }, t(c.transport === "log" ? "channels.demo" : "channels.configured"));
}

export function channelsSection({ pushBlock }) {
  const list = h("ul", { class: "people", id: "channels" });
  const recipient = h("select", { id: "ch-recipient" });
  const error = h("p", { role: "alert", id: "ch-error", class: "error" });
  const el = section("settings.channels",
    h("p", { class: "muted" }, t("channels.note")),
    h("div", { class: "field" }, h("label", { for: "ch-recipient" }, t("channels.recipient")), recipient),
    list, error,
    pushBlock ? pushBlock() : "");
  let answer = null;

  function row(c) {
    const out = h("p", { role: "status", class: "muted outcome", "data-outcome": c.channel });
    const contactChannel = ["sms", "email", "push", "voice"].includes(c.channel);
    const canTest = c.configured && (!contactChannel || c.recipients.includes(recipient.value));
    return h("li", { class: "person", "data-channel-row": c.channel },
      h("div", {}, h("strong", {}, channelName(c.channel)), " ", transportBadge(c)),
      h("p", { class: "muted" }, contactChannel
        ? (c.recipients.length ? t("channels.to", { names: c.recipients.join(", ") }) : t("channels.nobody"))
        : t("channels.to", { names: recipientName(c.channel === "centre" ? "centre" : "household") })),
      h("div", { class: "row" },
        h("button", { type: "button", "data-test-channel": c.channel, disabled: !canTest,
          "aria-label": t("channels.test_label", { channel: channelName(c.channel) }),
          onclick: () => sendTest(c.channel, contactChannel ? recipient.value : null, out) }, t("channels.test"))),
      out);
  }

  function draw() {
    if (!answer) return;
    list.replaceChildren(...(answer.items.length ? answer.items.map(row) : [h("li", { class: "muted" }, t("channels.empty"))]));
  }

  recipient.addEventListener("change", draw);

  async function refresh() {
    try {
      answer = await api("GET", "/api/v1/channels");
      const names = [...new Set(answer.items.flatMap((c) => c.recipients))];
      const chosen = recipient.value || answer.own || names[0] || "";
      recipient.replaceChildren(...names.map((n) =>
        h("option", { value: n, selected: n === chosen }, n === answer.own ? t("channels.own", { name: n }) : n)));
      error.textContent = "";
      draw();
    } catch (exc) {
      error.textContent = errorText(exc);
    }
  }

  return { el, refresh, onMessage: (m) => { if (m.type === "anomaly") refresh(); } };
}

// On a channel_failure anomaly's card: which channel failed, in words, and (for the owner) a
// test message on it right there, with a way to the Channels page.
export function anomalyChannel(anomaly) {
  if (anomaly.kind !== "channel_failure" || !anomaly.subject) return "";
  const out = h("p", { role: "status", class: "muted outcome", "data-outcome": anomaly.subject });
  const owner = ME.role === "owner";
  return h("div", { class: "anomaly-channel" },
    h("p", { class: "failed-channel" }, h("strong", {}, t("channels.failed_channel", { channel: channelName(anomaly.subject) }))),
    owner && anomaly.state === "active"
      ? h("div", { class: "row" },
          h("button", { type: "button", class: "primary", "data-test-channel": anomaly.subject,
            "aria-label": t("channels.test_label", { channel: channelName(anomaly.subject) }),
            onclick: () => sendTest(anomaly.subject, null, out) }, t("channels.test")),
          h("a", { href: "/settings/channels", "data-link": true, class: "button" }, t("channels.open")))
      : "",
    out);
}
