// Settings > Backups: what the hub keeps and how to get it back. Backups are made and restored on
// the hub itself (`casahub backup`, `casahub restore`, the nightly `[backup]`): a restore replaces
// every user and code, so it is never a button on a page. Here: how, and whether the last nightly
// backup failed (the backup_failed anomaly).
import { addTexts, language, t } from "./i18n.js";
import { api, errorText, h, section } from "./ui.js";

addTexts({
  it: {
    "backup.note": "Una copia di sicurezza contiene tutto l'impianto: utenti e codici, contatti, zone e dispositivi, configurazione, certificati. Si fa e si ripristina sull'hub stesso, con i comandi qui sotto.",
    "backup.nightly": "Copia automatica ogni notte: con la sezione [backup] di casahub.toml (cartella, ora, quante tenerne, la password che le cifra), su una chiavetta USB o una cartella di rete.",
    "backup.now": "Fare una copia adesso", "backup.restore": "Ripristinare una copia (ferma prima l'hub)",
    "backup.failed": "L'ultima copia automatica non è riuscita: {title}", "backup.ok": "Nessun problema segnalato con le copie.",
    "backup.passphrase": "Conserva la password delle copie lontano dalla chiavetta: senza, una copia cifrata non si può ripristinare.",
  },
  en: {
    "backup.note": "A backup holds the whole system: users and codes, contacts, zones and devices, the config, certificates. It is made and restored on the hub itself, with the commands below.",
    "backup.nightly": "Automatic backup every night: with the [backup] section of casahub.toml (folder, time, how many to keep, the passphrase that encrypts them), on a USB stick or a network share.",
    "backup.now": "Make a backup now", "backup.restore": "Restore a backup (stop the hub first)",
    "backup.failed": "The last nightly backup failed: {title}", "backup.ok": "No problem reported with the backups.",
    "backup.passphrase": "Keep the backups' passphrase away from the stick: without it an encrypted backup cannot be restored.",
  },
});

const MAKE = "casahub backup /media/usb/casa.chb --passphrase-file /etc/casahub/backup.pass";
const RESTORE = "casahub restore /media/usb/casa.chb --passphrase-file /etc/casahub/backup.pass";

export function backupSection() {
  const state = h("p", { id: "backup-state", role: "status" });
  const el = section("settings.backup",
    h("p", {}, t("backup.note")),
    state,
    h("p", {}, t("backup.nightly")),
    h("h3", {}, t("backup.now")), h("pre", { class: "command" }, h("code", {}, MAKE)),
    h("h3", {}, t("backup.restore")), h("pre", { class: "command" }, h("code", {}, RESTORE)),
    h("p", { class: "muted" }, t("backup.passphrase")));

  async function refresh() {
    try {
      const { items } = await api("GET", `/api/v1/anomalies?state=active&lang=${language()}`);
      const failed = items.find((a) => a.kind === "backup_failed");
      state.className = failed ? "warn" : "muted";
      state.textContent = failed ? t("backup.failed", { title: failed.manual.title }) : t("backup.ok");
    } catch (exc) {
      state.textContent = errorText(exc);
    }
  }

  return { el, refresh, onMessage: (m) => { if (m.type === "anomaly") refresh(); } };
}
