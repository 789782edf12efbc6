// Trove console. Every value from the store is rendered with textContent
// (through el() below), never as markup: the store holds untrusted input.
"use strict";

const TOKEN_KEY = "trove.token";
const main = document.getElementById("main");
let pageTimer = null;   // the overview's refresh timer
let pageAbort = null;   // aborts the current page's requests and streams

// el builds an element. attrs are set as properties or attributes; children
// are nodes or strings (added as text).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}

// hashLink is a link to a console page; parts are encoded.
function eventHref(id, version) {
  return "#/event/" + encodeURIComponent(id) + (version ? "?version=" + encodeURIComponent(version) : "");
}
function eventLink(id, version, label) {
  return el("a", { href: eventHref(id, version), class: "mono" }, label || (id + (version ? " v" + version : "")));
}

function fmtNum(n) { return n === undefined || n === null ? "–" : Number(n).toLocaleString("en-US"); }
function fmtBytes(n) {
  if (n === undefined || n === null) return "–";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + " " + u[i];
}
function schemaIdentity(s) {
  if (!s || typeof s !== "object") return "";
  return typeof s.$id === "string" ? s.$id : (typeof s.id === "string" ? s.id : "");
}

// ---- API access ----

class AuthError extends Error {}

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

function authHeaders(extra) {
  const h = Object.assign({}, extra || {});
  const t = token();
  if (t) h["Authorization"] = "Bearer " + t;
  return h;
}

async function api(path, opts) {
  opts = opts || {};
  const res = await fetch(path, {
    headers: authHeaders(opts.headers), signal: opts.signal, cache: "no-store",
    credentials: "omit", referrerPolicy: "no-referrer",
  });
  if (res.status === 401) { askToken(); throw new AuthError("a token is needed"); }
  if (!res.ok && !(opts.ok || []).includes(res.status)) {
    let msg = res.status + " " + res.statusText;
    try {
      const b = await res.json();
      if (b && b.error) msg = b.error + (b.details ? ": " + b.details : "");
    } catch (_) { /* not JSON */ }
    const err = new Error(msg);
    err.status = res.status;
    throw err;
  }
  return opts.raw ? res : res.json();
}

function askToken(message) {
  const box = document.getElementById("login");
  document.getElementById("login-error").textContent = message || (token() ? "That token was refused." : "");
  if (box.hidden) {
    box.hidden = false;
    setInert(true);
    document.getElementById("login-token").focus();
  }
}

document.getElementById("login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = document.getElementById("login-token");
  const t = input.value.trim();
  if (!t) return;
  sessionStorage.setItem(TOKEN_KEY, t);
  input.value = "";
  document.getElementById("login").hidden = true;
  setInert(false);
  updateForget();
  route();
});

document.getElementById("forget").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  updateForget();
  route();
});

// The skip link moves focus to the page's main area. It does not follow
// its href: the hash is the console's route.
document.getElementById("skip").addEventListener("click", (ev) => {
  ev.preventDefault();
  main.focus();
});

// setInert keeps keyboard focus inside the sign-in dialog while it is open.
function setInert(on) {
  main.inert = on;
  document.querySelector(".top").inert = on;
  document.getElementById("skip").inert = on;
}

function updateForget() { document.getElementById("forget").hidden = !token(); }

function showError(where, err) {
  if (err instanceof AuthError || (err && err.name === "AbortError")) return;
  where.append(el("p", { class: "error", role: "alert" }, String(err && err.message || err)));
}

// ---- router ----

function parseHash() {
  let h = location.hash.replace(/^#/, "");
  if (!h.startsWith("/")) h = "/" + h;
  const q = h.indexOf("?");
  const path = q < 0 ? h : h.slice(0, q);
  const params = new URLSearchParams(q < 0 ? "" : h.slice(q + 1));
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), params };
}

