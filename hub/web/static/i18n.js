// Texts of the dashboard in Italian (default) and English. t("key", {var}) fills {var}.
const TEXTS = {
  it: {
    skip: "Vai al contenuto", loading: "Caricamento…", connecting: "Connessione…", connected: "Collegato",
    disconnected: "Hub non raggiungibile: riconnessione in corso…", offline_short: "Non collegato",
    logout: "Esci", lang_switch: "English", cancel: "Annulla", ok: "Conferma", code: "Codice",
    bypass_arm: "Escludi e inserisci", close: "Chiudi", back: "Indietro", none: "Nessuno",
    "nav.home": "Casa", "nav.incidents": "Allarmi", "nav.zones": "Zone e dispositivi", "nav.history": "Storico",
    "nav.anomalies": "Anomalie", "nav.settings": "Impostazioni",
    "nav.camera": "Telecamere", "camera.title": "Telecamere", "camera.none": "Nessuna telecamera configurata.",
    "camera.offline": "Non in linea", "camera.live": "In diretta", "camera.installer": "Le immagini sono visibili solo alla famiglia.",
    "camera.alt": "Immagine dal vivo: {name}", "camera.snapshots": "Foto dell'allarme",
    "login.title": "Accesso", "login.username": "Nome utente", "login.password": "Password", "login.submit": "Entra",
    "login.wrong": "Nome utente o password errati.", "login.locked": "Troppi tentativi: riprova tra {s} s.",
    "setup.title": "Configurazione iniziale", "setup.intro": "Crea il proprietario dell'impianto. Questa pagina è disponibile una sola volta.",
    "setup.password": "Password (almeno 8 caratteri)", "setup.code": "Codice di allarme (5–12 cifre)", "setup.submit": "Crea il proprietario",
    "mode.disarmed": "Disinserito", "mode.arming_home": "Inserimento casa in corso", "mode.arming_away": "Inserimento totale in corso",
    "mode.armed_home": "Inserito (casa)", "mode.armed_away": "Inserito (totale)", "mode.pending": "Ingresso: disinserisci ora",
    "mode.triggered": "ALLARME IN CORSO",
    "mode.hint.disarmed": "L'antifurto è spento. I sensori 24 ore (acqua, fumo, corrente, panico) restano attivi.",
    "mode.hint.armed_home": "Protette solo le zone perimetrali: puoi muoverti in casa.",
    "mode.hint.armed_away": "Tutta la casa è protetta.",
    "mode.hint.arming": "Esci ora: l'impianto si inserisce allo scadere del tempo.",
    "mode.hint.pending": "Una porta si è aperta: inserisci il codice prima dello scadere del tempo.",
    "mode.hint.triggered": "La sirena suona e la famiglia viene avvisata.",
    "delay.exit": "Uscita: {s} s", "delay.entry": "Ingresso: {s} s", "delay.siren": "Sirena: {s} s",
    arm_home: "Inserisci casa", arm_away: "Inserisci totale", disarm: "Disinserisci",
    "keypad.arm_home": "Codice per inserire (casa)", "keypad.arm_away": "Codice per inserire (totale)", "keypad.disarm": "Codice per disinserire",
    "keypad.clear": "Cancella", "keypad.back": "Cancella l'ultima cifra", "keypad.digit": "Cifra {d}",
    bad_code: "Codice errato.", locked: "Troppi codici errati: riprova tra {s} s.", not_ready: "Non pronto: zone aperte o guaste",
    "notready.title": "Zone non pronte", "reason.open": "aperta", "reason.offline": "non raggiungibile", "reason.tamper": "manomessa",
    ready: "Pronto per l'inserimento", "active.incidents": "Allarmi attivi", "active.anomalies": "Anomalie attive",
    no_incidents: "Nessun allarme attivo.", no_anomalies: "Nessuna anomalia.", ack: "Ho visto (conferma)", resolve: "Risolto",
    details: "Dettagli",
    "incident.kind.fire": "Incendio", "incident.kind.water": "Perdita d'acqua", "incident.kind.intrusion": "Intrusione",
    "incident.kind.power": "Mancanza di corrente", "incident.kind.panic": "Emergenza", "incident.kind.tamper": "Manomissione",
    "incident.kind.duress": "Coercizione",
    "incident.state.active": "attivo", "incident.state.acknowledged": "confermato", "incident.state.resolved": "risolto",
    "incident.state.cancelled": "annullato", confirmed: "confermato da più sensori",
    "incidents.title": "Allarmi", "incidents.empty": "Nessun allarme registrato.", opened: "Aperto", closed: "Chiuso",
    "snapshot.alt": "Foto della telecamera delle {at}",
    timeline: "Cronologia", activation: "Attivazione: {zone}", notification: "{channel} a {recipient}: {state}",
    "notif.state.scheduled": "programmato", "notif.state.pending": "in invio", "notif.state.sent": "consegnato",
    "notif.state.dead": "fallito", "notif.state.cancelled": "annullato", attempts: "tentativi: {n}",
    "zones.title": "Zone e dispositivi", "zones.no_room": "Senza stanza", zone_active: "attiva", zone_idle: "a riposo",
    online: "in linea", offline: "non in linea", battery: "Batteria", signal: "Segnale", last_seen: "Ultimo contatto",
    bypass: "Escludi", bypassed: "esclusa", tamper: "manomessa", battery_low: "batteria scarica",
    "kind.water": "acqua", "kind.smoke": "fumo", "kind.motion": "movimento", "kind.contact": "porta/finestra",
    "kind.power": "corrente", "kind.panic": "panico", "kind.camera": "telecamera",
    "history.title": "Storico eventi", "history.kind": "Tipo di evento", "history.zone": "Zona", "history.date": "Fino al giorno",
    "history.all": "Tutti", "history.csv": "Esporta CSV", "history.more": "Carica altri", "history.end": "Fine dello storico.",
    "history.empty": "Nessun evento.", "history.apply": "Filtra",
    "anomalies.title": "Anomalie", "anomalies.empty": "Nessuna anomalia registrata.", "anomaly.state.active": "attiva",
    "anomaly.state.resolved": "risolta", steps: "Cosa fare", device: "Dispositivo",
    "settings.title": "Impostazioni", "settings.language": "Lingua", "settings.push": "Notifiche sul telefono",
    "push.enable": "Attiva le notifiche", "push.on": "Notifiche attive su questo dispositivo.",
    "push.disabled": "Le notifiche app non sono abilitate su questo hub ([push] nella configurazione).",
    "push.unsupported": "Questo browser non supporta le notifiche push.", "push.denied": "Permesso negato dal browser.",
    "settings.delays": "Tempi (dalla configurazione)", "delay.exit_delay": "Ritardo di uscita", "delay.entry_delay": "Ritardo di ingresso",
    "delay.siren_time": "Durata sirena", "delay.abort_window": "Finestra di annullamento", "delay.confirmation_window": "Finestra di conferma",
    "delay.offline_grace": "Tolleranza sensore non raggiungibile", "delay.swinger_limit": "Attivazioni prima dell'esclusione",
    seconds: "{n} s",
    "settings.contacts": "Contatti e canali", "contacts.note": "I contatti sono nel file di configurazione ([[contacts]]): modificali lì e riavvia l'hub. Qui sotto chi ha ricevuto notifiche e su quali canali.",
    "contacts.empty": "Nessuna notifica inviata finora.",
    "settings.users": "Utenti e codici", "users.note": "Utenti, codici e codici di coercizione si gestiscono con `casahub user` sull'hub (l'API non li espone ancora).",
    "users.you": "Sei collegato come {user} ({role}).",
    "settings.installer": "Accesso installatore", "installer.note": "Crea un accesso temporaneo per l'installatore: consegnagli il codice qui sotto (testo o QR).",
    "installer.ttl": "Durata", "installer.create": "Crea accesso", "installer.expires": "Scade: {at}", "installer.token": "Token installatore",
    "ttl.1h": "1 ora", "ttl.4h": "4 ore", "ttl.24h": "1 giorno", "ttl.7d": "7 giorni",
    "settings.pairing": "Dispositivi e abbinamento", "pairing.paired": "abbinato", "pairing.candidate": "disponibile per l'abbinamento",
    "pairing.empty": "Nessun dispositivo in attesa di abbinamento.",
    "role.owner": "proprietario", "role.member": "familiare", "role.installer": "installatore",
    forbidden: "Non hai il permesso per questa pagina.", error: "Errore: {msg}", not_found: "Non trovato.",
  },
  en: {
    skip: "Skip to content", loading: "Loading…", connecting: "Connecting…", connected: "Connected",
    disconnected: "Hub unreachable: reconnecting…", offline_short: "Disconnected",
    logout: "Log out", lang_switch: "Italiano", cancel: "Cancel", ok: "Confirm", code: "Code",
    bypass_arm: "Bypass and arm", close: "Close", back: "Back", none: "None",
    "nav.home": "Home", "nav.incidents": "Incidents", "nav.zones": "Zones & devices", "nav.history": "History",
    "nav.anomalies": "Anomalies", "nav.settings": "Settings",
    "nav.camera": "Cameras", "camera.title": "Cameras", "camera.none": "No camera is configured.",
    "camera.offline": "Offline", "camera.live": "Live", "camera.installer": "Only the household can see the pictures.",
    "camera.alt": "Live picture: {name}", "camera.snapshots": "Alarm photos",
    "login.title": "Log in", "login.username": "Username", "login.password": "Password", "login.submit": "Log in",
    "login.wrong": "Wrong username or password.", "login.locked": "Too many attempts: try again in {s} s.",
    "setup.title": "First setup", "setup.intro": "Create the owner of the system. This page is available only once.",
    "setup.password": "Password (at least 8 characters)", "setup.code": "Alarm code (5–12 digits)", "setup.submit": "Create the owner",
    "mode.disarmed": "Disarmed", "mode.arming_home": "Arming (home)", "mode.arming_away": "Arming (away)",
    "mode.armed_home": "Armed (home)", "mode.armed_away": "Armed (away)", "mode.pending": "Entry: disarm now",
    "mode.triggered": "ALARM",
    "mode.hint.disarmed": "The intrusion alarm is off. 24-hour sensors (water, smoke, power, panic) stay active.",
    "mode.hint.armed_home": "Only the perimeter is armed: you can move around the house.",
    "mode.hint.armed_away": "The whole house is armed.",
    "mode.hint.arming": "Leave now: the system arms when the countdown ends.",
    "mode.hint.pending": "A door opened: enter your code before the countdown ends.",
    "mode.hint.triggered": "The siren is sounding and the household is being notified.",
    "delay.exit": "Exit: {s} s", "delay.entry": "Entry: {s} s", "delay.siren": "Siren: {s} s",
    arm_home: "Arm home", arm_away: "Arm away", disarm: "Disarm",
    "keypad.arm_home": "Code to arm (home)", "keypad.arm_away": "Code to arm (away)", "keypad.disarm": "Code to disarm",
    "keypad.clear": "Clear", "keypad.back": "Delete the last digit", "keypad.digit": "Digit {d}",
    bad_code: "Wrong code.", locked: "Too many wrong codes: try again in {s} s.", not_ready: "Not ready: open or faulty zones",
    "notready.title": "Zones not ready", "reason.open": "open", "reason.offline": "offline", "reason.tamper": "tampered",
    ready: "Ready to arm", "active.incidents": "Active incidents", "active.anomalies": "Active anomalies",
    no_incidents: "No active incidents.", no_anomalies: "No anomalies.", ack: "Acknowledge", resolve: "Resolve",
    details: "Details",
    "incident.kind.fire": "Fire", "incident.kind.water": "Water leak", "incident.kind.intrusion": "Intrusion",
    "incident.kind.power": "Power failure", "incident.kind.panic": "Emergency", "incident.kind.tamper": "Tamper",
    "incident.kind.duress": "Duress",
    "incident.state.active": "active", "incident.state.acknowledged": "acknowledged", "incident.state.resolved": "resolved",
    "incident.state.cancelled": "cancelled", confirmed: "confirmed by several sensors",
    "incidents.title": "Incidents", "incidents.empty": "No incidents recorded.", opened: "Opened", closed: "Closed",
    "snapshot.alt": "Camera photo at {at}",
    timeline: "Timeline", activation: "Activation: {zone}", notification: "{channel} to {recipient}: {state}",
    "notif.state.scheduled": "scheduled", "notif.state.pending": "sending", "notif.state.sent": "delivered",
    "notif.state.dead": "failed", "notif.state.cancelled": "cancelled", attempts: "attempts: {n}",
    "zones.title": "Zones & devices", "zones.no_room": "No room", zone_active: "active", zone_idle: "idle",
    online: "online", offline: "offline", battery: "Battery", signal: "Signal", last_seen: "Last seen",
    bypass: "Bypass", bypassed: "bypassed", tamper: "tampered", battery_low: "battery low",
    "kind.water": "water", "kind.smoke": "smoke", "kind.motion": "motion", "kind.contact": "door/window",
    "kind.power": "power", "kind.panic": "panic", "kind.camera": "camera",
    "history.title": "Event history", "history.kind": "Event kind", "history.zone": "Zone", "history.date": "Up to day",
    "history.all": "All", "history.csv": "Export CSV", "history.more": "Load more", "history.end": "End of history.",
    "history.empty": "No events.", "history.apply": "Filter",
    "anomalies.title": "Anomalies", "anomalies.empty": "No anomalies recorded.", "anomaly.state.active": "active",
    "anomaly.state.resolved": "resolved", steps: "What to do", device: "Device",
    "settings.title": "Settings", "settings.language": "Language", "settings.push": "Phone notifications",
    "push.enable": "Enable notifications", "push.on": "Notifications are on for this device.",
    "push.disabled": "App notifications are not enabled on this hub ([push] in the config).",
    "push.unsupported": "This browser does not support push notifications.", "push.denied": "The browser denied the permission.",
    "settings.delays": "Timings (from the config)", "delay.exit_delay": "Exit delay", "delay.entry_delay": "Entry delay",
    "delay.siren_time": "Siren time", "delay.abort_window": "Abort window", "delay.confirmation_window": "Confirmation window",
    "delay.offline_grace": "Offline grace period", "delay.swinger_limit": "Trips before bypass",
    seconds: "{n} s",
    "settings.contacts": "Contacts and channels", "contacts.note": "Contacts live in the config file ([[contacts]]): edit them there and restart the hub. Below: who has received notifications, on which channels.",
    "contacts.empty": "No notification sent so far.",
    "settings.users": "Users and codes", "users.note": "Users, codes and duress codes are managed with `casahub user` on the hub (the API does not expose them yet).",
    "users.you": "You are logged in as {user} ({role}).",
    "settings.installer": "Installer access", "installer.note": "Create temporary access for the installer: hand over the code below (text or QR).",
    "installer.ttl": "Duration", "installer.create": "Create access", "installer.expires": "Expires: {at}", "installer.token": "Installer token",
    "ttl.1h": "1 hour", "ttl.4h": "4 hours", "ttl.24h": "1 day", "ttl.7d": "7 days",
    "settings.pairing": "Devices and pairing", "pairing.paired": "paired", "pairing.candidate": "ready to pair",
    "pairing.empty": "No device waiting to be paired.",
    "role.owner": "owner", "role.member": "member", "role.installer": "installer",
    forbidden: "You may not open this page.", error: "Error: {msg}", not_found: "Not found.",
  },
};

export const LANGUAGES = ["it", "en"];
const KEY = "casahub.lang";

export function language() {
  const stored = localStorage.getItem(KEY);
  if (LANGUAGES.includes(stored)) return stored;
  const meta = document.querySelector('meta[name="casahub-language"]')?.content;
  return LANGUAGES.includes(meta) ? meta : "it";
}

export function setLanguage(lang) {
  if (LANGUAGES.includes(lang)) localStorage.setItem(KEY, lang);
}

export function t(key, vars = {}) {
  const lang = language();
  let text = TEXTS[lang][key] ?? TEXTS.it[key] ?? key;
  for (const [name, value] of Object.entries(vars)) text = text.replaceAll(`{${name}}`, String(value));
  return text;
}

// Translate every [data-i18n] element under root, and set <html lang>.
export function translate(root = document) {
  document.documentElement.lang = language();
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  const button = document.getElementById("lang");
  if (button) {
    const other = language() === "it" ? "en" : "it";
    button.textContent = other.toUpperCase();
    button.setAttribute("aria-label", other === "en" ? "English" : "Italiano");
  }
}
