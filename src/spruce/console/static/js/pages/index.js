// One index: stats, namespaces with counts, details and configuration.
import * as api from "../api.js";
import * as model from "../model.js";
import { badge, busy, card, confirmDialog, fmtNum, fmtPct, h, notice, section, table, toast } from "../ui.js";
import { deleteIndexFlow } from "./indexes.js";

const DEFAULT_NS = "__default__";

function configureForm(desc, onSaved) {
  const protect = h("select", { testid: "configure-protection" },
    h("option", { value: "disabled" }, "disabled"), h("option", { value: "enabled" }, "enabled"));
  protect.value = desc.deletion_protection || "disabled";
  const tags = h("input", { value: model.tagsText(desc.tags), testid: "configure-tags" });
  const rc = model.readCapacity(desc).raw;
  const mode = h("select", { testid: "configure-rc-mode" },
    h("option", { value: "OnDemand" }, "OnDemand"), h("option", { value: "Dedicated" }, "Dedicated"));
  mode.value = rc.mode || "OnDemand";
  const dedicated = rc.dedicated || {};
  const manual = dedicated.manual || {};
  const nodeType = h("select", {}, ["b1", "t1"].map((t) => h("option", { value: t }, t)));
  nodeType.value = dedicated.node_type || "b1";
  const shards = h("input", { type: "number", min: 1, value: manual.shards || 1, testid: "configure-shards" });
  const replicas = h("input", { type: "number", min: 0, value: manual.replicas ?? 1, testid: "configure-replicas" });
  const dedicatedFields = [h("label", {}, "Node type", nodeType), h("label", {}, "Shards", shards),
    h("label", {}, "Replicas", replicas)];
  const sync = () => dedicatedFields.forEach((el) => (el.hidden = mode.value !== "Dedicated"));
  mode.addEventListener("change", sync);
  sync();
  const save = h("button", { type: "submit", testid: "configure-save" }, "Save");
  const form = h("form", { class: "grid", testid: "configure-form" },
    h("label", {}, "Deletion protection", protect), h("label", {}, "Tags (key=value, empty value removes)", tags),
    h("label", {}, "Read capacity", mode), ...dedicatedFields, h("div", { class: "form-actions" }, save));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(save, async () => {
      const body = {};
      if (protect.value !== (desc.deletion_protection || "disabled")) body.deletion_protection = protect.value;
      const newTags = model.parseTags(tags.value);
      for (const k of Object.keys(desc.tags || {})) if (!(k in newTags)) newTags[k] = "";
      if (Object.keys(newTags).length) body.tags = newTags;
      const capacity = mode.value === "Dedicated"
        ? { mode: "Dedicated", dedicated: { node_type: nodeType.value, scaling: "Manual",
          manual: { shards: Number(shards.value), replicas: Number(replicas.value) } } }
        : { mode: "OnDemand" };
      if (JSON.stringify(capacity) !== JSON.stringify({ mode: rc.mode, dedicated: rc.dedicated })) {
        body.read_capacity = capacity;
      }
      if (!Object.keys(body).length) return toast("Nothing changed");
      await api.configureIndex(desc.name, body);
      toast(`Saved ${desc.name}`);
      await onSaved();
    });
  });
  return form;
}

function namespacesTable(desc, namespaces, refresh) {
  const link = `#/indexes/${encodeURIComponent(desc.name)}/query`;
  const rows = namespaces.map((ns) => {
    const del = h("button", { class: "danger ghost small", type: "button", testid: `delete-ns-${ns.name}` }, "Delete");
    del.addEventListener("click", async () => {
      const yes = await confirmDialog({
        title: `Delete namespace ${ns.name}?`,
        message: `All ${fmtNum(ns.record_count)} records in it are deleted.`,
        confirmText: "Delete namespace",
        danger: true,
      });
      if (!yes) return;
      await busy(del, async () => {
        await api.deleteNamespace(desc, ns.name);
        toast(`Deleted namespace ${ns.name}`);
        await refresh();
      });
    });
    return h("tr", { testid: `ns-row-${ns.name}` },
      h("td", {}, ns.name === DEFAULT_NS || ns.name === "" ? h("span", {}, ns.name || '""', " ", badge("default")) : ns.name),
      h("td", { class: "num", testid: `ns-count-${ns.name}` }, fmtNum(Number(ns.record_count))),
      h("td", {}, h("div", { class: "row" },
        h("a", { href: `${link}?namespace=${encodeURIComponent(ns.name)}` }, "Query"), del)));
  });
  return table([["Namespace"], ["Records", "num"], [""]], rows, "No namespaces yet: upsert or import records.",
    "namespaces-table");
}

