// The console's only way to the server: Spruce's public REST API, as the SDK uses it,
// with the Api-Key header. Control plane at this origin; each index's data plane at
// the path of the `host` that describe_index returns (see dataBase).

const KEY = "spruce.apiKey";
const API_VERSION = "2026-07";

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
  // The route does not exist on this server (a feature it lacks), or it says so.
  get unsupported() {
    return this.status === 501 || (this.status === 404 && /^Not found: /.test(this.message));
  }
}

export function getKey() {
  return localStorage.getItem(KEY) || "";
}

export function setKey(key) {
  localStorage.setItem(KEY, key);
}

export function clearKey() {
  forgetProject(getKey());
  localStorage.removeItem(KEY);
}

// The project switcher: a key reaches one project, so switching project is switching
// to a key of that project remembered from an earlier login.
const PROJECTS = "spruce.projects";

export function rememberedProjects() {
  try {
    const found = JSON.parse(localStorage.getItem(PROJECTS) || "[]");
    return Array.isArray(found) ? found : [];
  } catch {
    return [];
  }
}

export function rememberProject(project, key) {
  const others = rememberedProjects().filter((p) => p.id !== project.id);
  const all = [...others, { id: project.id, name: project.name, key }];
  localStorage.setItem(PROJECTS, JSON.stringify(all));
}

function forgetProject(key) {
  const kept = rememberedProjects().filter((p) => p.key !== key);
  localStorage.setItem(PROJECTS, JSON.stringify(kept));
}

let onUnauthorized = () => {};
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

function messageOf(data, res) {
  if (data && typeof data === "object") {
    if (data.error && data.error.message) return data.error.message;
    if (data.message) return data.message;
  }
  if (typeof data === "string" && data) return data;
  return `${res.status} ${res.statusText}`;
}

export async function call(method, url, body, key = getKey()) {
  const headers = { "Api-Key": key, "X-Pinecone-Api-Version": API_VERSION };
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (err) {
    throw new ApiError(0, `Cannot reach the server: ${err.message}`);
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, messageOf(data, res), data);
    // Only the stored key being refused logs out (not a key typed into the login form).
    if (res.status === 401 && key && key === getKey()) onUnauthorized(err);
    throw err;
  }
  return data;
}

const enc = encodeURIComponent;

// Index hosts may be on their own port (for gRPC); the same routes are served under
// the host's path on every port, so the browser calls them on this origin and needs
// no cross-origin access.
export function dataBase(desc) {
  const url = new URL(desc.host);
  const path = url.pathname.replace(/\/+$/, "");
  if (url.origin === location.origin || !path) return `${url.origin}${path}`;
  return `${location.origin}${path}`;
}

// -- control plane -------------------------------------------------------------
export async function listIndexes() {
  return (await call("GET", "/indexes")).indexes || [];
}
export const describeIndex = (name) => call("GET", `/indexes/${enc(name)}`);
export const createIndex = (body) => call("POST", "/indexes", body);
export const createForModel = (body) => call("POST", "/indexes/create-for-model", body);
export const configureIndex = (name, body) => call("PATCH", `/indexes/${enc(name)}`, body);
export const deleteIndex = (name) => call("DELETE", `/indexes/${enc(name)}`);
export async function listModels() {
  return (await call("GET", "/models")).models || [];
}

// -- data plane ------------------------------------------------------------------
export const stats = (desc) => call("POST", `${dataBase(desc)}/describe_index_stats`, {});

export async function listNamespaces(desc) {
  const out = [];
  let token = null;
  for (let page = 0; page < 100; page++) {
    const qs = token ? `?limit=100&paginationToken=${enc(token)}` : "?limit=100";
    const res = await call("GET", `${dataBase(desc)}/namespaces${qs}`);
    out.push(...(res.namespaces || []));
    token = res.pagination && res.pagination.next;
    if (!token) break;
  }
  return out;
}
export const createNamespace = (desc, name) =>
  call("POST", `${dataBase(desc)}/namespaces`, { name });
export const deleteNamespace = (desc, name) =>
  call("DELETE", `${dataBase(desc)}/namespaces/${enc(name)}`);

export const query = (desc, body) => call("POST", `${dataBase(desc)}/query`, body);
export const searchRecords = (desc, namespace, body) =>
  call("POST", `${dataBase(desc)}/records/namespaces/${enc(namespace)}/search`, body);

export async function listImports(desc) {
  const out = [];
  let token = null;
  for (let page = 0; page < 100; page++) {
    const qs = token ? `?limit=100&paginationToken=${enc(token)}` : "?limit=100";
    const res = await call("GET", `${dataBase(desc)}/bulk/imports${qs}`);
    out.push(...((res && res.data) || []));
    token = res && res.pagination && res.pagination.next;
    if (!token) break;
  }
  return out;
}
export const startImport = (desc, body) => call("POST", `${dataBase(desc)}/bulk/imports`, body);
export const cancelImport = (desc, id) =>
  call("DELETE", `${dataBase(desc)}/bulk/imports/${enc(id)}`);

// -- admin: the caller's project and its keys ---------------------------------------
export async function currentProject(key) {
  const res = await call("GET", "/admin/projects", undefined, key);
  return (res.data || [])[0] || null;
}
export async function listKeys(projectId) {
  return (await call("GET", `/admin/projects/${enc(projectId)}/api-keys`)).data || [];
}
export const createKey = (projectId, name) =>
  call("POST", `/admin/projects/${enc(projectId)}/api-keys`, { name, roles: ["ProjectEditor"] });
export const deleteKey = (id) => call("DELETE", `/admin/api-keys/${enc(id)}`);
