// Indexes: the project's indexes, create one, delete one (guarded by deletion protection).
import * as api from "../api.js";
import * as model from "../model.js";
import { badge, busy, confirmDialog, h, notice, section, table, toast } from "../ui.js";

export async function deleteIndexFlow(desc, after) {
  if (desc.deletion_protection === "enabled") {
    toast(`Deletion protection is enabled for ${desc.name}: disable it under Configure first.`, "bad");
    return false;
  }
  const yes = await confirmDialog({
    title: `Delete index ${desc.name}?`,
    message: "Every record in every namespace of this index is deleted. This cannot be undone.",
    confirmText: "Delete index",
    danger: true,
    requireText: desc.name,
  });
  if (!yes) return false;
  try {
    await api.deleteIndex(desc.name);
    toast(`Deleted index ${desc.name}`);
    if (after) await after();
    return true;
  } catch (err) {
    toast(err.message, "bad");
    return false;
  }
}

function row(desc, refresh) {
  const link = `#/indexes/${encodeURIComponent(desc.name)}`;
  const protectedIdx = desc.deletion_protection === "enabled";
  const rc = model.readCapacity(desc);
  const del = h(
    "button",
    {
      class: "danger ghost small", type: "button", testid: `delete-${desc.name}`,
      title: protectedIdx ? "Deletion protection is enabled" : "Delete this index",
      disabled: protectedIdx,
    },
    "Delete",
  );
  del.addEventListener("click", () => deleteIndexFlow(desc, refresh));
  return h(
    "tr",
    { testid: `index-row-${desc.name}` },
    h("td", {}, h("a", { href: link }, desc.name)),
    h("td", {}, badge(desc.status ? desc.status.state : "?")),
    h("td", {}, model.kind(desc)),
    h("td", { class: "num" }, model.dimension(desc) ?? "—"),
    h("td", {}, model.metric(desc) ?? "—"),
    h("td", {}, rc.mode, " ", badge(rc.state)),
    h("td", {}, protectedIdx ? badge("enabled") : h("span", { class: "muted" }, "disabled")),
    h("td", { class: "small" }, model.tagsText(desc.tags)),
    h("td", {}, h("div", { class: "row" },
      h("a", { href: `${link}/query` }, "Query"), h("a", { href: `${link}/imports` }, "Imports"), del)),
  );
}

function createForm(onCreated) {
  const name = h("input", { name: "name", required: true, placeholder: "my-index", testid: "create-name" });
  const kind = h("select", { testid: "create-kind" },
    h("option", { value: "dense" }, "Dense vectors"),
    h("option", { value: "sparse" }, "Sparse vectors"),
    h("option", { value: "integrated" }, "Integrated embedding (text)"));
  const dim = h("input", { type: "number", min: 1, value: 384, testid: "create-dimension" });
  const metric = h("select", { testid: "create-metric" },
    ["cosine", "dotproduct", "euclidean"].map((m) => h("option", { value: m }, m)));
  const modelSel = h("input", { list: "models", placeholder: "multilingual-e5-large", testid: "create-model" });
  const models = h("datalist", { id: "models" });
  const field = h("input", { value: "text", testid: "create-field" });
  const cloud = h("input", { value: "aws" });
  const region = h("input", { value: "us-east-1" });
  const protect = h("input", { type: "checkbox", testid: "create-protect" });
  const tags = h("input", { placeholder: "env=dev, team=search", testid: "create-tags" });
  const submit = h("button", { type: "submit", testid: "create-submit" }, "Create index");

  const dimLabel = h("label", {}, "Dimension", dim);
  const metricLabel = h("label", {}, "Metric", metric);
  const modelLabel = h("label", {}, "Embedding model", modelSel, models);
  const fieldLabel = h("label", {}, "Text field (field_map.text)", field);
  const sync = () => {
    const k = kind.value;
    dimLabel.hidden = k !== "dense";
    metricLabel.hidden = k === "sparse";
    modelLabel.hidden = fieldLabel.hidden = k !== "integrated";
    if (k === "integrated" && !models.childElementCount) {
      api.listModels().then((list) => {
        for (const m of list) models.append(h("option", { value: m.model || m.name }));
      }).catch(() => {});
    }
  };
  kind.addEventListener("change", sync);
  sync();

  const form = h("form", { class: "grid", testid: "create-form" },
    h("label", {}, "Name", name), h("label", {}, "Type", kind), dimLabel, metricLabel, modelLabel,
    fieldLabel, h("label", {}, "Cloud", cloud), h("label", {}, "Region", region),
    h("label", {}, "Tags", tags),
    h("label", { class: "inline" }, protect, "Deletion protection"),
    h("div", { class: "form-actions" }, submit));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(submit, async () => {
      const common = { name: name.value.trim(), deletion_protection: protect.checked ? "enabled" : "disabled" };
      const parsedTags = model.parseTags(tags.value);
      if (Object.keys(parsedTags).length) common.tags = parsedTags;
      const deployment = { deployment_type: "managed", cloud: cloud.value, region: region.value };
      let desc;
      if (kind.value === "integrated") {
        desc = await api.createForModel({
          ...common, cloud: cloud.value, region: region.value,
          embed: { model: modelSel.value.trim(), field_map: { text: field.value.trim() }, metric: metric.value },
        });
      } else {
        const schemaField = kind.value === "sparse"
          ? { _sparse_values: { type: "sparse_vector" } }
          : { _values: { type: "dense_vector", dimension: Number(dim.value), metric: metric.value } };
        desc = await api.createIndex({ ...common, schema: { fields: schemaField }, deployment });
      }
      toast(`Created index ${desc.name}`);
      name.value = "";
      await onCreated();
    });
  });
  return form;
}

export async function indexesPage(root, ctx) {
  const list = h("div", { testid: "indexes-list" });
  const createPanel = section("New index", createForm(() => refresh()));
  createPanel.hidden = true;
  const toggle = h("button", { type: "button", testid: "new-index" }, "New index");
  toggle.addEventListener("click", () => (createPanel.hidden = !createPanel.hidden));

  async function refresh() {
    const indexes = await api.listIndexes();
    if (!ctx.alive) return;
    list.replaceChildren(table(
      [["Name"], ["Status"], ["Type"], ["Dim", "num"], ["Metric"], ["Read capacity"],
        ["Deletion protection"], ["Tags"], [""]],
      indexes.map((d) => row(d, refresh)),
      "No indexes yet: create one, or use the SDK.",
      "indexes-table",
    ));
  }
  root.replaceChildren(
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, "Indexes"), h("div", { class: "muted" }, "Serverless indexes of this project")),
      h("div", { class: "actions" }, toggle)),
    createPanel,
    section(null, list),
  );
  try {
    await refresh();
  } catch (err) {
    list.replaceChildren(notice(err.message, "bad"));
  }
  ctx.every(3000, () => refresh().catch(() => {}));
}
