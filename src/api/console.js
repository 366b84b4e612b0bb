// The status console's script: draws /v1/status (first from the copy the page carries,
// then polled every few seconds) into the map and tables, and sends drains and undrains
// with the fleet token. The token is asked for when first needed and kept only in this
// tab's sessionStorage; it is never put in the page or sent anywhere but the drain calls.
"use strict";

const POLL_MS = 3000;
const TOKEN_KEY = "meridian-token";
const SVG = "http://www.w3.org/2000/svg";
// The map's box: equirectangular, x = lon + 180, y = 90 - lat, cut at 60° south.
const SOUTH = -60;

// Answers per region at each poll of the last WINDOW_MS, oldest first, and each region's
// share of the answers given in that window (the current share), or of all since the
// server started while the window saw none.
const WINDOW_MS = 30000;
let history = [];
let shares = null;
let sharesSince = "";

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) {
    if (c !== null && c !== undefined) e.append(c);
  }
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function project(lat, lon) {
  return [lon + 180, 90 - Math.max(lat, SOUTH)];
}

function seconds(ms) {
  if (ms === null || ms === undefined) return "never";
  if (ms < 1000) return "now";
  if (ms < 120000) return Math.round(ms / 1000) + " s ago";
  if (ms < 7200000) return Math.round(ms / 60000) + " min ago";
  return Math.round(ms / 3600000) + " h ago";
}

function round1(x) {
  return Math.round(x * 10) / 10;
}

function percent(x) {
  return x === null || x === undefined ? "–" : (100 * x).toFixed(x < 0.1 && x > 0 ? 1 : 0) + "%";
}

// Each region's share of the load-balanced answers: of those given in the last
// WINDOW_MS when there were any, else of all since the server started (null: none yet).
function updateShares(status) {
  const now = Date.now();
  const answers = {};
  for (const r of status.regions) answers[r.name] = r.answers;
  history.push({ at: now, answers });
  while (history.length > 1 && now - history[0].at > WINDOW_MS) history.shift();
  const oldest = history[0];
  const count = (from) => {
    const out = {};
    let total = 0;
    for (const r of status.regions) {
      out[r.name] = Math.max(0, r.answers - ((from && from[r.name]) || 0));
      total += out[r.name];
    }
    return [out, total];
  };
  let [counts, total] = count(oldest === history[history.length - 1] ? null : oldest.answers);
  sharesSince = oldest === history[history.length - 1]
    ? "since start"
    : `last ${Math.round((now - oldest.at) / 1000)} s`;
  if (total === 0) {
    [counts, total] = count(null);
    sharesSince = "since start";
  }
  shares = null;
  if (total > 0) {
    shares = {};
    for (const name in counts) shares[name] = counts[name] / total;
  }
}

function drawGraticule() {
  const g = document.querySelector("#map .graticule");
  for (let lon = -150; lon <= 150; lon += 30) {
    g.append(svg("line", { x1: lon + 180, y1: 0, x2: lon + 180, y2: 150 }));
  }
  for (let lat = -30; lat <= 60; lat += 30) {
    g.append(svg("line", { x1: 0, y1: 90 - lat, x2: 360, y2: 90 - lat }));
  }
}

function drawMap(status) {
  const g = document.getElementById("markers");
  g.replaceChildren();
  const viewpoints = {};
  for (const v of status.viewpoints) viewpoints[v.name] = v;
  // Bigger markers first, so a small one is never hidden under a big one.
  const regions = [...status.regions].sort(
    (a, b) => ((shares && shares[b.name]) || 0) - ((shares && shares[a.name]) || 0));
  for (const r of regions) {
    const [x, y] = project(r.lat, r.lon);
    const share = shares ? shares[r.name] || 0 : null;
    const radius = share === null ? 3.5 : 2.2 + 8 * Math.sqrt(share);
    const m = svg("g", {
      class: "region-marker" + (r.name === status.region ? " self" : ""),
      "data-region": r.name,
      "data-health": r.health,
      "data-share": share === null ? "" : share.toFixed(4),
      transform: `translate(${x.toFixed(2)} ${y.toFixed(2)})`,
    });
    const title = svg("title", {});
    const vp = viewpoints[r.name];
    title.textContent = `${r.name}: ${r.health}, ${r.endpoints_up} of ${r.endpoints} endpoints up` +
      (share === null ? "" : `, ${percent(share)} of answers (${sharesSince})`) +
      (vp ? `\nprobers here: ${vp.probers.join(", ")}` : "");
    m.append(title);
    if (vp) {
      m.append(svg("circle", { class: "viewpoint", r: (radius + 1.6).toFixed(2) }));
    }
    m.append(svg("circle", { class: "dot", r: radius.toFixed(2) }));
    const label = svg("text", { x: (radius + 1.2).toFixed(2), y: "1.2" });
    label.textContent = r.name;
    m.append(label);
    if (share !== null && r.endpoints > 0) {
      const s = svg("text", { class: "share", x: (radius + 1.2).toFixed(2), y: "4.4" });
      s.textContent = percent(share);
      m.append(s);
    }
    m.addEventListener("click", () => {
      const row = document.querySelector(`#regions tr[data-region="${CSS.escape(r.name)}"]`);
      if (row) row.scrollIntoView({ block: "center" });
    });
    g.append(m);
  }
  const off = status.viewpoints.filter((v) => !v.region);
  document.getElementById("offmap").textContent = off.length
    ? "viewpoints that are not regions (not on the map): " +
      off.map((v) => `${v.name} (${v.probers.join(", ")})`).join("; ")
    : "";
}