function route() {
  if (pageTimer) { clearInterval(pageTimer); pageTimer = null; }
  if (pageAbort) pageAbort.abort();
  pageAbort = new AbortController();
  const { parts, params } = parseHash();
  const page = parts[0] || "overview";
  for (const a of document.querySelectorAll(".top nav a")) {
    const on = a.dataset.page === page || (a.dataset.page === "schemas" && page === "schema") || (a.dataset.page === "events" && page === "event");
    if (on) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  main.replaceChildren();
  const signal = pageAbort.signal;
  const pages = {
    overview: () => overview(signal),
    events: () => browse(params, signal),
    event: () => eventPage(parts[1] || "", params, signal),
    tail: () => tail(params, signal),
    schemas: () => schemas(signal),
    schema: () => schemaPage(parts[1] || "", params, signal),
  };
  const render = pages[page];
  if (!render) {
    main.append(el("h1", {}, "Not found"), el("p", {}, "No such page. ", el("a", { href: "#/" }, "Overview")));
    return;
  }
  render().catch((err) => showError(main, err));
}

window.addEventListener("hashchange", () => { route(); main.focus({ preventScroll: true }); });

// ---- overview ----

async function overview(signal) {
  document.title = "Overview · Trove";
  main.append(el("h1", {}, "Overview"));
  const body = el("div", { id: "ov-body", "data-draws": 0 });
  main.append(body);
  const draw = async () => {
    const st = await api("/api/stats", { signal });
    // A refresh keeps the keyboard focus where it was: the link with the
    // same address, in the new figures.
    const had = body.contains(document.activeElement) ? document.activeElement.getAttribute("href") : null;
    body.replaceChildren(...renderOverview(st));
    body.dataset.draws = Number(body.dataset.draws) + 1;
    if (had !== null) {
      const again = [...body.querySelectorAll("a[href]")].find((a) => a.getAttribute("href") === had);
      (again || main).focus({ preventScroll: true });
    }
  };
  await draw();
  pageTimer = setInterval(() => draw().catch((err) => { if (!(err instanceof AuthError)) console.warn(err); }), 5000);
}

function renderOverview(st) {
  const out = [];
  const storage = (st.plugins || []).find((p) => (p.roles || []).includes("storage:events")) || (st.plugins || [])[0] || {};
  const fig = storage.figures || {};
  const card = (label, value, id) => el("div", { class: "card" }, el("div", { class: "label" }, label), el("div", { class: "value", id }, value));
  out.push(el("section", { class: "cards", "aria-label": "Store figures" },
    card("Events (all versions)", fmtNum(st.lastPosition), "ov-events"),
    card("Distinct ids", st.counting ? "…" : fmtNum(st.ids), "ov-ids"),
    card("Last position", fmtNum(st.lastPosition), "ov-last"),
    card("Store size", st.storeBytes === undefined ? "–" : fmtBytes(st.storeBytes), "ov-size"),
    card("Schemas in use", fmtNum((st.schemas || []).length)),
    card("Producers", fmtNum((st.producers || []).length)),
    card("Storage", storage.name || "–")));
  if (st.counting) out.push(el("p", { class: "muted" }, "Counting by schema and producer: " + fmtNum(st.countedUpTo) + " of " + fmtNum(st.lastPosition) + " events read."));
  if (st.countError) out.push(el("p", { class: "muted" }, st.countError));

  out.push(el("h2", {}, "Ingest, last " + Math.round((st.ingest.counts.length * st.ingest.bucketSeconds) / 60) + " minutes"));
  out.push(ingestChart(st.ingest));

  const countTable = (title, rows, param) => el("section", {},
    el("h2", {}, title),
    el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Name"), el("th", { scope: "col", class: "num" }, "Events"))),
      el("tbody", {}, rows.length ? rows.slice(0, 50).map((r) => el("tr", {},
        el("td", {}, el("a", { href: "#/events?" + new URLSearchParams([[param, r.name]]) }, r.name || "(none)")),
        el("td", { class: "num" }, fmtNum(r.count)))) : el("tr", {}, el("td", { colspan: 2, class: "muted" }, "None yet"))))),
    rows.length > 50 ? el("p", { class: "muted" }, (rows.length - 50) + " more not shown") : null);
  out.push(el("div", { class: "grid2" }, countTable("Schemas", st.schemas || [], "schema"), countTable("Producers", st.producers || [], "producer")));

  out.push(el("h2", {}, "Engine health"));
  const health = el("div", { class: "grid2" });
  for (const p of st.plugins || []) {
    const f = p.figures || {};
    const keys = Object.keys(f).sort();
    health.append(el("section", { class: "card", "aria-label": p.name + " figures" },
      el("h3", {}, p.name, " ", el("span", { class: "muted" }, "(" + (p.roles || []).join(", ") + ")")),
      keys.length ? el("dl", { class: "kv" }, keys.map((k) => [el("dt", {}, k.replace(/_/g, " ")),
        el("dd", { "data-figure": k }, /bytes/.test(k) ? fmtBytes(f[k]) : fmtNum(f[k]))])) :
        el("p", { class: "muted" }, "This storage reports no figures.")));
  }
  out.push(health);
  if (fig.index_lag > 0) out.push(el("p", {}, "The search index is " + fmtNum(fig.index_lag) + " events behind; queries stay exact meanwhile."));

  out.push(el("h2", {}, "Last integrity check"));
  if (st.check) {
    const c = st.check;
    out.push(el("div", { class: "card", id: "ov-check" },
      el("p", { class: c.ok ? "ok" : "error" }, c.ok ? "No damage found" : "Damage found"),
      el("dl", { class: "kv" }, el("dt", {}, "At"), el("dd", {}, c.at), el("dt", {}, "Result"), el("dd", {}, c.summary)),
      (c.problems || []).length ? el("ul", {}, c.problems.map((p) => el("li", {}, p))) : null));
  } else {
    out.push(el("p", { class: "muted", id: "ov-check" }, "No check has run on this store (troved check, with the daemon stopped)."));
  }
  return out;
}

