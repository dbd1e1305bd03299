// Small DOM helpers. Text always goes in as text nodes (never innerHTML): names,
// metadata and error messages come from users and must not become markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = Boolean(v);
    else if (k === "testid") el.dataset.testid = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function fmtNum(n) {
  return n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US");
}

export function fmtPct(fraction) {
  return `${(100 * (Number(fraction) || 0)).toFixed(fraction > 0 && fraction < 0.001 ? 3 : 1)}%`;
}

export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

export function duration(fromIso, toIso) {
  if (!fromIso) return "";
  const ms = (toIso ? new Date(toIso) : new Date()) - new Date(fromIso);
  if (!(ms >= 0)) return "";
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${s % 60}s`;
}

const TONES = {
  Ready: "ok", Completed: "ok", enabled: "warn", InProgress: "info", Pending: "info",
  Initializing: "info", Migrating: "info", Scaling: "info", Terminating: "warn",
  Cancelled: "", Failed: "bad", InitializationFailed: "bad", Error: "bad",
};

export function badge(text, tone) {
  return h("span", { class: `badge ${tone ?? TONES[text] ?? ""}` }, text);
}

export function progressBar(percent, status, testid) {
  const pct = Math.max(0, Math.min(100, Number(percent) || 0));
  const bar = h("div", { class: "bar" });
  bar.style.width = `${pct}%`;
  const cls = `progress ${status === "Failed" ? "failed" : status === "Cancelled" ? "cancelled" : ""}`;
  return h(
    "div",
    {
      class: cls, role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100,
      "aria-valuenow": pct.toFixed(1), testid,
    },
    bar,
    h("span", { class: "pct" }, `${pct.toFixed(pct === 100 || pct === 0 ? 0 : 1)}%`),
  );
}

export function toast(message, tone = "") {
  const el = h("div", { class: `toast ${tone}`, role: "status" }, message);
  document.getElementById("toasts").append(el);
  setTimeout(() => el.remove(), tone === "bad" ? 8000 : 4000);
}

export function notice(message, tone = "", testid) {
  return h("div", { class: `notice ${tone}`, testid }, message);
}

// A modal confirmation; with `requireText` the user must type it (e.g. an index name).
export function confirmDialog({ title, message, confirmText = "Confirm", danger = false, requireText }) {
  return new Promise((resolve) => {
    const typed = requireText
      ? h("input", { type: "text", autocomplete: "off", testid: "confirm-input", "aria-label": "Confirm" })
      : null;
    const ok = h("button", { class: danger ? "danger" : "", type: "submit", testid: "confirm-ok" }, confirmText);
    const cancel = h("button", { class: "ghost", type: "button", testid: "confirm-cancel" }, "Cancel");
    if (typed) {
      ok.disabled = true;
      typed.addEventListener("input", () => (ok.disabled = typed.value !== requireText));
    }
    const form = h(
      "form",
      { method: "dialog" },
      h("h2", {}, title),
      h("p", {}, message),
      typed ? h("label", {}, `Type "${requireText}" to confirm`, typed) : null,
      h("div", { class: "form-actions" }, cancel, ok),
    );
    const dialog = h("dialog", { testid: "confirm" }, form);
    const finish = (value) => {
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    cancel.addEventListener("click", () => finish(false));
    dialog.addEventListener("cancel", () => finish(false));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (!ok.disabled) finish(true);
    });
    document.body.append(dialog);
    dialog.showModal();
    (typed || ok).focus();
  });
}

// A textarea that must hold JSON (or stay empty); `read()` throws with a message.
export function jsonInput({ placeholder = "", rows = 4, testid, label }) {
  const area = h("textarea", { rows, placeholder, spellcheck: "false", testid });
  const error = h("div", { class: "field-error" });
  const read = () => {
    const text = area.value.trim();
    area.classList.remove("invalid");
    error.textContent = "";
    if (!text) return undefined;
    try {
      return JSON.parse(text);
    } catch (err) {
      area.classList.add("invalid");
      error.textContent = `${label || "Value"} is not valid JSON: ${err.message}`;
      throw new Error(error.textContent);
    }
  };
  area.addEventListener("blur", () => {
    try {
      read();
    } catch {
      /* shown under the field */
    }
  });
  return { area, error, read };
}

// Runs an async action from a button, disabling it meanwhile and reporting failures.
export async function busy(button, action) {
  button.disabled = true;
  try {
    return await action();
  } catch (err) {
    toast(err.message, "bad");
    return undefined;
  } finally {
    button.disabled = false;
  }
}

export function section(title, ...children) {
  return h("section", { class: "panel" }, title ? h("h2", {}, title) : null, ...children);
}

export function card(label, value, sub, testid) {
  return h(
    "div",
    { class: "card", testid },
    h("div", { class: "label" }, label),
    h("div", { class: "value", testid: testid ? `${testid}-value` : undefined }, value),
    sub ? h("div", { class: "sub" }, sub) : null,
  );
}

export function table(headers, rows, emptyText, testid) {
  if (!rows.length) return h("div", { class: "empty", testid }, emptyText);
  return h(
    "table",
    { testid },
    h("thead", {}, h("tr", {}, headers.map(([text, cls]) => h("th", { class: cls }, text)))),
    h("tbody", {}, rows),
  );
}
