// Query playground: by vector, by id, or by text on integrated indexes; a filter
// editor; results with scores and metadata.
import * as api from "../api.js";
import * as model from "../model.js";
import { busy, fmtNum, h, jsonInput, notice, section, table } from "../ui.js";
import { indexPicker } from "./picker.js";

function parseVector(text, dim) {
  const trimmed = text.trim();
  if (!trimmed) return undefined;
  const values = trimmed.startsWith("[") ? JSON.parse(trimmed) : trimmed.split(/[\s,]+/).map(Number);
  if (!Array.isArray(values) || values.some((v) => typeof v !== "number" || Number.isNaN(v))) {
    throw new Error("The vector must be a JSON array of numbers or comma-separated numbers");
  }
  if (dim && values.length !== dim) throw new Error(`The vector has ${values.length} values; the index has dimension ${dim}`);
  return values;
}

// One line when it fits, indented otherwise.
function showJson(data) {
  const line = JSON.stringify(data, null, 1).replace(/\n\s*/g, " ");
  return line.length <= 100 ? line : JSON.stringify(data, null, 2);
}

function resultsTable(rows) {
  return table([["#", "num"], ["Id"], ["Score", "num"], ["Metadata / fields"]],
    rows.map((r, i) => h("tr", { testid: `result-${i}` },
      h("td", { class: "num" }, i + 1),
      h("td", { class: "mono", testid: `result-id-${i}` }, r.id),
      h("td", { class: "num mono", testid: `result-score-${i}` }, Number(r.score).toFixed(6)),
      h("td", {}, r.data && Object.keys(r.data).length ? h("pre", {}, showJson(r.data)) : h("span", { class: "muted" }, "—")))),
    "No matches.", "results-table");
}