function ingestChart(ing) {
  const counts = ing.counts || [];
  const w = 900, h = 100, pad = 2;
  const max = Math.max(1, ...counts);
  const total = counts.reduce((a, b) => a + b, 0);
  const bw = (w - 2) / Math.max(1, counts.length);
  const end = new Date(ing.end);
  // The bars stretch to the box's width (preserveAspectRatio none); the
  // axis labels are HTML below it, so they stay readable on a phone.
  const s = svg("svg", { class: "chart", viewBox: `0 0 ${w} ${h}`, preserveAspectRatio: "none", role: "img",
    "aria-label": `Events per ${ing.bucketSeconds} seconds: ${total} in total, at most ${max === 1 && total === 0 ? 0 : max} in one interval` });
  counts.forEach((c, i) => {
    const bh = ((h - pad - 4) * c) / max;
    const r = svg("rect", { class: "bar", x: 1 + i * bw, y: h - pad - bh, width: Math.max(1, bw - 1), height: bh });
    const t = svg("title", {});
    const from = new Date(end.getTime() - (counts.length - i) * ing.bucketSeconds * 1000);
    t.textContent = `${c} events from ${from.toISOString().slice(11, 19)} UTC`;
    r.append(t);
    s.append(r);
  });
  const axis = el("div", { class: "chart-axis", "aria-hidden": "true" },
    el("span", {}, "-" + Math.round((counts.length * ing.bucketSeconds) / 60) + " min"),
    el("span", {}, "now · peak " + (total ? max : 0) + "/" + ing.bucketSeconds + "s"));
  const fig = el("figure", {});
  fig.append(s, axis, el("figcaption", { class: "muted" }, `${fmtNum(total)} events in the window (before ${ing.since}, by their createdAt; since then, as they arrive).`));
  return fig;
}

// ---- query form (browse and tail) ----

// The filters of GET /api/events, in URL parameter form. Several values
// in one field are separated by commas (joinList, splitList).
const MULTI = ["schema", "producer", "link"];

// joinList writes values for a list field: separated by commas, a value
// that holds a comma or a double quote, or starts or ends with a space,
// in double quotes with "" for a quote inside. splitList reads it back,
// so that any value a URL holds survives the form.
function joinList(values) {
  return values.map((v) => (/[",]|^\s|\s$/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v)).join(", ");
}

function splitList(s) {
  const out = [];
  let i = 0;
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i])) i++;
    if (i >= s.length) break;
    let v = "";
    if (s[i] === '"') {
      for (i++; i < s.length; i++) {
        if (s[i] !== '"') { v += s[i]; continue; }
        if (s[i + 1] === '"') { v += '"'; i++; continue; }
        i++;
        break;
      }
    }
    const j = s.indexOf(",", i);
    v += (j < 0 ? s.slice(i) : s.slice(i, j)).trim();
    if (v !== "") out.push(v);
    i = j < 0 ? s.length : j + 1;
  }
  return out;
}

