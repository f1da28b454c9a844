// The login and first-setup pages.
import { language, setLanguage, t, translate } from "./i18n.js";

const SAFE_NEXT = /^(?:\/[A-Za-z0-9_-][A-Za-z0-9_.-]{0,100}){1,4}$/; // a page of ours, never "//host"

function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  return SAFE_NEXT.test(next) ? next : "/";
}

async function submit(form, path, body) {
  const error = document.getElementById("error");
  error.textContent = "";
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    const data = await response.json().catch(() => ({}));
    if (response.ok) {
      if (!localStorage.getItem("casahub.lang") && data.language) setLanguage(data.language);
      location.assign(nextPage());
      return;
    }
    if (response.status === 429) error.textContent = t("login.locked", { s: response.headers.get("Retry-After") || "60" });
    else if (response.status === 401) error.textContent = t("login.wrong");
    else error.textContent = t("error", { msg: data.message || response.status });
  } catch (exc) {
    error.textContent = t("disconnected");
  } finally {
    button.disabled = false;
  }
}

// The switch names the other language in full ("English", "Italiano"): a visitor who reads no
// Italian finds it at the top of the page.
function translatePage() {
  translate();
  document.getElementById("lang").textContent = t("lang_switch");
}

document.getElementById("lang").addEventListener("click", () => {
  setLanguage(language() === "it" ? "en" : "it");
  translatePage();
});

const login = document.getElementById("login");
login?.addEventListener("submit", (event) => {
  event.preventDefault();
  submit(login, "/api/v1/session", { username: login.username.value.trim(), password: login.password.value });
});

const setup = document.getElementById("setup");
setup?.addEventListener("submit", (event) => {
  event.preventDefault();
  submit(setup, "/api/v1/setup", {
    username: setup.username.value.trim(),
    password: setup.password.value,
    code: setup.code.value,
    language: language(),
  });
});

translatePage();
document.getElementById("username")?.focus();
