// Entry point: the API-key gate, the hash router and the per-page lifecycle.
import * as api from "./api.js";
import { h, toast } from "./ui.js";
import { importsPage } from "./pages/imports.js";
import { indexPage } from "./pages/index.js";
import { indexesPage } from "./pages/indexes.js";
import { keysPage } from "./pages/keys.js";
import { queryPage } from "./pages/query.js";

const ROUTES = [
  [/^\/?$/, "indexes", indexesPage],
  [/^\/indexes\/([^/]+)$/, "indexes", indexPage],
  [/^\/indexes\/([^/]+)\/imports$/, "imports", importsPage],
  [/^\/indexes\/([^/]+)\/query$/, "query", queryPage],
  [/^\/imports$/, "imports", importsPage],
  [/^\/query$/, "query", queryPage],
  [/^\/keys$/, "keys", keysPage],
];

const main = document.getElementById("main");
let current = null; // the page context now shown

// Each page gets a context: timers and liveness end when the user navigates away, so
// a slow response never paints into the next page.
function context(params) {
  const timers = [];
  const ctx = {
    params,
    alive: true,
    every(ms, fn) {
      let running = false;
      const tick = async () => {
        if (!ctx.alive || running || document.hidden) return;
        running = true;
        try {
          await fn();
        } finally {
          running = false;
        }
      };
      timers.push(setInterval(tick, ms));
    },
    end() {
      ctx.alive = false;
      timers.forEach(clearInterval);
    },
  };
  return ctx;
}

async function route() {
  if (!api.getKey()) return showLogin();
  const path = decodeURIComponent(location.hash.replace(/^#/, "").split("?")[0]);
  if (current) current.end();
  for (const [pattern, nav, page] of ROUTES) {
    const m = path.match(pattern);
    if (!m) continue;
    document.querySelectorAll("#nav a").forEach((a) => a.classList.toggle("active", a.dataset.nav === nav));
    const ctx = context(m.slice(1));
    current = ctx;
    main.replaceChildren(h("p", { class: "muted" }, "Loading…"));
    try {
      await page(main, ctx);
    } catch (err) {
      if (ctx.alive && err.status !== 401) {
        main.replaceChildren(h("div", { class: "notice bad", testid: "page-error" }, err.message));
      }
    }
    return;
  }
  main.replaceChildren(h("div", { class: "notice warn" }, `No page at ${path}. `, h("a", { href: "#/" }, "Indexes")));
}

async function showSession() {
  const key = api.getKey();
  document.getElementById("nav").hidden = !key;
  document.getElementById("session").hidden = !key;
  if (!key) return;
  document.getElementById("session-key").textContent = `${key.slice(0, 6)}…${key.slice(-4)}`;
  const project = await api.currentProject(key).catch(() => null);
  document.getElementById("session-project").textContent = project ? `project ${project.name}` : "";
  if (project) api.rememberProject(project, key);
  const known = api.rememberedProjects();
  const picker = document.getElementById("session-projects");
  picker.replaceChildren(
    ...known.map((p) => h("option", { value: p.id, selected: p.key === key }, p.name)),
  );
  picker.hidden = known.length < 2;
}

document.getElementById("session-projects").addEventListener("change", async (e) => {
  const chosen = api.rememberedProjects().find((p) => p.id === e.target.value);
  if (!chosen) return;
  api.setKey(chosen.key);
  await showSession();
  await route();
});

function showLogin(message) {
  if (current) current.end();
  current = null;
  document.getElementById("nav").hidden = true;
  document.getElementById("session").hidden = true;
  const input = h("input", {
    type: "password", autocomplete: "off", placeholder: "sk-spruce-…", testid: "login-key",
    "aria-label": "API key",
  });
  const error = h("div", { class: "field-error", testid: "login-error" }, message || "");
  const submit = h("button", { type: "submit", testid: "login-submit" }, "Connect");
  const form = h(
    "form",
    { class: "panel login" },
    h("h1", {}, "Connect to Spruce"),
    h("p", { class: "muted" },
      "Enter an API key of your project. It stays in this browser (localStorage) and is sent " +
      "as the Api-Key header, as the SDK does. `spruce serve` prints a key on first start."),
    h("label", {}, "API key", input),
    error,
    h("div", { class: "form-actions" }, submit),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    submit.disabled = true;
    try {
      await api.call("GET", "/indexes", undefined, key);
      api.setKey(key);
      await showSession();
      await route();
    } catch (err) {
      error.textContent = err.status === 401 ? "This key was rejected." : err.message;
    } finally {
      submit.disabled = false;
    }
  });
  main.replaceChildren(form);
  input.focus();
}

api.whenUnauthorized((err) => {
  api.clearKey();
  toast(err.message, "bad");
  showLogin("The server rejected the key; enter another.");
});

document.getElementById("session-change").addEventListener("click", () => {
  // Keeps the remembered projects: another project's key adds one to the switcher.
  localStorage.removeItem("spruce.apiKey");
  showLogin();
});

window.addEventListener("hashchange", route);
showSession().then(route);