function queryForm(params, opts) {
  const id = (n) => opts.prefix + "-" + n;
  const field = (name, label, attrs, help) => el("div", { class: "field" },
    el("label", { for: id(name) }, label),
    el("input", Object.assign({ id: id(name), name, value: MULTI.includes(name) ? joinList(params.getAll(name).concat(name === "schema" ? params.getAll("schemaId") : [])) : (params.get(name) || "") }, attrs || {},
      help ? { "aria-describedby": id(name) + "-help" } : {})),
    help ? el("small", { id: id(name) + "-help", class: "muted" }, help) : null);
  const form = el("form", { class: "query", id: opts.prefix + "-form", "aria-label": opts.label });
  const fields = el("div", { class: "fields" },
    field("schema", "Schema", { list: "dl-schemas", autocomplete: "off" }, "several: comma-separated; \"quote, a value\" with a comma"),
    field("producer", "Producer", { list: "dl-producers", autocomplete: "off" }, "several: comma-separated; \"quote, a value\" with a comma"),
    field("start", "From (createdAt)", { placeholder: "2025-04-15 or RFC 3339" }),
    field("end", "To (createdAt)", { placeholder: "2025-04-15T23:59:59Z" }),
    field("link", "Links", { placeholder: "type:target-id" }, "TYPE:TARGET, TYPE or :TARGET; comma-separated, all required"),
    field("search", "Search", { placeholder: "status:failed +amount:>100" }));
  if (!opts.stream) {
    fields.append(
      field("sort", "Sort", { list: "dl-sort", placeholder: "createdAt:desc" }, "field:asc|desc, comma-separated"),
      field("limit", "Limit", { type: "number", min: 0, max: 10000, inputmode: "numeric" }),
      el("div", { class: "field check" },
        el("input", { type: "checkbox", id: id("allVersions"), name: "allVersions", checked: params.get("allVersions") === "true" }),
        el("label", { for: id("allVersions") }, "All versions")));
  }
  form.append(fields);
  const rows = el("div", {});
  const addRow = (path, value) => {
    const n = rows.children.length;
    const row = el("div", { class: "payload-row" },
      el("div", { class: "field" }, el("label", { for: id("pp" + n) }, "Payload path"), el("input", { id: id("pp" + n), class: "pp", value: path, placeholder: "author.name", autocomplete: "off" })),
      el("div", { class: "field" }, el("label", { for: id("pv" + n) }, "equals"), el("input", { id: id("pv" + n), class: "pv", value, placeholder: "\"Jane\", 42, true or null" })),
      el("button", { type: "button", class: "secondary", "aria-label": "Remove this payload condition", onclick: () => row.remove() }, "Remove"));
    rows.append(row);
    return row;
  };
  for (const [k, v] of params) if (k.startsWith("payload.")) addRow(k.slice(8), v);
  form.append(el("fieldset", {}, el("legend", {}, "Payload equals (path = JSON scalar, else a string)"), rows,
    el("button", { type: "button", class: "secondary", id: id("add-payload"), onclick: () => addRow("", "").querySelector("input").focus() }, "Add payload condition")));
  form.append(el("div", { class: "actions" }, el("button", { type: "submit", id: id("submit") }, opts.submit)));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    opts.onSubmit(formParams(form));
  });
  return form;
}

// formParams reads the form back into GET /api/events parameters.
function formParams(form) {
  const p = new URLSearchParams();
  for (const name of ["schema", "producer", "start", "end", "link", "search", "sort", "limit"]) {
    const input = form.elements.namedItem(name);
    if (!input) continue;
    const v = input.value.trim();
    if (!v) continue;
    if (MULTI.includes(name)) splitList(v).forEach((x) => p.append(name, x));
    else p.append(name, v);
  }
  for (const row of form.querySelectorAll(".payload-row")) {
    const path = row.querySelector(".pp").value.trim();
    if (path) p.append("payload." + path, row.querySelector(".pv").value);
  }
  const all = form.elements.namedItem("allVersions");
  if (all && all.checked) p.append("allVersions", "true");
  return p;
}

async function fillDatalists(signal) {
  if (document.getElementById("dl-sort")) return;
  const sorts = ["position:desc", "position:asc", "createdAt:desc", "createdAt:asc", "producer:asc", "schema:asc", "id:asc", "version:desc"];
  document.body.append(el("datalist", { id: "dl-sort" }, sorts.map((s) => el("option", { value: s }))));
  const ds = el("datalist", { id: "dl-schemas" }), dp = el("datalist", { id: "dl-producers" });
  document.body.append(ds, dp);
  try {
    const st = await api("/api/stats", { signal });
    ds.append(...(st.schemas || []).slice(0, 200).map((s) => el("option", { value: s.name })));
    dp.append(...(st.producers || []).slice(0, 200).map((s) => el("option", { value: s.name })));
  } catch (_) { ds.remove(); dp.remove(); document.getElementById("dl-sort").remove(); }
}