export async function indexPage(root, ctx) {
  const name = ctx.params[0];
  let desc = await api.describeIndex(name);
  if (!ctx.alive) return;
  const head = h("div");
  const cards = h("div", { class: "cards", testid: "index-cards" });
  const details = h("div");
  const nsBox = h("div", { testid: "namespaces" });
  const configurePanel = section("Configure", h("div"));
  configurePanel.hidden = true;
  const configureBtn = h("button", { class: "ghost", type: "button", testid: "configure" }, "Configure");
  configureBtn.addEventListener("click", () => (configurePanel.hidden = !configurePanel.hidden));
  const deleteBtn = h("button", { class: "danger ghost", type: "button", testid: "delete-index" }, "Delete");
  deleteBtn.addEventListener("click", async () => {
    if (await deleteIndexFlow(desc)) location.hash = "#/";
  });
  const nsName = h("input", { placeholder: "namespace", testid: "ns-name" });
  const nsCreate = h("button", { type: "submit" }, "Create namespace");
  const nsForm = h("form", { class: "row" }, nsName, nsCreate);
  nsForm.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(nsCreate, async () => {
      await api.createNamespace(desc, nsName.value.trim());
      nsName.value = "";
      await refreshStats();
    });
  });

  function paintDescription() {
    const rc = model.readCapacity(desc);
    const link = `#/indexes/${encodeURIComponent(desc.name)}`;
    deleteBtn.disabled = desc.deletion_protection === "enabled";
    deleteBtn.title = deleteBtn.disabled ? "Deletion protection is enabled: disable it under Configure" : "";
    head.replaceChildren(h("div", { class: "page-head" },
      h("div", {},
        h("div", { class: "crumbs" }, h("a", { href: "#/" }, "Indexes"), " / "),
        h("h1", { testid: "index-name" }, desc.name, " ", badge(desc.status.state))),
      h("div", { class: "actions" },
        h("a", { class: "button", href: `${link}/query` }, "Query"),
        h("a", { class: "button", href: `${link}/imports` }, "Imports"), configureBtn, deleteBtn)));
    const facts = [
      ["Host", h("code", {}, desc.host)],
      ["Type", model.kind(desc)],
      ["Cloud / region", model.cloudRegion(desc)],
      ["Deletion protection", desc.deletion_protection === "enabled" ? badge("enabled") : "disabled"],
      ["Read capacity", h("span", { testid: "read-capacity" }, rc.mode, " ", badge(rc.state),
        rc.current ? ` (${rc.current})` : "", rc.error ? ` ${rc.error}` : "")],
      ["Tags", model.tagsText(desc.tags) || "—"],
    ];
    if (model.isIntegrated(desc)) {
      facts.push(["Embedding model", model.embedModel(desc)], ["Text field", model.textField(desc)]);
    }
    details.replaceChildren(h("dl", { class: "details" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])));
    configurePanel.replaceChildren(h("h2", {}, "Configure"), configureForm(desc, async () => {
      desc = await api.describeIndex(name);
      paintDescription();
    }));
  }

  async function refreshStats() {
    const [stats, namespaces] = await Promise.all([
      api.stats(desc),
      api.listNamespaces(desc).catch(() => null),
    ]);
    if (!ctx.alive) return;
    const nsList = namespaces ?? Object.entries(stats.namespaces || {})
      .map(([ns, v]) => ({ name: ns, record_count: v.vectorCount }));
    cards.replaceChildren(
      card("Records", fmtNum(stats.totalVectorCount || 0), null, "total-records"),
      card("Namespaces", fmtNum(nsList.length), null, "namespace-count"),
      card("Dimension", stats.dimension ?? model.dimension(desc) ?? "—"),
      card("Metric", stats.metric || model.metric(desc) || "—", stats.vectorType || model.vectorType(desc)),
      card("Fullness", fmtPct(stats.indexFullness || 0), "of this index's capacity", "fullness"),
    );
    nsBox.replaceChildren(namespacesTable(desc, nsList, refreshStats));
  }

  async function refresh() {
    const fresh = await api.describeIndex(name);
    if (!ctx.alive) return;
    const changed = JSON.stringify(fresh) !== JSON.stringify(desc);
    desc = fresh;
    if (changed) paintDescription();
    await refreshStats();
  }

  root.replaceChildren(head, cards, configurePanel, section("Namespaces", nsBox, h("p"), nsForm),
    section("Details", details));
  paintDescription();
  if (!desc.status.ready) cards.replaceChildren(notice(`The index is ${desc.status.state}…`));
  try {
    if (desc.status.ready) await refreshStats();
  } catch (err) {
    nsBox.replaceChildren(notice(err.message, "bad"));
  }
  ctx.every(3000, () => refresh().catch(() => {}));
}
