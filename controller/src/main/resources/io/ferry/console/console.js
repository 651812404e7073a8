// The Ferry web console: reads the controller's admin API (GET only) and redraws when the
// controller's stream says something changed. No framework and no build step: what is drawn is
// built with DOM calls (never innerHTML), so names and messages from etcd are shown as text.
"use strict";

const state = { token: sessionStorage.getItem("ferry-token"), data: null, refreshing: false, again: false };

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c !== undefined && c !== null && c !== false) e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

function bytes(n) {
  if (n === undefined || n === null) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (Math.round(n * 10) / 10) + " " + units[i];
}

class Unauthorized extends Error {}

async function get(path) {
  const headers = state.token ? { Authorization: "Bearer " + state.token } : {};
  const r = await fetch(path, { headers, cache: "no-store" });
  if (r.status === 401) throw new Unauthorized();
  if (r.status === 404) return null;
  if (!r.ok) throw new Error(path + ": " + r.status + " " + (await r.text()));
  return r.json();
}

function volumeState(v) {
  if (v.intentError) return "Invalid";
  if (v.intent && v.intent.deletionRequested) return "Deleting";
  if (v.status && v.status.phase) return v.status.phase;
  if (v.reason) return v.reason;
  return v.placement ? "Placed" : "Pending";
}

/** How each consumer reaches the volume: its own device, a device of its machine, or NVMe/TCP. */
function reach(v, machines) {
  const served = v.placement && v.placement.node;
  return (v.attachments || []).map(a => {
    if (a.node === served) return { node: a.node, kind: "local", label: "local device" };
    const m = machines[a.node];
    if (m && served && m === machines[served]) return { node: a.node, kind: "local", label: "same machine" };
    return { node: a.node, kind: "remote", label: "NVMe/TCP" };
  });
}

async function load() {
  const [controller, nodes, pools, volumes] = await Promise.all([
    get("/api/v1/controller"), get("/api/v1/nodes"), get("/api/v1/pools"), get("/api/v1/volumes")]);
  return { controller, nodes, pools, volumes };
}

function clusterView(d) {
  const machines = {};
  d.nodes.forEach(n => { if (n.registration && n.registration.machineId) machines[n.node] = n.registration.machineId; });
  const volumesByPool = {};
  d.volumes.forEach(v => {
    const pool = v.placement ? v.placement.pool : "";
    (volumesByPool[pool] = volumesByPool[pool] || []).push(v);
  });
  const nodeCards = d.nodes.map(n => {
    const pools = d.pools.filter(p => p.node === n.node);
    return el("section", { class: "node" + (n.alive ? "" : " down"), "data-node": n.node },
      el("h3", {}, el("span", { text: n.node }),
        el("span", { class: "badge " + (n.alive ? "up" : "down"), text: n.alive ? "up" : "down" })),
      pools.length === 0 ? el("div", { class: "muted", text: "no pools" }) : null,
      pools.map(p => {
        const used = p.capacityBytes > 0 ? Math.min(100, 100 * p.allocatedBytes / p.capacityBytes) : 0;
        return el("div", { class: "pool", "data-pool": p.pool },
          el("div", { class: "name" }, el("span", { text: p.pool + " (" + p.engine + ")" }),
            el("span", { text: bytes(p.allocatedBytes) + " of " + bytes(p.capacityBytes) + (p.schedulable ? "" : ", not schedulable") })),
          el("div", { class: "bar", title: Math.round(used) + "% allocated" },
            el("span", { class: used >= 85 ? "full" : "", style: "width:" + used.toFixed(1) + "%" })),
          el("div", { class: "vols" }, (volumesByPool[p.pool] || []).map(v => volumeChip(v, machines))));
      }));
  });
  const waiting = d.volumes.filter(v => !v.placement);
  const refused = d.volumes.filter(v => v.reason);
  return el("div", {},
    el("h2", { text: "Cluster" }),
    el("p", { class: "legend", text: "Bars: bytes allocated in each pool's ledger against its capacity. " +
      "⇢ a consumer served its own (or its machine's) device; ⇝ a consumer served over NVMe/TCP." }),
    el("div", { class: "nodes" }, nodeCards),
    waiting.length ? el("div", {}, el("h2", { text: "Not placed" }),
      el("div", { class: "vols" }, waiting.map(v => volumeChip(v, machines)))) : null,
    el("h2", { text: "Refusals" }),
    refused.length === 0 ? el("p", { class: "muted", text: "none" }) :
      el("table", { id: "refusals" }, el("tr", {}, el("th", { text: "volume" }), el("th", { text: "reason" }), el("th", { text: "message" })),
        refused.map(v => {
          const c = (v.scheduling && v.scheduling.conditions || []).find(x => x.reason === v.reason) || {};
          return el("tr", { class: "bad" }, el("td", {}, el("a", { href: "#/volume/" + encodeURIComponent(v.name), text: v.name })),
            el("td", { text: v.reason }), el("td", { text: c.message || (v.scheduling && v.scheduling.message) || "" }));
        })));
}

function volumeChip(v, machines) {
  const s = volumeState(v);
  const size = v.placement ? v.placement.sizeBytes : v.intent && v.intent.sizeBytes;
  return el("a", { class: "vol " + s, href: "#/volume/" + encodeURIComponent(v.name), "data-volume": v.name, "data-state": s,
                   title: s + (v.reason ? " (" + v.reason + ")" : "") },
    v.name + " · " + bytes(size) + " · " + s,
    reach(v, machines).map(r => el("span", { class: "consumer " + r.kind, title: r.label,
      text: r.node + (r.kind === "local" ? " (local)" : " (NVMe/TCP)") })));
}