function drawWarnings(status) {
  const w = document.getElementById("warnings");
  w.replaceChildren();
  if (status.state_file) {
    const kept = status.state_file.kept_as
      ? `kept as ${status.state_file.kept_as}; remove it once looked at`
      : "it could not be moved aside; nothing is saved until it is removed";
    w.append(el("div", { class: "warning state-file",
      text: `state file was bad at start: ${status.state_file.error} (${kept})` }));
  }
  for (const s of status.services) {
    if (s.failing_open) {
      w.append(el("div", { class: "warning failing-open", "data-name": s.name,
        text: `⚠ ${s.name} is failing open: nothing healthy (${s.all_down_text}), ` +
          "so it answers with its endpoints anyway." }));
    } else if (s.all_down.length) {
      const answers = s.on_all_down === "fallback" ? "its fallback addresses" : "NODATA";
      w.append(el("div", { class: "warning nodata", "data-name": s.name,
        text: `${s.name} has nothing healthy (${s.all_down_text}) and answers ${answers} there.` }));
    }
  }
}

function drawRegions(status) {
  const body = document.querySelector("#regions tbody");
  body.replaceChildren();
  for (const r of status.regions) {
    const share = shares ? shares[r.name] || 0 : null;
    const button = r.drained
      ? el("button", { type: "button", class: "undrain", "data-region": r.name, text: "undrain",
          onclick: () => drainAsk(r.name, false) })
      : el("button", { type: "button", class: "drain", "data-region": r.name, text: "drain",
          onclick: () => drainAsk(r.name, true) });
    body.append(el("tr", { "data-region": r.name },
      el("td", { text: r.name + (r.name === status.region ? " (this server)" : "") }),
      el("td", {}, el("span", { class: "state " + r.health, text: r.health })),
      el("td", { class: "num", text: `${r.endpoints_up} / ${r.endpoints}` }),
      el("td", { class: "num", text: r.endpoints === 0 ? "–"
        : share === null ? "no answers yet" : `${percent(share)} (${sharesSince})` }),
      el("td", {}, button)));
  }
}

// Names with something down come first; past MAX_NAMES the rest are only counted.
const MAX_NAMES = 200;

function trouble(s) {
  if (s.failing_open) return 0;
  if (s.all_down.length) return 1;
  if (s.pools.some((p) => p.endpoints_up < p.endpoints)) return 2;
  return 3;
}