function shellQuote(s) { return "'" + s.replace(/'/g, "'\\''") + "'"; }

function curlCommand(path) {
  const url = location.origin + path;
  return "curl" + (token() ? " -H \"Authorization: Bearer $TROVE_TOKEN\"" : "") + " " + shellQuote(url);
}

async function copyText(text, status) {
  try {
    await navigator.clipboard.writeText(text);
    status.textContent = "Copied.";
  } catch (_) {
    status.textContent = "Copy blocked by the browser: select the command above.";
  }
}

// ---- browse ----

async function browse(params, signal) {
  document.title = "Browse · Trove";
  main.append(el("h1", {}, "Browse and query"));
  fillDatalists(signal);
  const form = queryForm(params, {
    prefix: "q", label: "Query", submit: "Run query",
    onSubmit: (p) => { p.delete("offset"); location.hash = "#/events?" + p.toString(); },
  });
  // On a phone, a query that has run folds its form away so that the
  // results come first; the summary says what it asks.
  const narrow = window.matchMedia("(max-width: 600px)").matches;
  const asked = [...params].filter(([k]) => k !== "offset").map(([k, v]) => k + "=" + v).join(" · ");
  main.append(el("details", { class: "filters", id: "q-details", open: !narrow || !asked },
    el("summary", { id: "q-summary" }, asked ? "Query: " + asked : "Query"), form));
  const results = el("section", { id: "results", "aria-live": "polite", "aria-label": "Results" });
  main.append(results);
  const path = "/api/events" + (params.toString() ? "?" + params.toString() : "");
  const curl = el("code", { class: "curl", id: "curl" }, curlCommand(path));
  const status = el("span", { role: "status", class: "muted", id: "copy-status" });
  form.querySelector(".actions").append(
    el("button", { type: "button", class: "secondary", id: "copy-curl", onclick: () => copyText(curl.textContent, status) }, "Copy as curl"),
    el("a", { href: "#/tail" + (tailParams(params) ? "?" + tailParams(params) : ""), id: "tail-link" }, "Tail these filters"), status);
  form.append(curl);

  const res = await api(path, { signal });
  const events = res.events || [];
  const offset = Number(params.get("offset") || 0);
  results.append(el("h2", {}, events.length ? `Events ${offset + 1}–${offset + events.length}` : "No events match"));
  if (events.length) results.append(eventTable(events, "results-table"));
  const nav = el("nav", { class: "actions", "aria-label": "Pages of results" });
  if (offset > 0) {
    const prev = new URLSearchParams(params);
    const limit = Number(params.get("limit") || events.length || 100);
    const po = Math.max(0, offset - limit);
    if (po) prev.set("offset", po); else prev.delete("offset");
    nav.append(el("a", { href: "#/events?" + prev, id: "prev-page" }, "← Previous page"));
  }
  if (res.nextOffset !== undefined && res.nextOffset !== null) {
    const next = new URLSearchParams(params);
    next.set("offset", res.nextOffset);
    nav.append(el("a", { href: "#/events?" + next, id: "next-page" }, "Next page →"));
  }
  results.append(nav);
}

function tailParams(params) {
  const p = new URLSearchParams();
  for (const [k, v] of params) if (!["sort", "limit", "offset", "allVersions"].includes(k)) p.append(k, v);
  return p.toString();
}

function payloadSummary(p) {
  const s = JSON.stringify(p);
  return s && s.length > 160 ? s.slice(0, 160) + "…" : s;
}

function eventTable(events, id) {
  const tbody = el("tbody", {});
  for (const e of events) tbody.append(eventRow(e));
  return el("div", { class: "table-wrap" }, el("table", { id },
    el("thead", {}, el("tr", {},
      el("th", { scope: "col", class: "num" }, "Pos."), el("th", { scope: "col" }, "Event"),
      el("th", { scope: "col", class: "hide-narrow" }, "Created"), el("th", { scope: "col" }, "Schema"),
      el("th", { scope: "col", class: "hide-narrow" }, "Producer"), el("th", { scope: "col" }, "Payload"))),
    tbody));
}

// shortID is an id cut to 13 characters (a UUID's first two groups).
function shortID(id) {
  const s = String(id);
  return s.length > 13 ? s.slice(0, 13) + "…" : s;
}

function eventRow(e) {
  const id = e.id || {};
  return el("tr", { "data-position": e.position },
    el("td", { class: "num" }, fmtNum(e.position)),
    el("td", {}, eventLink(id.id, id.version, shortID(id.id) + (id.version > 1 ? " v" + id.version : ""))),
    el("td", { class: "hide-narrow mono" }, e.createdAt),
    el("td", {}, schemaIdentity(e.schema)),
    el("td", { class: "hide-narrow" }, e.producer),
    el("td", { class: "payload mono", title: payloadSummary(e.payload) }, payloadSummary(e.payload)));
}

// ---- one event ----

async function eventPage(id, params, signal) {
  // GET /api/events/stream is the stream: the event whose id is "stream"
  // is fetched by version only.
  const version = params.get("version") || (id === "stream" ? "1" : null);
  document.title = "Event " + id + " · Trove";
  const q = version ? "?version=" + encodeURIComponent(version) : "";
  const base = "/api/events/" + encodeURIComponent(id);
  const [ev, latest] = await Promise.all([
    api(base + q, { signal }),
    version && id !== "stream" ? api(base, { signal }) : null,
  ]);
  const last = (latest || ev).id.version;
  const sid = schemaIdentity(ev.schema);
  main.append(el("h1", {}, "Event ", el("span", { class: "mono", id: "event-id" }, ev.id.id), " v" + ev.id.version));
  main.append(el("dl", { class: "kv card" },
    el("dt", {}, "Position"), el("dd", {}, fmtNum(ev.position)),
    el("dt", {}, "Created"), el("dd", { class: "mono" }, ev.createdAt),
    el("dt", {}, "Producer"), el("dd", {}, el("a", { href: "#/events?" + new URLSearchParams([["producer", ev.producer]]) }, ev.producer)),
    el("dt", {}, "Schema"), el("dd", {}, el("a", { href: "#/schema/" + encodeURIComponent(sid) }, sid))));

  main.append(el("h2", {}, "Versions"));
  const versions = el("ul", { class: "plain", id: "versions" });
  const shown = [];
  for (let v = 1; v <= last; v++) if (last <= 60 || v <= 10 || v > last - 40 || Math.abs(v - ev.id.version) <= 5) shown.push(v);
  let prev = 0;
  for (const v of shown) {
    if (v > prev + 1) versions.append(el("li", { class: "muted" }, "…"));
    versions.append(el("li", {}, v === ev.id.version ? el("strong", { "aria-current": "true" }, "v" + v) : eventLink(ev.id.id, v, "v" + v)));
    prev = v;
  }
  main.append(versions);

  main.append(el("h2", {}, "Files"));
  main.append(filesSection(ev.files || [], signal));

  main.append(el("h2", {}, "Links"));
  const links = el("div", { class: "grid2" });
  main.append(links);
  const vq = "?version=" + ev.id.version;
  const [out, inc] = await Promise.all([
    api(base + "/links" + vq, { signal }),
    api(base + "/links" + vq + "&direction=in", { signal }),
  ]);
  links.append(linkTable("Outgoing", out || [], "links-out", (l) => l.targetEvent),
    linkTable("Incoming", inc || [], "links-in", (l) => l.sourceEvent || {}));

  main.append(el("h2", {}, "JSON"));
  main.append(el("pre", { id: "event-json", tabindex: 0, "aria-label": "The event as JSON" }, JSON.stringify(ev, null, 2)));
}

function linkTable(title, links, id, other) {
  return el("section", { "aria-label": title + " links" }, el("h3", {}, title + " (" + links.length + ")"),
    links.length ? el("div", { class: "table-wrap" }, el("table", { id },
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Type"), el("th", { scope: "col" }, "Event"), el("th", { scope: "col" }, "Metadata"))),
      el("tbody", {}, links.map((l) => {
        const o = other(l) || {};
        return el("tr", {}, el("td", {}, l.type), el("td", {}, o.id ? eventLink(o.id, o.version) : "–"),
          el("td", { class: "mono" }, l.metadata ? JSON.stringify(l.metadata) : ""));
      })))) : el("p", { class: "muted" }, "None"));
}

const IMAGE_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp"];
const TEXT_TYPES = /^(text\/[\w.+-]+|application\/(json|x-ndjson|xml|yaml|x-yaml|csv|[\w.+-]+\+json|[\w.+-]+\+xml))(;.*)?$/i;
const PREVIEW_BYTES = 65536;

function baseType(ct) { return String(ct || "").split(";")[0].trim().toLowerCase(); }

function filesSection(files, signal) {
  if (!files.length) return el("p", { class: "muted" }, "None");
  const wrap = el("div", {});
  const preview = el("div", { class: "preview", id: "file-preview", "aria-live": "polite" });
  const tbody = el("tbody", {});
  for (const f of files) {
    const ct = baseType(f.contentType);
    const actions = el("td", {});
    if (f.isReference) {
      actions.append(el("span", { class: "muted" }, "reference: "), el("code", {}, String(f.data || "")));
    } else {
      actions.append(el("button", { type: "button", class: "secondary download", "aria-label": "Download " + (f.filename || f.id), onclick: () => download(f, preview) }, "Download"));
      if (IMAGE_TYPES.includes(ct) || TEXT_TYPES.test(ct)) {
        actions.append(" ", el("button", { type: "button", class: "secondary", "data-preview": f.id, "aria-label": "Preview " + (f.filename || f.id), onclick: () => showPreview(f, preview, signal) }, "Preview"));
      }
    }
    tbody.append(el("tr", {}, el("td", { class: "mono" }, f.id), el("td", {}, f.filename || ""), el("td", {}, f.contentType || ""),
      el("td", { class: "num" }, f.size === undefined ? "" : fmtBytes(f.size)), actions));
  }
  wrap.append(el("div", { class: "table-wrap" }, el("table", { id: "files" },
    el("thead", {}, el("tr", {}, ["Id", "Name", "Type", "Size"].map((t) => el("th", { scope: "col" }, t)), el("th", { scope: "col" }, el("span", { class: "sr-only" }, "Actions")))), tbody)), preview);
  return wrap;
}

function fileURL(f) { return "/api/files/" + encodeURIComponent(f.id) + "/data"; }

async function download(f, where) {
  try {
    const res = await api(fileURL(f), { raw: true });
    const blob = await res.blob();
    // The bytes are handed over as an opaque download, never opened here.
    const url = URL.createObjectURL(new Blob([blob], { type: "application/octet-stream" }));
    const a = el("a", { href: url, download: (f.filename || f.id).replace(/[\/\\]/g, "_") });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (err) { showError(where, err); }
}

async function showPreview(f, where, signal) {
  where.replaceChildren(el("p", { class: "muted" }, "Loading " + (f.filename || f.id) + "…"));
  try {
    const ct = baseType(f.contentType);
    if (IMAGE_TYPES.includes(ct)) {
      const res = await api(fileURL(f), { raw: true, signal });
      const blob = await res.blob();
      // Only raster types are shown, as an image: no script can run in one.
      const url = URL.createObjectURL(new Blob([blob], { type: ct }));
      const img = el("img", { src: url, alt: "Preview of " + (f.filename || f.id) });
      img.addEventListener("load", () => URL.revokeObjectURL(url));
      where.replaceChildren(el("h3", {}, "Preview: " + (f.filename || f.id)), img);
    } else {
      const res = await api(fileURL(f), { raw: true, signal, headers: { Range: "bytes=0-" + (PREVIEW_BYTES - 1) }, ok: [206] });
      const buf = await res.arrayBuffer();
      const text = new TextDecoder("utf-8", { fatal: false }).decode(buf.slice(0, PREVIEW_BYTES));
      where.replaceChildren(el("h3", {}, "Preview: " + (f.filename || f.id)),
        el("pre", { id: "text-preview", tabindex: 0, "aria-label": "Text of " + (f.filename || f.id) }, text));
      if (f.size > PREVIEW_BYTES) where.append(el("p", { class: "muted" }, "First " + fmtBytes(PREVIEW_BYTES) + " of " + fmtBytes(f.size)));
    }
  } catch (err) { where.replaceChildren(); showError(where, err); }
}

// ---- live tail ----

const TAIL_ROWS = 500;
const TAIL_BACKLOG = 20;

async function tail(params, signal) {
  document.title = "Live tail · Trove";
  main.append(el("h1", {}, "Live tail"));
  fillDatalists(signal);
  // The filters fold away, so that on a phone the events come first; they
  // are open when some are set.
  const filters = tailParams(params);
  main.append(el("details", { class: "filters", open: filters !== "" },
    el("summary", {}, filters ? "Filters (set)" : "Filters (none: every event)"),
    queryForm(params, {
      prefix: "t", label: "Stream filters", submit: "Apply filters", stream: true,
      onSubmit: (p) => { location.hash = "#/tail?" + p.toString(); },
    })));
  // The rate changes every second: it is not a live region (a screen
  // reader would read it out every second); the connection state is.
  const status = el("span", { class: "tail-status", id: "tail-rate" }, "0.0 events/s");
  const state = el("span", { class: "muted", id: "tail-state", role: "status" }, "connecting…");
  const pause = el("button", { type: "button", id: "tail-pause", "aria-pressed": "false" }, "Pause");
  main.append(el("div", { class: "actions" }, pause, status, state));
  const tbody = el("tbody", { id: "tail-rows" });
  main.append(el("div", { class: "table-wrap" }, el("table", { id: "tail-table" },
    el("thead", {}, el("tr", {},
      el("th", { scope: "col", class: "num" }, "Pos."), el("th", { scope: "col" }, "Event"),
      el("th", { scope: "col", class: "hide-narrow" }, "Created"), el("th", { scope: "col" }, "Schema"),
      el("th", { scope: "col", class: "hide-narrow" }, "Producer"), el("th", { scope: "col" }, "Payload"))),
    tbody)));

  const st = await api("/api/stats", { signal });
  let from = Math.max(0, st.lastPosition - TAIL_BACKLOG);
  const backlogEnd = st.lastPosition; // events up to here are history, not arrivals
  let paused = false, conn = null, total = 0;
  const arrivals = [];
  const rateTimer = setInterval(() => {
    const now = Date.now();
    while (arrivals.length && arrivals[0] < now - 5000) arrivals.shift();
    status.textContent = (arrivals.length / 5).toFixed(1) + " events/s · " + fmtNum(total) + " received";
  }, 1000);
  signal.addEventListener("abort", () => clearInterval(rateTimer));

  const onEvent = (pos, data) => {
    if (pos <= from) return; // shown already (a connection that was being replaced)
    from = pos;
    let e;
    try { e = JSON.parse(data); } catch (_) { return; }
    if (pos > backlogEnd) {
      total++;
      arrivals.push(Date.now());
    }
    tbody.prepend(eventRow(e));
    while (tbody.children.length > TAIL_ROWS) tbody.lastChild.remove();
  };
  const connect = () => {
    const mine = conn = new AbortController();
    signal.addEventListener("abort", () => mine.abort());
    const current = () => conn === mine && !paused && !signal.aborted;
    state.textContent = "live";
    readStream("/api/events/stream?from=" + from + (filters ? "&" + filters : ""), mine.signal, onEvent)
      .then(() => { if (current()) { state.textContent = "reconnecting…"; setTimeout(() => { if (current()) connect(); }, 1000); } })
      .catch((err) => {
        if (err instanceof AuthError || !current()) return;
        state.textContent = "disconnected (" + err.message + "), retrying…";
        setTimeout(() => { if (current()) connect(); }, 3000);
      });
  };
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
    pause.setAttribute("aria-pressed", String(paused));
    if (paused) { conn && conn.abort(); state.textContent = "paused after position " + from; }
    else connect();
  });
  connect();
}

// readStream reads Server-Sent Events from path with fetch (so that the
// bearer header can be sent) and calls onEvent(position, data) for each.
async function readStream(path, signal, onEvent) {
  const res = await api(path, { raw: true, signal, headers: { Accept: "text/event-stream" } });
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.search(/\r?\n\r?\n/)) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(buf[i] === "\r" ? i + 4 : i + 2);
        let id = 0, data = [];
        for (const line of block.split(/\r?\n/)) {
          if (line.startsWith("id:")) id = Number(line.slice(3).trim());
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) onEvent(id, data.join("\n"));
      }
    }
  } catch (err) {
    if (err.name === "AbortError") return;
    throw err;
  }
}

