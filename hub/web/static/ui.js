// Shared helpers of the dashboard's modules: DOM building, the API client, formatting.
// Views in other modules (views.js) import from here, never from app.js.
import { language, t } from "./i18n.js";

export const meta = (name) => document.querySelector(`meta[name="casahub-${name}"]`)?.content || "";
export const ME = { user: meta("user"), role: meta("role"), csrf: meta("csrf") };
export const HOUSEHOLD = ["owner", "member"];

// ------------------------------------------------------------------ DOM helpers
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function when(iso, { seconds = true } = {}) {
  if (!iso) return "";
  const date = new Date(iso);
  return date.toLocaleString(language() === "it" ? "it-IT" : "en-GB", { dateStyle: "short", timeStyle: seconds ? "medium" : "short" });
}

export function debounce(fn, ms = 200) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// ------------------------------------------------------------------ API
export class ApiError extends Error {
  constructor(status, body, headers) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
    this.headers = headers;
  }
}

export async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!["GET", "HEAD"].includes(method)) headers["X-CSRF-Token"] = ME.csrf;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
  if (response.status === 401) {
    location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
    throw new ApiError(401, { message: "logged out" });
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data, response.headers);
  return data;
}

export function errorText(exc) {
  if (exc instanceof ApiError) {
    if (exc.status === 403 && exc.body.error === "forbidden") return t("forbidden");
    if (exc.status === 404) return t("not_found");
    if (exc.status === 409 && exc.body.error === "system_armed") return t("system_armed");
    return t("error", { msg: exc.body.message || exc.status });
  }
  return t("disconnected");
}

export function section(titleKey, ...content) {
  return h("section", { class: "block" }, h("h2", {}, t(titleKey)), ...content);
}