function table(headers, rows) {
  return el("table", {}, el("tr", {}, headers.map(h => el("th", { text: h }))),
    rows.map(r => el("tr", { class: r.bad ? "bad" : "" }, r.cells.map(c => el("td", { text: c === undefined || c === null ? "" : String(c) })))));
}

async function volumeView(name) {
  const [v, explain, events, nodes] = await Promise.all([get("/api/v1/volumes/" + encodeURIComponent(name)),
    get("/api/v1/volumes/" + encodeURIComponent(name) + "/explain").catch(() => null),
    get("/api/v1/volumes/" + encodeURIComponent(name) + "/events").catch(() => []),
    get("/api/v1/nodes")]);
  if (!v) return el("div", {}, el("h2", { text: "Volume " + name }), el("p", { text: "No such volume (it may have been deleted)." }),
    eventsTable(events || []));
  const machines = {};
  nodes.forEach(n => { if (n.registration && n.registration.machineId) machines[n.node] = n.registration.machineId; });
  const conditions = [].concat(v.status && v.status.conditions || [], v.scheduling && v.scheduling.conditions || []);
  return el("div", { id: "volume", "data-volume": name },
    el("h2", { text: "Volume " + name + " · " + volumeState(v) }),
    el("p", {}, v.placement ? "On pool " + v.placement.pool + " of node " + v.placement.node + ", " + bytes(v.placement.sizeBytes) +
      (v.placement.thin ? " thin" : "") : "Not placed" + (v.reason ? ": " + v.reason : "")),
    el("h2", { text: "Conditions" }),
    table(["type", "status", "reason", "message", "since"], conditions.map(c => ({
      bad: !c.status, cells: [c.type, c.status, c.reason, c.message, c.lastTransitionTime] }))),
    el("h2", { text: "Consumers" }),
    table(["node", "how", "read-only"], reach(v, machines).map((r, i) => ({
      cells: [r.node, r.label, v.attachments[i].readOnly] }))),
    explain ? el("div", {}, el("h2", { text: "Placement, pool by pool (" + explain.policy + "): " + explain.summary }),
      table(["pool", "node", "verdict", "free"], explain.pools.map(p => ({
        bad: !p.passed, cells: [p.pool, p.node, p.passed ? "fits (tier " + p.tier + ", score " + p.score + ")" : p.failed, bytes(p.freeBytes)] })))) : null,
    eventsTable(events || []),
    el("h2", { text: "Intent" }), el("pre", { text: JSON.stringify(v.intent || v.intentError, null, 2) }));
}

function eventsTable(events) {
  return el("div", { id: "events" }, el("h2", { text: "Recent events" }),
    events.length === 0 ? el("p", { class: "muted", text: "none recorded (they are kept about an hour)" }) :
      table(["time", "type", "reason", "node", "message"], events.map(e => ({
        bad: ["Refused", "Failed", "Lost"].includes(e.reason),
        cells: [e.time, ["Refused", "Failed", "Lost"].includes(e.reason) ? "Warning" : "Normal",
          e.reason + (e.detail ? " (" + e.detail + ")" : ""), e.node, e.message] }))));
}

async function render() {
  if (state.refreshing) { state.again = true; return; }
  state.refreshing = true;
  try {
    const hash = location.hash || "#/";
    const main = document.getElementById("main");
    const d = await load();
    document.getElementById("summary").textContent = d.nodes.length + " nodes · " + d.pools.length + " pools · " +
      d.volumes.length + " volumes · controller " + (d.controller.leader ? "leading" : "standby") +
      (d.controller.synced ? "" : " (reading etcd)");
    const view = hash.startsWith("#/volume/") ? await volumeView(decodeURIComponent(hash.substring(9))) : clusterView(d);
    main.replaceChildren(view);
    document.getElementById("token-form").hidden = true;
    document.body.dataset.rendered = String(Date.now());
  } catch (e) {
    if (e instanceof Unauthorized) {
      document.getElementById("token-form").hidden = false;
      document.getElementById("token-error").textContent = state.token ? "that token was refused" : "";
    } else {
      document.getElementById("summary").textContent = "cannot read the controller: " + e.message;
    }
  } finally {
    state.refreshing = false;
    if (state.again) { state.again = false; setTimeout(render, 50); }
  }
}

/** Follows /api/v1/stream (server-sent events, read with fetch so that the token can be sent). */
async function follow() {
  const live = document.getElementById("live");
  for (;;) {
    try {
      const headers = state.token ? { Authorization: "Bearer " + state.token } : {};
      const r = await fetch("/api/v1/stream", { headers, cache: "no-store" });
      if (!r.ok || !r.body) throw new Error("stream " + r.status);
      live.textContent = "live"; live.className = "live on";
      const reader = r.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.substring(0, end);
          buffer = buffer.substring(end + 2);
          if (block.split("\n").some(l => l === "event: changed")) render();
        }
      }
    } catch (e) {
      // Shown as offline; retried below.
    }
    live.textContent = "offline"; live.className = "live off";
    await new Promise(ok => setTimeout(ok, 2000));
  }
}

document.getElementById("token-form").addEventListener("submit", ev => {
  ev.preventDefault();
  state.token = document.getElementById("token").value.trim() || null;
  if (state.token) sessionStorage.setItem("ferry-token", state.token); else sessionStorage.removeItem("ferry-token");
  render();
});
window.addEventListener("hashchange", render);
render();
follow();
// A safety net for a stream that a proxy holds back: the views are read again every 30 s anyway.
setInterval(render, 30000);