// ---- schemas ----

async function schemas(signal) {
  document.title = "Schemas · Trove";
  main.append(el("h1", {}, "Schemas"));
  const [reg, st] = await Promise.all([api("/api/schemas", { signal }), api("/api/stats", { signal })]);
  const counts = new Map((st.schemas || []).map((s) => [s.name, s.count]));
  const byId = new Map();
  for (const s of reg || []) {
    if (!byId.has(s.id)) byId.set(s.id, []);
    byId.get(s.id).push(s.version);
  }
  for (const s of st.schemas || []) if (!byId.has(s.name)) byId.set(s.name, null);
  const rows = [...byId.entries()].sort((a, b) => a[0].localeCompare(b[0]));
  main.append(el("p", { class: "muted" }, "Registered schemas (POST /api/schemas) and every schema events use, with their counts."));
  main.append(el("div", { class: "table-wrap" }, el("table", { id: "schemas-table" },
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Schema"), el("th", { scope: "col" }, "Registered versions"),
      el("th", { scope: "col", class: "num" }, "Events"), el("th", { scope: "col" }, el("span", { class: "sr-only" }, "Browse")))),
    el("tbody", {}, rows.length ? rows.map(([id, versions]) => el("tr", {},
      el("td", {}, el("a", { href: "#/schema/" + encodeURIComponent(id) }, id)),
      el("td", {}, versions ? versions.map((v, i) => [i ? ", " : "", el("a", { href: "#/schema/" + encodeURIComponent(id) + "?version=" + encodeURIComponent(v) }, v)]) : el("span", { class: "muted" }, "inline in events")),
      el("td", { class: "num" }, fmtNum(counts.get(id) || 0)),
      el("td", {}, el("a", { href: "#/events?" + new URLSearchParams([["schema", id]]) }, "Events")))) :
      el("tr", {}, el("td", { colspan: 4, class: "muted" }, "No schemas yet"))))));
}

