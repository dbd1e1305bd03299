// A select of the project's indexes that navigates to `target(name)`.
import * as api from "../api.js";
import { h } from "../ui.js";

export async function indexPicker(selected, target) {
  const indexes = await api.listIndexes().catch(() => []);
  const select = h("select", { testid: "index-picker", "aria-label": "Index" },
    h("option", { value: "" }, indexes.length ? "Choose an index…" : "No indexes yet"),
    indexes.map((d) => h("option", { value: d.name }, d.name)));
  select.value = selected || "";
  select.addEventListener("change", () => {
    if (select.value) location.hash = target(select.value);
  });
  return h("label", {}, "Index", select);
}
