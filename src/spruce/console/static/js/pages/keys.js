// API keys of the caller's project (admin API): list, create (secret shown once), delete.
import * as api from "../api.js";
import { badge, busy, confirmDialog, fmtTime, h, notice, section, table, toast } from "../ui.js";

export async function keysPage(root, ctx) {
  let project;
  try {
    project = await api.currentProject();
  } catch (err) {
    if (!err.unsupported) throw err;
  }
  if (!ctx.alive) return;
  const head = h("div", { class: "page-head" },
    h("div", {}, h("h1", {}, "API keys"),
      h("div", { class: "muted" }, project ? `Project ${project.name} (${project.id})` : "")));
  if (!project) {
    root.replaceChildren(head, notice("This server has no admin API for keys.", "warn", "keys-unavailable"));
    return;
  }
  const list = h("div", { testid: "keys-list" });
  const created = h("div", { testid: "new-key" });

  async function refresh() {
    const keys = await api.listKeys(project.id);
    if (!ctx.alive) return;
    list.replaceChildren(table([["Name"], ["Id"], ["Roles"], ["Created"], [""]],
      keys.map((k) => {
        const del = h("button", { class: "danger ghost small", type: "button", testid: `delete-key-${k.name}` }, "Delete");
        del.addEventListener("click", async () => {
          const yes = await confirmDialog({
            title: `Delete key ${k.name}?`,
            message: "Anything still using this key is refused from now on. If it is the key this console uses, you will be asked for another.",
            confirmText: "Delete key",
            danger: true,
          });
          if (!yes) return;
          await busy(del, async () => {
            await api.deleteKey(k.id);
            toast(`Deleted key ${k.name}`);
            await refresh();
          });
        });
        return h("tr", { testid: `key-row-${k.name}` },
          h("td", {}, k.name), h("td", { class: "mono small" }, k.id),
          h("td", {}, (k.roles || []).map((r) => badge(r, "info"))),
          h("td", { class: "small" }, fmtTime(k.created_at)), h("td", {}, del));
      }),
      "No keys.", "keys-table"));
  }

  const name = h("input", { required: true, maxlength: 80, placeholder: "ci-pipeline", testid: "key-name" });
  const submit = h("button", { type: "submit", testid: "key-create" }, "Create key");
  const form = h("form", { class: "row" }, h("label", {}, "Name", name), submit);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(submit, async () => {
      const res = await api.createKey(project.id, name.value.trim());
      name.value = "";
      const copy = h("button", { class: "ghost small", type: "button" }, "Copy");
      copy.addEventListener("click", () => navigator.clipboard.writeText(res.value).then(() => toast("Copied")));
      const use = h("button", { class: "ghost small", type: "button", testid: "use-new-key" }, "Use in this console");
      use.addEventListener("click", () => {
        api.setKey(res.value);
        location.reload();
      });
      created.replaceChildren(h("p", {}, `Key ${res.key.name} created. Copy it now: it is not shown again.`),
        h("div", { class: "secret" }, h("code", { testid: "new-key-value" }, res.value), copy, use));
      await refresh();
    });
  });

  root.replaceChildren(head, section("Create a key", form, created), section("Keys", list));
  await refresh();
}