export async function queryPage(root, ctx) {
  const name = ctx.params[0];
  const picker = await indexPicker(name, (n) => `#/indexes/${encodeURIComponent(n)}/query`);
  if (!ctx.alive) return;
  const head = h("div", { class: "page-head" },
    h("div", {}, h("h1", {}, "Query playground"), h("div", { class: "muted" }, "Runs the same REST calls as the SDK")),
    h("div", { class: "actions" }, picker));
  if (!name) {
    root.replaceChildren(head, notice("Choose an index to query."));
    return;
  }
  const desc = await api.describeIndex(name);
  const namespaces = await api.listNamespaces(desc).catch(() => []);
  if (!ctx.alive) return;
  const integrated = model.isIntegrated(desc);
  const sparse = model.vectorType(desc) === "sparse";
  const dim = model.dimension(desc);
  // Sparse values go with sparse indexes and with dense dotproduct ones (hybrid).
  const hybrid = sparse || model.metric(desc) === "dotproduct";
  const wanted = new URLSearchParams(location.hash.split("?")[1] || "").get("namespace");

  const ns = h("input", { list: "ns-options", value: wanted ?? (namespaces[0] ? namespaces[0].name : "__default__"), testid: "query-namespace" });
  const nsOptions = h("datalist", { id: "ns-options" }, namespaces.map((n) => h("option", { value: n.name })));
  const mode = h("select", { testid: "query-mode" },
    h("option", { value: "vector" }, sparse ? "By sparse vector" : "By vector"),
    h("option", { value: "id" }, "By record id"),
    h("option", { value: "text", disabled: !integrated }, integrated ? "By text" : "By text (integrated indexes only)"));
  mode.value = integrated ? "text" : "vector";
  const vector = h("textarea", { rows: 3, placeholder: `[0.1, 0.2, …] (${dim ?? "?"} numbers)`, testid: "query-vector" });
  const random = h("button", { class: "ghost small", type: "button" }, "Random vector");
  random.addEventListener("click", () => {
    vector.value = JSON.stringify(Array.from({ length: dim || 8 }, () => Number((Math.random() * 2 - 1).toFixed(4))));
  });
  const sparseIn = jsonInput({ placeholder: '{"indices": [1, 5], "values": [0.5, 0.3]}', rows: 2, testid: "query-sparse", label: "Sparse vector" });
  const recordId = h("input", { placeholder: "record id", testid: "query-id" });
  const text = h("input", { placeholder: "what are you looking for?", testid: "query-text" });
  const topK = h("input", { type: "number", min: 1, max: 10000, value: 10, testid: "query-topk" });
  const filter = jsonInput({ placeholder: '{"genre": {"$eq": "drama"}, "year": {"$gte": 2020}}', testid: "query-filter", label: "Filter" });
  const withMeta = h("input", { type: "checkbox", checked: true });
  const withValues = h("input", { type: "checkbox" });
  const run = h("button", { type: "submit", testid: "query-run" }, "Run query");
  const out = h("div", { testid: "query-results" });
  const summary = h("div", { class: "muted small", testid: "query-summary" });

  const vectorBox = h("label", { class: "span-all" }, h("span", { class: "row" }, "Vector", random), vector);
  const sparseBox = h("label", { class: "span-all" }, sparse ? "Sparse vector" : "Sparse vector (optional, for hybrid search)", sparseIn.area, sparseIn.error);
  const idBox = h("label", {}, "Record id", recordId);
  const textBox = h("label", { class: "span-all" }, `Text (embedded with ${model.embedModel(desc) || "the index's model"})`, text);
  const sync = () => {
    vectorBox.hidden = mode.value !== "vector" || sparse;
    sparseBox.hidden = mode.value !== "vector" || integrated || !hybrid;
    idBox.hidden = mode.value !== "id";
    textBox.hidden = mode.value !== "text";
  };
  mode.addEventListener("change", sync);
  sync();

  const form = h("form", { class: "grid", testid: "query-form" },
    h("label", {}, "Namespace", ns, nsOptions), h("label", {}, "Mode", mode), h("label", {}, "Top k", topK),
    vectorBox, sparseBox, idBox, textBox,
    h("label", { class: "span-all" }, "Metadata filter (JSON, Pinecone's filter language)", filter.area, filter.error),
    h("div", { class: "row span-all" },
      h("label", { class: "inline" }, withMeta, "Include metadata"),
      h("label", { class: "inline" }, withValues, "Include values"), run));

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    summary.textContent = "Running…";
    out.replaceChildren();
    busy(run, async () => {
      try {
        await runQuery();
      } catch (err) {
        if (!ctx.alive) return;
        summary.textContent = "";
        out.replaceChildren(notice(err.message, "bad", "query-error"));
      }
    });
  });

  async function runQuery() {
    const k = Number(topK.value) || 10;
    const filt = filter.read();
    const namespace = ns.value.trim();
    const started = performance.now();
    let rows;
    let usage;
    if (mode.value === "text") {
      const q = { inputs: { text: text.value }, top_k: k };
      if (filt) q.filter = filt;
      const res = await api.searchRecords(desc, namespace || "__default__", { query: q });
      rows = ((res.result && res.result.hits) || []).map((hit) => ({ id: hit._id, score: hit._score, data: hit.fields }));
      usage = res.usage && res.usage.read_units;
    } else {
      const body = { topK: k, includeMetadata: withMeta.checked, includeValues: withValues.checked };
      if (namespace) body.namespace = namespace;
      if (filt) body.filter = filt;
      if (mode.value === "id") {
        body.id = recordId.value.trim();
      } else {
        const values = sparse ? undefined : parseVector(vector.value, dim);
        const sv = sparseIn.read();
        if (values) body.vector = values;
        if (sv) body.sparseVector = sv;
      }
      const res = await api.query(desc, body);
      rows = (res.matches || []).map((m) => ({
        id: m.id, score: m.score,
        data: m.values && m.values.length ? { ...(m.metadata || {}), "(values)": m.values } : m.metadata,
      }));
      usage = res.usage && res.usage.readUnits;
    }
    if (!ctx.alive) return;
    summary.textContent = `${rows.length} match(es) in ${Math.round(performance.now() - started)} ms` +
      (usage !== undefined ? ` · ${fmtNum(usage)} read unit(s)` : "");
    out.replaceChildren(resultsTable(rows));
  }

  root.replaceChildren(head, section(`Query ${desc.name}`, form), section("Results", summary, out));
}