function drawServices(status) {
  const list = document.querySelector("#services .list");
  list.replaceChildren();
  if (!status.services.length) list.append(el("p", { class: "empty", text: "no load-balanced names" }));
  const services = status.services
    .map((s, i) => [trouble(s), i, s])
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    .map((x) => x[2]);
  for (const s of services.slice(0, MAX_NAMES)) {
    const title = el("h3", {}, el("span", { text: s.name }),
      el("small", { text: `TTL ${s.ttl}` + (s.ttl_now !== s.ttl ? ` (now ${s.ttl_now})` : "") +
        (s.checked ? "" : " · not checked") }));
    if (s.failing_open) title.append(el("span", { class: "badge", text: "FAILING OPEN" }));
    else if (s.all_down.length) title.append(el("span", { class: "badge nodata",
      text: s.on_all_down === "fallback" ? "FALLBACK" : "NODATA" }));
    const pools = el("tbody");
    const answered = s.pools.reduce((n, p) => n + p.answers, 0);
    for (const p of s.pools) {
      // Effective capacity: healthy capacity less what reported load sheds.
      const effective = p.effective_capacity ?? p.healthy_capacity;
      const shedding = effective < p.healthy_capacity - 0.005;
      const fraction = p.total_capacity ? effective / p.total_capacity : 0;
      const cls = p.endpoints_up === p.endpoints && !shedding ? "" : p.endpoints_up === 0 ? "down" : "degraded";
      const bar = el("div", { class: "bar " + cls,
        title: `${p.healthy_capacity} of ${p.total_capacity}` + (shedding ? `, effective ${round1(effective)} (load)` : "") });
      bar.append(el("span", { style: `width:${(100 * fraction).toFixed(1)}%` }));
      pools.append(el("tr", { class: "pool", "data-region": p.region },
        el("td", { text: p.region }),
        el("td", {}, bar),
        el("td", { class: "num capacity", text: `${p.healthy_capacity} / ${p.total_capacity}` +
          (shedding ? ` (effective ${round1(effective)})` : "") }),
        el("td", { class: "num", text: `${p.endpoints_up} / ${p.endpoints} up` }),
        el("td", { class: "num", text: answered ? percent(p.answers / answered) : "–" })));
    }
    const table = el("table", {},
      el("thead", {}, el("tr", {}, el("th", { text: "pool" }), el("th", { text: "healthy capacity" }),
        el("th", {}), el("th", { class: "num", text: "endpoints" }),
        el("th", { class: "num", text: "answers since start" }))),
      pools);
    const endpoints = el("tbody");
    for (const e of s.endpoints) {
      const votes = s.checked
        ? e.votes.map((v) => `${v.prober}: ${v.up ? "up" : "down"}` + (v.reason ? ` (${v.reason})` : "") +
            (v.srtt_ms != null ? `, rtt ${round1(v.srtt_ms)} ms` : "") + (v.load != null ? `, load ${v.load.toFixed(2)}` : "") +
            `, ${seconds(v.age_ms)}` + (v.fresh ? "" : " (stale)")).join("; ") || "no votes yet"
        : "not checked";
      endpoints.append(el("tr", { class: "endpoint", "data-address": e.address },
        el("td", { text: e.address }), el("td", { text: e.region }),
        el("td", { class: "num effective-capacity",
          text: (e.effective_capacity ?? e.capacity) < e.capacity - 0.005
            ? `${round1(e.effective_capacity)} of ${e.capacity}` + (e.load != null ? ` (load ${e.load.toFixed(2)})` : "")
            : `${e.capacity}` }),
        el("td", {}, el("span", { class: "state " + e.state, text: e.state })),
        el("td", { class: "votes", text: votes })));
    }
    const details = el("details", {}, el("summary", { text: `${s.endpoints.length} endpoints and their votes` }),
      el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "endpoint" }), el("th", { text: "region" }),
        el("th", { class: "num", text: "effective capacity" }), el("th", { text: "state" }), el("th", { text: "votes" }))),
      endpoints));
    const key = "open:" + s.name;
    details.open = sessionStorage.getItem(key) === "1";
    details.addEventListener("toggle", () => sessionStorage.setItem(key, details.open ? "1" : "0"));
    list.append(el("div", { class: "service" + (s.failing_open ? " failing-open" : ""), "data-name": s.name },
      title, table, details));
  }
  const hidden = services.slice(MAX_NAMES);
  if (hidden.length) {
    const down = hidden.filter((s) => trouble(s) < 3).length;
    list.append(el("p", { class: "empty", text: `… and ${hidden.length} more names` +
      (down ? `, ${down} of them with endpoints down` : ", all up") + " (all are in /v1/status)" }));
  }
}

function drawEvents(status) {
  const list = document.querySelector("#events ol");
  list.replaceChildren();
  if (!status.events.length) list.append(el("li", { class: "empty", text: "no changes since the server started" }));
  for (const e of status.events) {
    const at = new Date(e.unix_ms);
    const cls = e.kind === "endpoint" ? e.to : e.kind;
    list.append(el("li", { class: "event " + cls, "data-kind": e.kind },
      el("time", { datetime: at.toISOString(), title: at.toString(), text: at.toLocaleTimeString() }),
      el("span", { text: e.message })));
  }
}

