// Imports: an index's bulk imports with live progress, cancel, and start a new one.
import * as api from "../api.js";
import { badge, busy, confirmDialog, duration, fmtNum, fmtTime, h, notice, progressBar, section, table, toast } from "../ui.js";
import { indexPicker } from "./picker.js";

const ACTIVE = new Set(["Pending", "InProgress"]);

function importRow(desc, job, refresh) {
  const active = ACTIVE.has(job.status);
  const cancel = h("button", { class: "danger ghost small", type: "button", testid: `cancel-${job.id}` }, "Cancel");
  cancel.addEventListener("click", async () => {
    const yes = await confirmDialog({
      title: `Cancel import ${job.id}?`,
      message: "Records it has not published yet are discarded; namespaces it already finished stay.",
      confirmText: "Cancel import",
      danger: true,
    });
    if (!yes) return;
    await busy(cancel, async () => {
      await api.cancelImport(desc, job.id);
      toast(`Cancelling import ${job.id}`);
      await refresh();
    });
  });
  return h("tr", { testid: `import-row-${job.id}`, "data-status": job.status },
    h("td", { class: "mono" }, job.id),
    h("td", { class: "mono small" }, job.uri),
    h("td", { testid: `import-status-${job.id}` }, badge(job.status)),
    h("td", {}, progressBar(job.percentComplete, job.status, `import-progress-${job.id}`)),
    h("td", { class: "num", testid: `import-records-${job.id}` }, fmtNum(job.recordsImported ?? 0)),
    h("td", { class: "small" }, fmtTime(job.createdAt),
      h("div", { class: "muted" }, active ? `running ${duration(job.createdAt)}` : job.finishedAt ? `took ${duration(job.createdAt, job.finishedAt)}` : "")),
    h("td", { class: "small", testid: `import-error-${job.id}` }, job.error || ""),
    h("td", {}, active ? cancel : null));
}

function startForm(desc, onStarted) {
  const uri = h("input", { required: true, placeholder: "s3://bucket/path/ or file:///data/import/", testid: "import-uri" });
  const mode = h("select", { testid: "import-error-mode" },
    h("option", { value: "continue" }, "continue (skip bad records)"), h("option", { value: "abort" }, "abort"));
  const integration = h("input", { placeholder: "optional", testid: "import-integration" });
  const submit = h("button", { type: "submit", testid: "import-start" }, "Start import");
  const form = h("form", { class: "grid", testid: "import-form" },
    h("label", { class: "span-all" }, "Source URI (a directory of Parquet files, one folder per namespace)", uri),
    h("label", {}, "On error", mode), h("label", {}, "Storage integration id", integration),
    h("div", { class: "form-actions" }, submit));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(submit, async () => {
      const body = { uri: uri.value.trim(), errorMode: { onError: mode.value } };
      if (integration.value.trim()) body.integrationId = integration.value.trim();
      const res = await api.startImport(desc, body);
      toast(`Started import ${res.id}`);
      uri.value = "";
      await onStarted();
    });
  });
  return form;
}

export async function importsPage(root, ctx) {
  const name = ctx.params[0];
  const picker = await indexPicker(name, (n) => `#/indexes/${encodeURIComponent(n)}/imports`);
  if (!ctx.alive) return;
  const headRow = h("div", { class: "page-head" },
    h("div", {}, h("h1", {}, "Imports"),
      h("div", { class: "muted" }, "Bulk imports from object storage into new namespaces")),
    h("div", { class: "actions" }, picker));
  if (!name) {
    root.replaceChildren(headRow, notice("Choose an index to see its imports."));
    return;
  }
  const desc = await api.describeIndex(name);
  if (!ctx.alive) return;
  const list = h("div", { testid: "imports-list" });
  let lastActive = true;
  let unsupported = false;

  async function refresh() {
    let jobs;
    try {
      jobs = await api.listImports(desc);
    } catch (err) {
      if (!ctx.alive) return;
      if (err.unsupported) {
        unsupported = true;
        root.replaceChildren(headRow, notice(
          "Bulk import is not available on this server: its data plane has no /bulk/imports API.",
          "warn", "imports-unavailable"));
        return;
      }
      throw err;
    }
    if (!ctx.alive) return;
    jobs.sort((a, b) => String(b.createdAt).localeCompare(String(a.createdAt)) || Number(b.id) - Number(a.id));
    lastActive = jobs.some((j) => ACTIVE.has(j.status));
    list.replaceChildren(table(
      [["Id"], ["URI"], ["Status"], ["Progress"], ["Records", "num"], ["Started"], ["Error"], [""]],
      jobs.map((j) => importRow(desc, j, refresh)),
      "No imports yet.",
      "imports-table",
    ));
  }

  root.replaceChildren(headRow,
    section(`Start an import into ${desc.name}`, startForm(desc, refresh)),
    section("Imports", list));
  try {
    await refresh();
  } catch (err) {
    list.replaceChildren(notice(err.message, "bad"));
  }
  // Fast while something runs (the bars move), slow otherwise.
  let idle = 0;
  ctx.every(500, async () => {
    if (unsupported) return;
    if (!lastActive && ++idle % 8) return;
    await refresh().catch(() => {});
  });
}