async function schemaPage(id, params, signal) {
  document.title = "Schema " + id + " · Trove";
  main.append(el("h1", {}, "Schema ", el("span", { class: "mono", id: "schema-id" }, id)));
  const version = params.get("version");
  let doc = null, source = "";
  try {
    const rs = await api("/api/schemas/" + encodeURIComponent(id) + (version ? "?version=" + encodeURIComponent(version) : ""), { signal });
    doc = rs.schema;
    source = "Registered version " + rs.version;
  } catch (err) {
    if (err.status !== 404) throw err;
  }
  const sample = await api("/api/events?" + new URLSearchParams([["schema", id], ["limit", "20"], ["sort", "position:desc"]]), { signal });
  const events = sample.events || [];
  if (!doc && events.length) { doc = events[0].schema; source = "As written in the latest event that uses it"; }
  main.append(el("p", { class: "muted" }, source || "Not registered, and no event uses it."));
  if (doc) main.append(el("pre", { id: "schema-doc", tabindex: 0, "aria-label": "Schema document" }, JSON.stringify(doc, null, 2)));
  main.append(el("h2", {}, "Latest events using it"));
  main.append(events.length ? eventTable(events, "schema-events") : el("p", { class: "muted" }, "None"));
  main.append(el("p", {}, el("a", { href: "#/events?" + new URLSearchParams([["schema", id]]) }, "Browse all its events")));
}

updateForget();
route();
