// The Camera page, /camera: each camera's live picture (MJPEG in an <img>), its name and
// whether it is online. Installers see the list but no picture (the API refuses them one).
// The owner also sees the privacy toggle "record while disarmed" (PATCH /api/v1/cameras/settings).
// Also, at import: the menu link appears only when the hub has a camera.
//
// An MJPEG <img> keeps its HTTP connection (and so the camera's upstream) open for as long
// as it has that src: leaving the page or hiding the tab clears the src, so the hub closes
// the camera's stream when nobody is looking.
import { t } from "./i18n.js";
import { HOUSEHOLD, ME, api, errorText, h, section } from "./ui.js";

const REFRESH_MS = 10000; // online state of the cameras while the page is open

function streamUrl(camera) {
  return `/api/v1/cameras/${encodeURIComponent(camera.id)}/stream`;
}

// Off by default: disarmed, the household at home is not recorded unless the owner chooses so.
function privacyToggle() {
  const note = h("p", { class: "muted", id: "camera-record-help" }, t("camera.record_disarmed_help"));
  const box = h("input", {
    type: "checkbox",
    id: "camera-record-disarmed",
    "aria-describedby": "camera-record-help",
    onchange: async (event) => {
      const wanted = event.target.checked;
      try {
        const saved = await api("PATCH", "/api/v1/cameras/settings", { record_when_disarmed: wanted });
        event.target.checked = saved.record_when_disarmed;
      } catch (exc) {
        event.target.checked = !wanted;
        alert(errorText(exc));
      }
    },
  });
  api("GET", "/api/v1/cameras/settings")
    .then((settings) => {
      box.checked = settings.record_when_disarmed;
    })
    .catch(() => {});
  return h(
    "div",
    { class: "camera-privacy" },
    h("label", { for: "camera-record-disarmed" }, box, " ", t("camera.record_disarmed")),
    note,
  );
}

export function cameraView(root) {
  const grid = h("div", { class: "cameras" });
  const status = h("p", { role: "status" });
  root.append(section("camera.title", status, ME.role === "owner" ? privacyToggle() : null, grid));
  const tiles = new Map(); // camera id -> {figure, img, badge, camera}
  const watching = HOUSEHOLD.includes(ME.role);
  if (!watching) status.textContent = t("camera.installer");

  function show(img, camera, on) {
    const wanted = on ? streamUrl(camera) : "";
    if (!on) img.removeAttribute("src");
    else if (img.getAttribute("src") !== wanted) img.src = wanted;
  }

  function tile(camera) {
    let entry = tiles.get(camera.id);
    if (!entry) {
      const img = h("img", { alt: t("camera.alt", { name: camera.name }), width: 320, height: 240 });
      const badge = h("span", { class: "badge" });
      const figure = h(
        "figure",
        { class: "camera", "data-camera": camera.id },
        watching ? img : null,
        h("figcaption", {}, h("strong", {}, camera.name), " ", camera.room ? `(${camera.room}) ` : "", badge),
      );
      // A dropped stream (hub restart, camera back online) is picked up again after a moment.
      img.addEventListener("error", () => {
        setTimeout(() => {
          if (!img.isConnected || document.hidden) return;
          img.removeAttribute("src");
          show(img, entry.camera, entry.camera.online);
        }, 3000);
      });
      entry = { figure, img, badge, camera };
      tiles.set(camera.id, entry);
      grid.append(figure);
    }
    entry.camera = camera;
    entry.figure.classList.toggle("offline", !camera.online);
    entry.badge.textContent = camera.online ? t("camera.live") : t("camera.offline");
    entry.badge.className = `badge ${camera.online ? "good" : "bad"}`;
    if (watching) show(entry.img, camera, camera.online && !document.hidden);
  }

  async function refresh() {
    try {
      const { items } = await api("GET", "/api/v1/cameras");
      if (!items.length) status.textContent = t("camera.none");
      for (const camera of items) tile(camera);
      for (const [id, entry] of tiles) {
        if (!items.some((c) => c.id === id)) {
          entry.figure.remove();
          tiles.delete(id);
        }
      }
    } catch (exc) {
      status.textContent = errorText(exc);
    }
  }

  function onVisibility() {
    for (const entry of tiles.values()) {
      if (watching) show(entry.img, entry.camera, entry.camera.online && !document.hidden);
    }
  }

  document.addEventListener("visibilitychange", onVisibility);
  const timer = setInterval(refresh, REFRESH_MS);
  refresh();
  return {
    refresh,
    onMessage(message) {
      if (message.type === "anomaly" || message.type === "zone") refresh();
    },
    destroy() {
      clearInterval(timer);
      document.removeEventListener("visibilitychange", onVisibility);
      for (const entry of tiles.values()) entry.img.removeAttribute("src"); // closes the streams
    },
  };
}

// The menu shows "Cameras" only on a hub that has one.
api("GET", "/api/v1/cameras")
  .then(({ items }) => {
    const link = document.getElementById("nav-camera");
    if (link) link.hidden = !items.length;
  })
  .catch(() => {});
