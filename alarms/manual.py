"""The user manual of every anomaly kind: what it means and how to resolve it, in Italian and English.

The dashboard shows these entries and the anomaly messages (email, SMS, push) quote them, so
the steps are written for a homeowner, not for an installer: one action per step, in the order
to try them, ending with whom to call when the simple steps do not help.
Every anomaly kind has an entry, in `it` and `en` (docs/architecture.md section 7).
"""

from __future__ import annotations

from alarms.model import AnomalyKind, Struct

DEFAULT_LANGUAGE = "it"


class ManualEntry(Struct, frozen=True):
    title: str
    meaning: str
    steps: tuple[str, ...]


MANUAL: dict[AnomalyKind, dict[str, ManualEntry]] = {
    "sensor_offline": {
        "it": ManualEntry(
            title="Sensore non raggiungibile",
            meaning=(
                "L'hub non riceve più notizie dal sensore da oltre il tempo di tolleranza (di solito 10 minuti). "
                "Non è un allarme ma un guasto: finché il sensore non torna in linea, la sua zona non protegge la casa."
            ),
            steps=(
                "Controlla che il sensore sia al suo posto, fissato e non danneggiato.",
                "Sostituisci la batteria anche se non risultava scarica: il tipo è scritto sul sensore o nel suo "
                "manuale (spesso CR2032, CR123A o AA al litio).",
                "Se il sensore è alimentato dalla presa, controlla che la presa e l'alimentatore abbiano corrente.",
                "Avvicina il sensore all'hub o aggiungi un ripetitore (una presa smart Zigbee o Z-Wave alimentata fa "
                "da ripetitore): muri spessi, metallo e specchi riducono la portata del segnale.",
                "Se dopo 30 minuti è ancora non raggiungibile, accoppialo di nuovo dal pannello di casahub o "
                "contatta l'installatore.",
            ),
        ),
        "en": ManualEntry(
            title="Sensor offline",
            meaning=(
                "The hub has not heard from the sensor for longer than the grace period (usually 10 minutes). "
                "This is a fault, not an alarm: until the sensor is back online its zone does not protect the home."
            ),
            steps=(
                "Check that the sensor is in place, firmly mounted and not damaged.",
                "Replace the battery even if it was not reported low: the type is printed on the sensor or in its "
                "manual (often CR2032, CR123A or lithium AA).",
                "If the sensor is mains powered, check that its socket and power adapter have power.",
                "Move the sensor closer to the hub or add a repeater (any mains-powered Zigbee or Z-Wave smart plug "
                "acts as one): thick walls, metal and mirrors shorten the radio range.",
                "If it is still offline after 30 minutes, pair it again from the casahub dashboard or contact "
                "your installer.",
            ),
        ),
    },
    "low_battery": {
        "it": ManualEntry(
            title="Batteria del sensore scarica",
            meaning=(
                "La batteria di un sensore sta finendo. Il sensore funziona ancora, ma può smettere di "
                "funzionare nel giro di qualche settimana."
            ),
            steps=(
                "Controlla il tipo di batteria sul sensore o nel suo manuale (spesso CR2032, CR123A o AA al litio) "
                "e procurane una nuova.",
                "Disinserisci l'allarme prima di aprire il sensore: su molti sensori l'apertura del coperchio "
                "segnala una manomissione.",
                "Sostituisci la batteria rispettando la polarità (+ e -) e richiudi bene il coperchio.",
                "Attendi qualche minuto: l'avviso si chiude da solo quando il sensore segnala la batteria nuova.",
                "Porta la batteria usata in un contenitore per la raccolta delle pile.",
            ),
        ),
        "en": ManualEntry(
            title="Sensor battery low",
            meaning=("A sensor's battery is running out. The sensor still works but may stop within a few weeks."),
            steps=(
                "Check the battery type on the sensor or in its manual (often CR2032, CR123A or lithium AA) and "
                "get a new one.",
                "Disarm the alarm before opening the sensor: on many sensors opening the cover reports tampering.",
                "Replace the battery observing the polarity (+ and -) and close the cover firmly.",
                "Wait a few minutes: the warning clears by itself once the sensor reports the new battery.",
                "Take the old battery to a battery recycling point.",
            ),
        ),
    },
    "centre_unreachable": {
        "it": ManualEntry(
            title="Centrale operativa non raggiungibile",
            meaning=(
                "L'hub non riesce a inviare messaggi alla centrale operativa (centro di assistenza). In caso di "
                "allarme la centrale potrebbe non essere avvisata; tu ricevi comunque SMS e notifiche."
            ),
            steps=(
                "Controlla che il router sia acceso e che internet funzioni (apri un sito dal telefono collegato "
                "al Wi-Fi di casa).",
                "Controlla che il cavo di rete dell'hub sia collegato e che le luci della porta di rete siano accese.",
                "Riavvia il router e attendi 5 minuti: l'avviso si chiude da solo quando la centrale risponde.",
                "Se internet funziona ma l'avviso resta, chiama la centrale operativa o l'installatore: "
                "potrebbero essere cambiati l'indirizzo della centrale o il contratto.",
            ),
        ),
        "en": ManualEntry(
            title="Assistance centre unreachable",
            meaning=(
                "The hub cannot deliver messages to the monitoring (assistance) centre. If an alarm happens the "
                "centre may not be told; you still receive SMS and notifications."
            ),
            steps=(
                "Check that the router is on and the internet works (open a website on a phone connected to the "
                "home Wi-Fi).",
                "Check that the hub's network cable is plugged in and the lights on its network port are on.",
                "Restart the router and wait 5 minutes: the warning clears by itself once the centre answers.",
                "If the internet works but the warning stays, call the monitoring centre or your installer: the "
                "centre's address or the contract may have changed.",
            ),
        ),
    },
    "channel_failure": {
        "it": ManualEntry(
            title="Canale di notifica non funzionante",
            meaning=(
                "Un canale di invio (SMS, email, notifiche, chiamate vocali) ha fallito più volte di seguito. "
                "I messaggi continuano a partire sugli altri canali."
            ),
            steps=(
                "Nel pannello di casahub guarda quale canale ha fallito e l'errore riportato.",
                "Controlla che l'hub sia collegato a internet.",
                "Verifica le credenziali del servizio (per esempio l'account SMS o il server email) e che credito "
                "o abbonamento non siano scaduti.",
                "Invia un messaggio di prova dal pannello; se fallisce ancora, contatta l'installatore.",
            ),
        ),
        "en": ManualEntry(
            title="Notification channel failing",
            meaning=(
                "A delivery channel (SMS, email, notifications, voice calls) failed several times in a row. "
                "Messages still go out on the other channels."
            ),
            steps=(
                "In the casahub dashboard, see which channel failed and the error it reported.",
                "Check that the hub is connected to the internet.",
                "Check the service credentials (for example the SMS account or the email server) and that the "
                "credit or subscription has not run out.",
                "Send a test message from the dashboard; if it still fails, contact your installer.",
            ),
        ),
    },
    "hub_battery_low": {
        "it": ManualEntry(
            title="Batteria dell'hub scarica",
            meaning=(
                "L'hub sta funzionando con la batteria di riserva ed è quasi scarica, oppure la batteria di "
                "riserva è da sostituire. Quando si esaurisce l'hub si spegne e la casa non è protetta."
            ),
            steps=(
                "Controlla che l'alimentatore dell'hub sia collegato e che la presa abbia corrente.",
                "Se in casa manca la corrente, controlla il quadro elettrico e riarma il salvavita se è scattato.",
                "Se la corrente c'è, lascia ricaricare la batteria di riserva per qualche ora.",
                "Se l'avviso torna anche con la corrente presente, la batteria di riserva è esaurita: falla "
                "sostituire dall'installatore.",
            ),
        ),
        "en": ManualEntry(
            title="Hub battery low",
            meaning=(
                "The hub is running on its backup battery and the battery is nearly empty, or the backup battery "
                "needs replacing. When it runs out the hub shuts down and the home is not protected."
            ),
            steps=(
                "Check that the hub's power adapter is plugged in and that the socket has power.",
                "If the power is out in the home, check the fuse box and reset the main switch (RCD) if it tripped.",
                "If there is power, let the backup battery charge for a few hours.",
                "If the warning comes back while there is power, the backup battery is worn out: have your "
                "installer replace it.",
            ),
        ),
    },
    "storage_error": {
        "it": ManualEntry(
            title="Errore della memoria dell'hub",
            meaning=(
                "L'hub non riesce a scrivere sulla sua memoria (scheda SD o disco). Gli eventi potrebbero non "
                "essere registrati e le modifiche alle impostazioni potrebbero andare perse al riavvio."
            ),
            steps=(
                "Non spegnere l'hub staccando la corrente: potresti peggiorare il danno.",
                "Nel pannello di casahub controlla lo spazio libero; se è finito, esporta e cancella gli eventi "
                "più vecchi.",
                "Scarica un backup della configurazione dal pannello.",
                "Riavvia l'hub dal pannello.",
                "Se l'errore torna, la scheda SD o il disco vanno sostituiti: contatta l'installatore.",
            ),
        ),
        "en": ManualEntry(
            title="Hub storage error",
            meaning=(
                "The hub cannot write to its storage (SD card or disk). Events may not be recorded and settings "
                "changes may be lost on restart."
            ),
            steps=(
                "Do not switch the hub off by pulling the plug: it can make the damage worse.",
                "In the casahub dashboard check the free space; if it is full, export and delete the oldest events.",
                "Download a backup of the configuration from the dashboard.",
                "Restart the hub from the dashboard.",
                "If the error comes back, the SD card or disk must be replaced: contact your installer.",
            ),
        ),
    },
    "clock_unsynced": {
        "it": ManualEntry(
            title="Orologio dell'hub non sincronizzato",
            meaning=(
                "L'hub non riesce a sincronizzare l'ora via internet. Gli orari di eventi e messaggi potrebbero "
                "essere sbagliati e la centrale operativa potrebbe rifiutare i messaggi con un orario errato."
            ),
            steps=(
                "Controlla che l'hub sia collegato a internet.",
                "Se il router o il firewall bloccano la sincronizzazione dell'ora (NTP, porta UDP 123), "
                "consentila oppure indica un server dell'ora della rete locale.",
                "Riavvia l'hub: l'ora si sincronizza pochi minuti dopo l'avvio.",
                "Se l'avviso resta, contatta l'installatore: se l'hub ha un orologio interno con batteria, la "
                "batteria potrebbe essere esaurita.",
            ),
        ),
        "en": ManualEntry(
            title="Hub clock not synchronised",
            meaning=(
                "The hub cannot synchronise its time over the internet. Times of events and messages may be wrong "
                "and the monitoring centre may reject messages with a wrong timestamp."
            ),
            steps=(
                "Check that the hub is connected to the internet.",
                "If the router or firewall blocks time synchronisation (NTP, UDP port 123), allow it or set a time "
                "server on the local network.",
                "Restart the hub: the time synchronises a few minutes after start-up.",
                "If the warning stays, contact your installer: if the hub has a battery-backed clock, its battery "
                "may be empty.",
            ),
        ),
    },
    "backup_failed": {
        "it": ManualEntry(
            title="Backup automatico non riuscito",
            meaning=(
                "Ogni notte l'hub salva una copia di eventi, impostazioni e chiavi nella cartella di backup "
                "(di solito una chiavetta USB). L'ultima copia non è riuscita: l'allarme funziona normalmente, "
                "ma se la scheda SD si guasta le modifiche più recenti andrebbero perse."
            ),
            steps=(
                "Controlla che la chiavetta USB del backup sia inserita nell'hub e ben collegata.",
                "Se l'hai tolta, reinseriscila: l'hub la usa di nuovo da solo al prossimo backup.",
                "Se la chiavetta è piena, copia altrove i backup più vecchi e cancellali, oppure usa una chiavetta "
                "più capiente.",
                "Se la chiavetta è protetta da scrittura o danneggiata, sostituiscila con una nuova.",
                "Se l'avviso resta dopo il backup della notte successiva, contatta l'installatore: il motivo "
                "esatto è scritto nel registro dell'hub e in casahub doctor.",
            ),
        ),
        "en": ManualEntry(
            title="Automatic backup failed",
            meaning=(
                "Every night the hub saves a copy of its events, settings and keys to the backup folder (usually "
                "a USB stick). The last copy failed: the alarm works as usual, but if the SD card fails the most "
                "recent changes would be lost."
            ),
            steps=(
                "Check that the backup USB stick is plugged into the hub and firmly connected.",
                "If you removed it, plug it back in: the hub uses it again by itself at the next backup.",
                "If the stick is full, copy the oldest backups elsewhere and delete them, or use a larger stick.",
                "If the stick is write-protected or damaged, replace it with a new one.",
                "If the warning is still there after the next night's backup, contact your installer: the exact "
                "reason is in the hub's log and in casahub doctor.",
            ),
        ),
    },
    "no_notification_channel": {
        "it": ManualEntry(
            title="Nessuno verrebbe avvisato di un allarme",
            meaning=(
                "L'hub non ha nessun modo di avvisare la famiglia: nessun SMS, email, chiamata o notifica "
                "raggiunge qualcuno. Un allarme verrebbe registrato e mostrato in questo pannello (e inviato "
                "alla centrale operativa, se c'è), ma nessun telefono lo riceverebbe."
            ),
            steps=(
                "Apri le notifiche dell'app su questo telefono (Impostazioni del pannello) e consenti le "
                "notifiche: basta un telefono iscritto perché l'avviso sparisca.",
                "Controlla nei Contatti che ogni persona abbia un numero di telefono o un indirizzo email.",
                "Chiedi all'installatore di configurare l'invio di SMS ([sms] o un modem [gsm]) o di email "
                "([email]): casahub config check dice quale contatto non verrebbe raggiunto.",
                "Dopo la modifica, invia un messaggio di prova dal verbale di collaudo (casahub pair report "
                "--send-tests) e controlla che arrivi.",
            ),
        ),
        "en": ManualEntry(
            title="Nobody would be told of an alarm",
            meaning=(
                "The hub has no way to tell the household: no SMS, email, call or app notification reaches "
                "anybody. An alarm would be recorded and shown on this dashboard (and sent to the monitoring "
                "centre, if there is one), but no phone would receive it."
            ),
            steps=(
                "Turn on the app's notifications on this phone (the dashboard's Settings) and allow them: one "
                "subscribed phone is enough for this warning to clear.",
                "Check in Contacts that every person has a phone number or an email address.",
                "Ask your installer to set up SMS ([sms] or a [gsm] modem) or email ([email]): casahub config "
                "check says which contact would not be reached.",
                "After the change, send a test message from the commissioning report (casahub pair report "
                "--send-tests) and check that it arrives.",
            ),
        ),
    },
    "output_failure": {
        "it": ManualEntry(
            title="Sirena o valvola non risponde",
            meaning=(
                "L'hub ha chiesto a una sirena, a una valvola dell'acqua o a un relè di fare qualcosa (suonare, "
                "smettere, chiudere, aprire) e, dopo vari tentativi, il dispositivo non ha confermato di averlo "
                "fatto. Finché non risponde, durante un allarme potrebbe non suonare o non chiudere l'acqua."
            ),
            steps=(
                "Controlla che il dispositivo sia acceso: alimentatore collegato e presa con corrente, oppure "
                "batterie cariche.",
                "Guarda il dispositivo: se una sirena suona ancora o una valvola è rimasta aperta o chiusa, "
                "disinserisci l'allarme dal pannello per fermarla o usa il comando manuale della valvola.",
                "Avvicinalo all'hub o aggiungi un ripetitore (una presa smart Zigbee alimentata fa da ripetitore) "
                "se è lontano o dietro muri spessi.",
                "Con l'allarme disinserito, prova il dispositivo dal pannello (Dispositivi, Prova): l'avviso si "
                "chiude da solo appena il dispositivo conferma.",
                "Se la prova non riesce, accoppialo di nuovo o contatta l'installatore: il motivo è nel registro "
                "dell'hub e in casahub doctor.",
            ),
        ),
        "en": ManualEntry(
            title="Siren or valve not responding",
            meaning=(
                "The hub asked a siren, a water valve or a relay to do something (sound, stop, close, open) and, "
                "after several tries, the device did not confirm it had done it. Until it responds, it may not "
                "sound or shut off the water during an alarm."
            ),
            steps=(
                "Check that the device has power: adapter plugged in and socket live, or batteries charged.",
                "Look at the device: if a siren is still sounding or a valve stayed open or closed, disarm from "
                "the dashboard to stop it or use the valve's manual lever.",
                "Move it closer to the hub or add a repeater (any mains-powered Zigbee smart plug acts as one) if "
                "it is far away or behind thick walls.",
                "With the alarm disarmed, test the device from the dashboard (Devices, Test): the warning clears "
                "by itself as soon as the device confirms.",
                "If the test fails, pair it again or contact your installer: the reason is in the hub's log and "
                "in casahub doctor.",
            ),
        ),
    },
    "sensor_inactive": {
        "it": ManualEntry(
            title="Sensore silenzioso da giorni",
            meaning=(
                "Questo sensore è collegato e risponde, ma non segnala un movimento o un'apertura da più giorni di "
                "quanti ne sono stati impostati per lui. Una porta o una stanza che si usano ogni giorno non restano "
                "ferme così a lungo: il sensore potrebbe essere guasto, coperto o spostato, e non accorgersi di un "
                "intruso."
            ),
            steps=(
                "Passa davanti al sensore di movimento o apri la porta o la finestra: l'avviso si chiude da solo "
                "appena il sensore segnala.",
                "Se non si chiude, controlla che nulla copra il sensore (un mobile, una tenda) e che sia ancora "
                "fissato dove era stato montato.",
                "Cambia la batteria anche se l'hub non la segnala scarica: alcuni sensori smettono di rilevare "
                "prima di smettere di rispondere.",
                "Se la stanza resta davvero inutilizzata (una camera degli ospiti), allunga i giorni di controllo "
                "della zona o disattiva il controllo nelle impostazioni della zona.",
                "Se il sensore continua a non segnalare, fai una prova impianto con l'installatore o sostituiscilo.",
            ),
        ),
        "en": ManualEntry(
            title="Sensor silent for days",
            meaning=(
                "This sensor is connected and answers, but it has not reported any motion or opening for more days "
                "than were set for it. A door or a room used every day does not stay still that long: the sensor "
                "may be broken, covered or moved, and would not notice an intruder."
            ),
            steps=(
                "Walk past the motion sensor or open the door or window: the warning clears by itself as soon as "
                "the sensor reports.",
                "If it does not clear, check that nothing covers the sensor (furniture, a curtain) and that it is "
                "still fixed where it was mounted.",
                "Replace the battery even if the hub does not report it low: some sensors stop detecting before "
                "they stop answering.",
                "If the room really is unused (a guest room), set more days for the zone's check or turn the check "
                "off in the zone's settings.",
                "If the sensor still reports nothing, run a walk test with your installer or replace it.",
            ),
        ),
    },
}


def manual_entry(kind: AnomalyKind, language: str) -> ManualEntry:
    """The entry for `kind` in `language`; an unsupported language falls back to Italian."""
    entries = MANUAL[kind]
    return entries.get(_language(language), entries[DEFAULT_LANGUAGE])


def manual_text(kind: AnomalyKind, language: str) -> str:
    """The entry as plain text: title, meaning, then the steps numbered from 1."""
    entry = manual_entry(kind, language)
    return f"{entry.title}\n\n{entry.meaning}\n\n{manual_steps(kind, language)}"


def manual_steps(kind: AnomalyKind, language: str) -> str:
    """Only the numbered steps, one a line (for the resolution section of a message)."""
    entry = manual_entry(kind, language)
    return "\n".join(f"{number}. {step}" for number, step in enumerate(entry.steps, start=1))


def _language(language: str) -> str:
    # "en-GB", "EN" and "en_US" are English; anything else we do not ship is Italian.
    return language.strip().lower()[:2]