function drawProbers(status) {
  const body = document.querySelector("#probers tbody");
  body.replaceChildren();
  if (!status.probers.length) {
    body.append(el("tr", {}, el("td", { colspan: 5, class: "empty", text: "no prober heard from" })));
  }
  for (const p of status.probers) {
    body.append(el("tr", { class: "prober", "data-prober": p.name },
      el("td", { text: p.name }), el("td", { text: p.viewpoint }),
      el("td", { class: "num", text: seconds(p.last_report_age_ms) }),
      el("td", { class: "num", text: p.reports }),
      el("td", { class: "num" + (p.refused ? " state down" : ""), text: p.refused })));
  }
}

function drawZones(status) {
  const body = document.querySelector("#zones tbody");
  body.replaceChildren();
  for (const z of status.zones) {
    body.append(el("tr", {}, el("td", { text: z.origin }), el("td", { class: "num", text: z.serial }),
      el("td", { class: "num", text: z.records }), el("td", { text: z.file })));
  }
}

function draw(status) {
  updateShares(status);
  document.getElementById("server-region").textContent = status.region || "(none)";
  document.title = `Meridian ${status.region}` +
    (status.services.some((s) => s.failing_open) ? " · FAILING OPEN" : "");
  drawWarnings(status);
  drawMap(status);
  drawRegions(status);
  drawServices(status);
  drawEvents(status);
  drawProbers(status);
  drawZones(status);
}

let timer = null;

async function poll() {
  clearTimeout(timer);
  const live = document.getElementById("live");
  try {
    const r = await fetch("/v1/status", { cache: "no-store" });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    draw(await r.json());
    live.className = "";
    live.textContent = "live · " + new Date().toLocaleTimeString();
  } catch (e) {
    live.className = "lost";
    live.textContent = `no answer from the server (${e.message}); retrying`;
  }
  timer = setTimeout(poll, POLL_MS);
}

// The drain dialog: says what will happen and, when no token is kept, asks for it.
function drainAsk(region, drain, error) {
  const dialog = document.getElementById("token-dialog");
  const input = document.getElementById("token-input");
  const token = sessionStorage.getItem(TOKEN_KEY);
  document.getElementById("dialog-title").textContent = `${drain ? "Drain" : "Undrain"} ${region}?`;
  document.getElementById("dialog-text").textContent = drain
    ? `No answer will send clients to ${region} until it is undrained; they move to the next regions.`
    : `${region} takes its clients back (as far as its endpoints are healthy).`;
  document.getElementById("token-label").hidden = !!token;
  document.getElementById("dialog-error").textContent = error || "";
  document.getElementById("dialog-ok").textContent = drain ? "Drain" : "Undrain";
  input.value = "";
  dialog.onclose = null;
  document.getElementById("dialog-cancel").onclick = () => dialog.close("cancel");
  document.getElementById("token-form").onsubmit = (ev) => {
    ev.preventDefault();
    const given = token || input.value.trim();
    if (!given) {
      document.getElementById("dialog-error").textContent = "the token is needed";
      return;
    }
    dialog.close("ok");
    sendDrain(region, drain, given);
  };
  dialog.showModal();
  if (!token) input.focus();
}

async function sendDrain(region, drain, token) {
  const path = `/v1/regions/${encodeURIComponent(region)}/${drain ? "drain" : "undrain"}`;
  let r;
  try {
    r = await fetch(path, { method: "POST", headers: { Authorization: "Bearer " + token } });
  } catch (e) {
    drainAsk(region, drain, `could not reach the server: ${e.message}`);
    return;
  }
  if (r.status === 401) {
    forgetToken();
    drainAsk(region, drain, "the server refused that token");
    return;
  }
  if (!r.ok) {
    let reason = `HTTP ${r.status}`;
    try { reason = (await r.json()).error || reason; } catch (e) { /* not JSON */ }
    sessionStorage.setItem(TOKEN_KEY, token);
    showToken();
    drainAsk(region, drain, reason);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  showToken();
  poll();
}

function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  showToken();
}

function showToken() {
  document.getElementById("forget-token").hidden = !sessionStorage.getItem(TOKEN_KEY);
}

document.getElementById("forget-token").addEventListener("click", forgetToken);
drawGraticule();
showToken();
try {
  draw(JSON.parse(document.getElementById("initial-status").textContent));
  document.getElementById("live").textContent = "live";
} catch (e) {
  document.getElementById("live").textContent = "loading";
}
timer = setTimeout(poll, POLL_MS);
