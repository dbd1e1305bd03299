// What the console reads from an IndexModel (describe_index), in either of the
// shapes Spruce returns: 2026-07 `schema`/`deployment` and 2025-xx top-level keys.

function fields(desc) {
  return Object.values((desc.schema && desc.schema.fields) || {});
}

export function isIntegrated(desc) {
  return Boolean(desc.embed) || fields(desc).some((f) => f.type === "semantic_text" || f.embed);
}

export function vectorType(desc) {
  if (desc.vector_type) return desc.vector_type;
  const all = fields(desc);
  const dense = all.some((f) => f.type === "dense_vector" || (f.embed && f.embed.dimension));
  return !dense && all.some((f) => f.type === "sparse_vector") ? "sparse" : "dense";
}

export function kind(desc) {
  return isIntegrated(desc) ? "integrated" : vectorType(desc);
}

export function dimension(desc) {
  if (desc.dimension !== undefined && desc.dimension !== null) return desc.dimension;
  for (const f of fields(desc)) {
    if (f.type === "dense_vector") return f.dimension;
    if (f.embed && f.embed.dimension) return f.embed.dimension;
  }
  return desc.embed ? desc.embed.dimension ?? null : null;
}

export function metric(desc) {
  if (desc.metric) return desc.metric;
  for (const f of fields(desc)) {
    if (f.metric) return f.metric;
    if (f.embed && f.embed.metric) return f.embed.metric;
  }
  return vectorType(desc) === "sparse" ? "dotproduct" : null;
}

export function embedModel(desc) {
  if (desc.embed) return desc.embed.model;
  for (const f of fields(desc)) {
    if (f.model) return f.model;
    if (f.embed && f.embed.model) return f.embed.model;
  }
  return null;
}

// The record field an integrated index embeds (embed.field_map.text).
export function textField(desc) {
  const map = desc.embed && desc.embed.field_map;
  if (map && map.text) return map.text;
  const names = Object.entries((desc.schema && desc.schema.fields) || {});
  const found = names.find(([, f]) => f.type === "semantic_text" || f.embed);
  return found ? found[0] : "text";
}

export function cloudRegion(desc) {
  const dep = desc.deployment || {};
  const sls = (desc.spec && desc.spec.serverless) || {};
  return `${dep.cloud || sls.cloud || "?"} / ${dep.region || sls.region || "?"}`;
}

export function readCapacity(desc) {
  const rc = desc.read_capacity || (desc.spec && desc.spec.serverless && desc.spec.serverless.read_capacity) || {};
  const status = rc.status || {};
  let mode = rc.mode || "OnDemand";
  if (mode === "Dedicated" && rc.dedicated) {
    const d = rc.dedicated;
    const manual = d.manual || {};
    const shape = manual.shards ? ` ${manual.shards}×${manual.replicas ?? 1}` : "";
    mode = `Dedicated ${d.node_type || ""}${shape}`.trim();
  }
  const current =
    status.current_shards !== undefined
      ? `now ${status.current_shards} shard(s) × ${status.current_replicas ?? "?"} replica(s)`
      : "";
  return { mode, state: status.state || "Ready", current, error: status.error_message || "", raw: rc };
}

export function tagsText(tags) {
  return Object.entries(tags || {}).map(([k, v]) => `${k}=${v}`).join(", ");
}

// "a=b, c=d" or one per line -> {a: "b", c: "d"}; throws on a malformed entry.
export function parseTags(text) {
  const out = {};
  for (const part of text.split(/[\n,]/)) {
    const item = part.trim();
    if (!item) continue;
    const eq = item.indexOf("=");
    if (eq <= 0) throw new Error(`Tag "${item}" must look like key=value`);
    out[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return out;
}
