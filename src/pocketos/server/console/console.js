// pocketos console: one page over the server's API (docs/server.md). Plain JS, no build step.
"use strict";

(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const TABS = ["terminal", "files", "sessions", "audit", "snapshots"];
  const TEXT_LIMIT = 256 * 1024; // files larger than this are not edited in the page

  const state = {
    token: localStorage.getItem("pocketos.token") || "",
    vms: [],
    vm: null,
    tab: "terminal",
    cwd: "/home/user",
    file: null,
    term: null,
    termSocket: null,
    termId: null,
    session: null,
    eventsSocket: null,
    lastSeq: 0,
    toolItems: new Map(),
    agentItem: null,
    snapSizes: {},
  };

  // ---------------------------------------------------------------- helpers
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function toast(message, kind = "error") {
    const t = $("#toast");
    t.textContent = message;
    t.className = "toast " + kind;
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => (t.hidden = true), 6000);
  }

  function humanSize(n) {
    if (n === undefined || n === null) return "";
    if (n < 1024) return n + " B";
    const units = ["KiB", "MiB", "GiB", "TiB"];
    let v = n;
    let i = -1;
    do { v /= 1024; i++; } while (v >= 1024 && i < units.length - 1);
    return v.toFixed(v < 10 ? 1 : 0) + " " + units[i];
  }

  function when(t) {
    if (!t) return "";
    const d = new Date(t * 1000);
    return d.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
  }

  function joinPath(dir, name) {
    return (dir.endsWith("/") ? dir : dir + "/") + name;
  }

  function parentOf(path) {
    const p = path.replace(/\/+$/, "");
    const i = p.lastIndexOf("/");
    return i <= 0 ? "/" : p.slice(0, i);
  }

  function encodePath(path) {
    return path.split("/").filter(Boolean).map(encodeURIComponent).join("/");
  }

  function wsUrl(path, params = {}) {
    const u = new URL(path, location.href);
    u.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    if (state.token) u.searchParams.set("token", state.token);
    return u.toString();
  }

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, { json, body, headers = {}, raw = false } = {}) {
    const h = { ...headers };
    if (state.token) h.authorization = "Bearer " + state.token;
    let payload = body;
    if (json !== undefined) {
      h["content-type"] = "application/json";
      payload = JSON.stringify(json);
    }
    const resp = await fetch(path, { method, headers: h, body: payload });
    if (!resp.ok) {
      let code = "http_" + resp.status;
      let message = resp.statusText;
      try {
        const data = await resp.json();
        if (data && data.error) ({ code, message } = data.error);
      } catch (_) { /* not JSON */ }
      if (resp.status === 401) askToken(message);
      throw new ApiError(resp.status, code, message);
    }
    if (raw) return resp;
    const type = resp.headers.get("content-type") || "";
    return type.includes("application/json") ? resp.json() : resp.text();
  }

  function report(err) {
    console.error(err);
    toast(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err.message || err));
  }

  // ---------------------------------------------------------------- token and theme
  function askToken(message) {
    const dlg = $("#token-dialog");
    if (dlg.open) return;
    if (message) $("#token-dialog p").textContent = message;
    $("#token-input").value = state.token;
    dlg.showModal();
    $("#token-input").focus();
  }

  function setToken(value) {
    state.token = value.trim();
    if (state.token) localStorage.setItem("pocketos.token", state.token);
    else localStorage.removeItem("pocketos.token");
    refreshVms();
  }

  function applyTheme(theme) {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem("pocketos.theme", theme);
    if (state.term) state.term.options.theme = termTheme();
  }

  function currentTheme() {
    const t = document.documentElement.dataset.theme;
    if (t === "auto") return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
    return t;
  }

  function termTheme() {
    const css = getComputedStyle(document.documentElement);
    return {
      background: css.getPropertyValue("--term-bg").trim() || "#1b1d21",
      foreground: css.getPropertyValue("--term-fg").trim() || "#e6e6e6",
      cursor: "#f0f0f0",
    };
  }

  // ---------------------------------------------------------------- VMs
  async function refreshVms() {
    try {
      const data = await api("GET", "/v1/vms");
      state.vms = data.vms || [];
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) report(err);
      state.vms = [];
    }
    renderVms();
    if (state.vm && !state.vms.find((v) => v.id === state.vm.id)) closeVm();
  }

  function renderVms() {
    const list = $("#vm-list");
    list.replaceChildren();
    for (const vm of state.vms) {
      const selected = state.vm && state.vm.id === vm.id;
      const li = el(
        "li",
        { role: "option", tabindex: "0", "aria-selected": selected ? "true" : "false", "data-vm": vm.id },
        el("span", { class: "vm-id", text: vm.id }),
        el("span", {
          class: "muted small",
          text: [vm.isolation, vm.durable ? "durable " + (vm.workspace || "") : null,
            vm.sessions && vm.sessions.length ? vm.sessions.length + " session(s)" : null]
            .filter(Boolean).join(" · "),
        }),
      );
      li.addEventListener("click", () => selectVm(vm.id));
      li.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); selectVm(vm.id); } });
      list.append(li);
    }
    $("#vm-empty").hidden = state.vms.length > 0;
  }

  async function createVm() {
    try {
      const vm = await api("POST", "/v1/vms", { json: { isolation: $("#new-vm-isolation").value } });
      await refreshVms();
      selectVm(vm.id);
    } catch (err) { report(err); }
  }

  function selectVm(id, tab) {
    const vm = state.vms.find((v) => v.id === id);
    if (!vm) return;
    if (!state.vm || state.vm.id !== id) {
      disconnectTerminal();
      disconnectEvents();
      state.vm = vm;
      state.cwd = "/home/user";
      state.session = null;
      state.file = null;
    }
    $("#welcome").hidden = true;
    $("#vm-view").hidden = false;
    $("#vm-title").textContent = vm.id;
    $("#vm-meta").textContent = `${vm.isolation}${vm.durable ? " · durable" : ""} · created ${when(vm.created)}`;
    renderVms();
    showTab(tab || state.tab);
  }

  function closeVm() {
    disconnectTerminal();
    disconnectEvents();
    state.vm = null;
    $("#vm-view").hidden = true;
    $("#welcome").hidden = false;
    location.hash = "";
  }

  async function deleteVm() {
    if (!state.vm || !confirm(`Delete VM ${state.vm.id}? Its files and sessions go with it.`)) return;
    try {
      await api("DELETE", `/v1/vms/${state.vm.id}`);
      closeVm();
      refreshVms();
    } catch (err) { report(err); }
  }

  function moveVm(step) {
    if (!state.vms.length) return;
    const i = state.vm ? state.vms.findIndex((v) => v.id === state.vm.id) : -1;
    const next = state.vms[(i + step + state.vms.length) % state.vms.length];
    selectVm(next.id);
    const li = $(`#vm-list li[data-vm="${next.id}"]`);
    if (li) li.focus();
  }

  // ---------------------------------------------------------------- tabs
  function showTab(tab) {
    if (!TABS.includes(tab)) tab = "terminal";
    state.tab = tab;
    for (const b of $$(".tabs button")) b.setAttribute("aria-selected", String(b.dataset.tab === tab));
    for (const p of $$(".panel")) p.hidden = p.dataset.panel !== tab;
    if (state.vm) history.replaceState(null, "", `#/vm/${state.vm.id}/${tab}`);
    if (tab === "terminal") openTerminalTab();
    if (tab === "files") listDir(state.cwd);
    if (tab === "sessions") openSessionsTab();
    if (tab === "audit") loadAudit();
    if (tab === "snapshots") loadSnapshots();
  }

  // ---------------------------------------------------------------- terminal
  async function openTerminalTab() {
    if (!state.vm) return;
    const sel = $("#terminal-select");
    try {
      const data = await api("GET", `/v1/vms/${state.vm.id}/terminals`);
      const keep = state.termId;
      sel.replaceChildren(el("option", { value: "new", text: "new terminal" }));
      for (const t of data.terminals) {
        if (t.exit_code !== null) continue;
        const who = t.clients.length ? ` · ${t.clients.length} attached` : "";
        sel.append(el("option", { value: t.id, text: `${t.tty} (${t.cols}×${t.rows})${who}` }));
      }
      if (keep && [...sel.options].some((o) => o.value === keep)) sel.value = keep;
      else if (sel.options.length > 1) sel.value = sel.options[1].value;
    } catch (err) {
      $("#terminal-status").textContent = err.message;
      return;
    }
    if (!state.termSocket) connectTerminal();
    else if (state.term) { fitTerminal(); state.term.focus(); }
  }

  function ensureXterm() {
    if (state.term) return state.term;
    if (!window.Terminal) throw new Error("xterm.js did not load");
    const term = new window.Terminal({
      fontFamily: getComputedStyle(document.body).getPropertyValue("--mono") || "monospace",
      fontSize: 14,
      lineHeight: 1.15,
      cursorBlink: true,
      scrollback: 5000,
      theme: termTheme(),
    });
    const fit = new window.FitAddon.FitAddon();
    term.loadAddon(fit);
    term.open($("#terminal"));
    state.term = term;
    state.fit = fit;
    // Alt+digit and Alt+J/K/N stay with the page, the rest goes to the shell
    term.attachCustomKeyEventHandler((e) => !(e.altKey && /^(Digit[1-5]|KeyJ|KeyK|KeyN|KeyT)$/.test(e.code)));
    const enc = new TextEncoder();
    term.onData((d) => {
      const ws = state.termSocket;
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(enc.encode(d));
    });
    term.onBinary((d) => {
      const ws = state.termSocket;
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      const bytes = new Uint8Array(d.length);
      for (let i = 0; i < d.length; i++) bytes[i] = d.charCodeAt(i) & 0xff;
      ws.send(bytes);
    });
    term.onResize(({ cols, rows }) => {
      const ws = state.termSocket;
      if (ws && ws.readyState === WebSocket.OPEN && state.termRole === "writer") {
        ws.send(JSON.stringify({ type: "resize", cols, rows }));
      }
    });
    new ResizeObserver(() => fitTerminal()).observe($("#terminal"));
    return term;
  }

  function fitTerminal() {
    if (!state.fit || $("#terminal").offsetParent === null) return;
    try { state.fit.fit(); } catch (_) { /* not visible yet */ }
  }

  function connectTerminal() {
    if (!state.vm) return;
    disconnectTerminal();
    let term;
    try { term = ensureXterm(); } catch (err) { report(err); return; }
    term.reset();
    fitTerminal();
    const choice = $("#terminal-select").value || "new";
    const viewer = $("#terminal-viewer").checked && choice !== "new";
    const params = choice === "new"
      ? { cols: term.cols, rows: term.rows }
      : { role: viewer ? "viewer" : "writer" };
    const ws = new WebSocket(wsUrl(`/v1/vms/${state.vm.id}/terminals/${choice}/ws`, params));
    ws.binaryType = "arraybuffer";
    state.termSocket = ws;
    const status = $("#terminal-status");
    status.textContent = "connecting…";
    ws.onmessage = (ev) => {
      if (typeof ev.data !== "string") {
        term.write(new Uint8Array(ev.data));
        return;
      }
      let msg;
      try { msg = JSON.parse(ev.data); } catch (_) { return; }
      if (msg.type === "hello") {
        state.termId = msg.terminal.id;
        state.termRole = msg.role;
        watchTerminalAsks(ws);
        status.textContent = `${msg.terminal.tty} · ${msg.role === "viewer" ? "watching (read only)" : "writer"}`;
        if (msg.role === "writer" && (msg.terminal.cols !== term.cols || msg.terminal.rows !== term.rows)) {
          ws.send(JSON.stringify({ type: "resize", cols: term.cols, rows: term.rows }));
        }
        term.focus();
      } else if (msg.type === "exit") {
        status.textContent = `exited with status ${msg.exit_code}`;
        term.write(`\r\n\x1b[2m[process exited with status ${msg.exit_code}]\x1b[0m\r\n`);
        state.termId = null;
      } else if (msg.type === "detached") {
        status.textContent = `detached (${msg.reason})`;
      } else if (msg.type === "error") {
        if (msg.error.code === "writer_taken") {
          status.textContent = "someone else is typing here: watching instead";
          $("#terminal-viewer").checked = true;
          setTimeout(connectTerminal, 0);
        } else {
          toast(`${msg.error.code}: ${msg.error.message}`);
        }
      }
    };
    ws.onclose = () => {
      if (state.termSocket === ws) {
        state.termSocket = null;
        if (!/exited|detached/.test(status.textContent)) status.textContent = "disconnected";
      }
    };
  }

  function disconnectTerminal() {
    const ws = state.termSocket;
    state.termSocket = null;
    if (ws) ws.close();
    $("#terminal-asks").replaceChildren();
  }

  // The questions this terminal's commands wait on (an ``ask`` rule): long-polled while the
  // terminal is attached, answered with the buttons.
  async function watchTerminalAsks(ws) {
    const list = $("#terminal-asks");
    while (state.termSocket === ws && state.vm) {
      let pending = [];
      try {
        const data = await api("GET", `/v1/vms/${state.vm.id}/permissions?wait=20`);
        pending = data.permissions || [];
      } catch (_) {
        await new Promise((r) => setTimeout(r, 2000));
        continue;
      }
      if (state.termSocket !== ws) break;
      const mine = pending.filter((p) => p.origin && p.origin.kind === "terminal" && p.origin.id === state.termId);
      list.replaceChildren(...mine.map((p) => el("li", { "data-permission": p.id },
        el("strong", { text: `${p.capability} ${p.resource}` }),
        el("div", { class: "actions" },
          el("button", { type: "button", class: "primary", "data-decision": "allow", text: "Allow", onclick: () => answerTerminalAsk(p.id, "allow") }),
          el("button", { type: "button", class: "danger", "data-decision": "deny", text: "Deny", onclick: () => answerTerminalAsk(p.id, "deny") })))));
      // nothing pending: the long poll returns at once, so wait for the next question
      if (!pending.length) await new Promise((r) => setTimeout(r, 500));
      else if (!mine.length) await new Promise((r) => setTimeout(r, 1000));
      else await new Promise((r) => setTimeout(r, 300));
    }
  }

  async function answerTerminalAsk(id, decision) {
    const li = $(`#terminal-asks li[data-permission="${id}"]`);
    if (li) $$("button", li).forEach((b) => (b.disabled = true));
    try {
      await api("POST", `/v1/vms/${state.vm.id}/permissions/${id}`, { json: { decision } });
      if (li) li.remove();
    } catch (err) {
      if (li) li.remove();
      report(err);
    }
    state.term && state.term.focus();
  }

  // ---------------------------------------------------------------- files
  async function listDir(path) {
    if (!state.vm) return;
    const status = $("#files-status");
    try {
      const data = await api("GET", `/v1/vms/${state.vm.id}/list/${encodePath(path)}`);
      state.cwd = data.path || path;
      $("#path-input").value = state.cwd;
      const rows = $("#file-rows");
      rows.replaceChildren();
      const entries = [...data.entries].sort((a, b) =>
        (a.type === "dir" ? 0 : 1) - (b.type === "dir" ? 0 : 1) || a.name.localeCompare(b.name));
      for (const e of entries) {
        const full = joinPath(state.cwd, e.name);
        const isDir = e.type === "dir" || e.type === "directory";
        const link = el("button", {
          type: "button",
          class: "linkish mono",
          "data-name": e.name,
          text: e.name + (isDir ? "/" : e.type === "symlink" ? " →" : ""),
          onclick: () => (isDir ? listDir(full) : openFile(full, e)),
        });
        rows.append(el("tr", {},
          el("td", {}, link),
          el("td", { class: "num", text: isDir ? "" : humanSize(e.size) }),
          el("td", { class: "mono muted", text: e.mode !== undefined ? String(e.mode).replace(/^0o/, "") : "" }),
          el("td", { class: "muted small", text: when(e.mtime) }),
        ));
      }
      status.textContent = `${entries.length} entries`;
    } catch (err) {
      status.textContent = err.message;
      report(err);
    }
  }

  async function openFile(path, entry) {
    state.file = path;
    $("#file-view").hidden = false;
    $("#file-name").textContent = path;
    const text = $("#file-text");
    const bin = $("#file-binary");
    const save = $("#file-save");
    text.hidden = bin.hidden = save.hidden = true;
    if (entry && entry.size > TEXT_LIMIT) {
      bin.hidden = false;
      bin.textContent = `${humanSize(entry.size)}: too large to show here; download it.`;
      return;
    }
    try {
      const resp = await api("GET", `/v1/vms/${state.vm.id}/files/${encodePath(path)}`, { raw: true });
      const buf = new Uint8Array(await resp.arrayBuffer());
      let decoded = null;
      try { decoded = new TextDecoder("utf-8", { fatal: true }).decode(buf); } catch (_) { decoded = null; }
      if (decoded === null || decoded.includes("\u0000")) {
        bin.hidden = false;
        bin.textContent = `binary file, ${humanSize(buf.length)}: download it to look inside.`;
        return;
      }
      text.value = decoded;
      text.hidden = false;
      save.hidden = false;
    } catch (err) { report(err); }
  }

  async function saveFile() {
    if (!state.file) return;
    try {
      await api("PUT", `/v1/vms/${state.vm.id}/files/${encodePath(state.file)}`, {
        body: new TextEncoder().encode($("#file-text").value),
        headers: { "content-type": "application/octet-stream" },
      });
      const saved = state.file;
      await listDir(state.cwd);
      $("#files-status").textContent = `saved ${saved}`;
    } catch (err) { report(err); }
  }

  async function download(path) {
    try {
      const resp = await api("GET", `/v1/vms/${state.vm.id}/files/${encodePath(path)}`, { raw: true });
      const blob = await resp.blob();
      const a = el("a", { href: URL.createObjectURL(blob), download: path.split("/").pop() || "file" });
      document.body.append(a);
      a.click();
      setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    } catch (err) { report(err); }
  }

  async function removePath(path) {
    if (!confirm(`Delete ${path}?`)) return;
    try {
      await api("DELETE", `/v1/vms/${state.vm.id}/files/${encodePath(path)}?recursive=1`);
      closeFile();
      listDir(state.cwd);
    } catch (err) { report(err); }
  }

  function closeFile() {
    state.file = null;
    $("#file-view").hidden = true;
  }

  async function upload(files) {
    const status = $("#files-status");
    const done = [];
    for (const f of files) {
      const path = joinPath(state.cwd, f.name);
      status.textContent = `uploading ${f.name}…`;
      try {
        await api("PUT", `/v1/vms/${state.vm.id}/files/${encodePath(path)}`, {
          body: f,
          headers: { "content-type": "application/octet-stream" },
        });
        done.push(f.name);
      } catch (err) { report(err); }
    }
    await listDir(state.cwd);
    if (done.length) status.textContent = `uploaded ${done.join(", ")}`;
  }

  async function newEntry(kind) {
    const name = prompt(kind === "dir" ? "New folder name" : "New file name");
    if (!name) return;
    const path = joinPath(state.cwd, name);
    try {
      if (kind === "dir") await api("POST", `/v1/vms/${state.vm.id}/mkdir/${encodePath(path)}`);
      else await api("PUT", `/v1/vms/${state.vm.id}/files/${encodePath(path)}`, { body: new Uint8Array() });
      await listDir(state.cwd);
      if (kind !== "dir") openFile(path, { size: 0 });
    } catch (err) { report(err); }
  }

  // ---------------------------------------------------------------- sessions
  async function openSessionsTab() {
    if (!state.vm) return;
    const sel = $("#session-select");
    try {
      const data = await api("GET", `/v1/vms/${state.vm.id}/sessions`);
      sel.replaceChildren();
      for (const s of data.sessions) {
        sel.append(el("option", { value: s.id, text: `${s.id} · ${s.agent || "agent"}` }));
      }
      $("#session-status").textContent = data.sessions.length ? "" : "no sessions yet";
      const want = state.session && data.sessions.some((s) => s.id === state.session) ? state.session
        : (data.sessions[data.sessions.length - 1] || {}).id;
      if (want) {
        sel.value = want;
        if (want !== state.session || !state.eventsSocket) followSession(want);
      }
    } catch (err) {
      $("#session-status").textContent = err.message;
    }
  }

  async function newSession() {
    try {
      const mode = $("#session-mode").value;
      const s = await api("POST", `/v1/vms/${state.vm.id}/sessions`, { json: mode ? { mode } : {} });
      state.session = null;
      await openSessionsTab();
      $("#session-select").value = s.id;
      followSession(s.id);
      $("#prompt-input").focus();
    } catch (err) { report(err); }
  }

  function disconnectEvents() {
    const ws = state.eventsSocket;
    state.eventsSocket = null;
    if (ws) ws.close();
  }

  function followSession(sid) {
    disconnectEvents();
    state.session = sid;
    state.lastSeq = 0;
    state.toolItems = new Map();
    state.agentItem = null;
    $("#transcript").replaceChildren();
    const ws = new WebSocket(wsUrl(`/v1/vms/${state.vm.id}/sessions/${sid}/events/ws`, { after: 0 }));
    state.eventsSocket = ws;
    ws.onmessage = (ev) => {
      let e;
      try { e = JSON.parse(ev.data); } catch (_) { return; }
      if (e.seq <= state.lastSeq) return;
      state.lastSeq = e.seq;
      renderEvent(e);
    };
    ws.onclose = () => {
      if (state.eventsSocket === ws) {
        state.eventsSocket = null;
        // reconnect and replay from the last event seen
        setTimeout(() => {
          if (state.session === sid && state.tab === "sessions" && !state.eventsSocket) resumeEvents(sid);
        }, 1000);
      }
    };
  }

  function resumeEvents(sid) {
    const ws = new WebSocket(wsUrl(`/v1/vms/${state.vm.id}/sessions/${sid}/events/ws`, { after: state.lastSeq }));
    state.eventsSocket = ws;
    ws.onmessage = (ev) => {
      const e = JSON.parse(ev.data);
      if (e.seq <= state.lastSeq) return;
      state.lastSeq = e.seq;
      renderEvent(e);
    };
    ws.onclose = () => { if (state.eventsSocket === ws) state.eventsSocket = null; };
  }

  function textOf(content) {
    if (!content) return "";
    if (typeof content === "string") return content;
    if (Array.isArray(content)) return content.map(textOf).join("");
    if (content.type === "text") return content.text || "";
    if (content.type === "content") return textOf(content.content);
    if (content.type === "diff") return `--- ${content.path}\n${content.newText || ""}`;
    if (content.text) return content.text;
    return "";
  }

  function item(cls, who, ...children) {
    const li = el("li", { class: cls }, el("div", { class: "who", text: who }), ...children);
    $("#transcript").append(li);
    li.scrollIntoView({ block: "end" });
    return li;
  }

  function renderEvent(e) {
    const d = e.data || {};
    switch (e.kind) {
      case "prompt.started":
        state.agentItem = null;
        item("user", "you", el("div", { class: "message-text", text: textOf(d.content) }));
        break;
      case "prompt.ended":
        state.agentItem = null;
        item("ended", `turn ended · ${d.stopReason || d.stop_reason || "done"}`);
        break;
      case "update":
        renderUpdate(d);
        break;
      case "permission.asked":
        renderAsk(e);
        break;
      case "permission.answered": {
        const li = $(`#transcript li[data-asked="${d.askedSeq}"]`);
        const verdict = String(d.decision || "");
        const label = verdict.startsWith("allow") ? "allowed" : verdict.startsWith("reject") || verdict === "deny" ? "denied" : verdict;
        if (li) {
          $$(".actions button", li).forEach((b) => (b.disabled = true));
          li.append(el("span", { class: `status-pill ${label}`, "data-testid": "permission-answer", text: `${label} (${d.source || "?"})` }));
        }
        break;
      }
      case "session.error":
        item("permission", "error", el("div", { class: "message-text", text: d.message || "" }));
        break;
      default:
        break;
    }
  }

  function renderUpdate(u) {
    const kind = u.sessionUpdate;
    if (kind === "agent_message_chunk" || kind === "agent_thought_chunk") {
      const text = textOf(u.content);
      if (!state.agentItem || state.agentItem.dataset.kind !== kind) {
        state.agentItem = item("agent", kind === "agent_thought_chunk" ? "thinking" : "agent",
          el("div", { class: "message-text" }));
        state.agentItem.dataset.kind = kind;
      }
      $(".message-text", state.agentItem).textContent += text;
      return;
    }
    if (kind === "tool_call") {
      state.agentItem = null;
      const input = u.rawInput !== undefined ? JSON.stringify(u.rawInput, null, 2) : "";
      const li = item("tool", `tool · ${u.kind || "call"}`,
        el("div", {}, el("strong", { text: u.title || u.toolCallId }), " ",
          el("span", { class: `status-pill ${u.status || "pending"}`, "data-role": "status", text: u.status || "pending" })),
        input ? el("pre", { "data-role": "input", text: input }) : null,
        el("pre", { "data-role": "output", hidden: true }));
      li.dataset.tool = u.toolCallId;
      state.toolItems.set(u.toolCallId, li);
      return;
    }
    if (kind === "tool_call_update") {
      let li = state.toolItems.get(u.toolCallId);
      if (!li) {
        li = item("tool", "tool", el("div", {}, el("strong", { text: u.title || u.toolCallId }), " ",
          el("span", { class: "status-pill", "data-role": "status" })), el("pre", { "data-role": "output", hidden: true }));
        li.dataset.tool = u.toolCallId;
        state.toolItems.set(u.toolCallId, li);
      }
      if (u.status) {
        const pill = $('[data-role="status"]', li);
        pill.textContent = u.status;
        pill.className = `status-pill ${u.status}`;
      }
      let out = textOf(u.content);
      if (!out && u.rawOutput !== undefined) out = typeof u.rawOutput === "string" ? u.rawOutput : JSON.stringify(u.rawOutput, null, 2);
      if (out) {
        const pre = $('[data-role="output"]', li);
        pre.hidden = false;
        pre.textContent = out;
      }
      return;
    }
    if (kind === "plan" && Array.isArray(u.entries)) {
      item("agent", "plan", el("ol", {}, ...u.entries.map((p) => el("li", { text: `${p.content} (${p.status})` }))));
    }
  }

  function renderAsk(e) {
    const d = e.data || {};
    const tc = d.toolCall || {};
    const li = item("permission", "permission asked",
      el("div", {}, el("strong", { text: tc.title || tc.toolCallId || "a tool call" })),
      tc.rawInput !== undefined ? el("pre", { text: JSON.stringify(tc.rawInput, null, 2) }) : null);
    li.dataset.asked = String(e.seq);
    const actions = el("div", { class: "actions" },
      el("button", { type: "button", class: "primary", "data-decision": "allow", text: "Allow" }),
      el("button", { type: "button", "data-decision": "allow_always", text: "Always allow" }),
      el("button", { type: "button", class: "danger", "data-decision": "deny", text: "Deny" }));
    li.append(actions);
    actions.addEventListener("click", (ev) => {
      const b = ev.target.closest("button[data-decision]");
      if (b) answerAsk(li, b.dataset.decision);
    });
  }

  async function answerAsk(li, decision) {
    try {
      // the pending request of this session (the API lists a VM's open asks); the event can
      // arrive a moment before the request is registered, so look again for a little while
      $$(".actions button", li).forEach((b) => (b.disabled = true));
      let mine = [];
      for (let attempt = 0; attempt < 50 && !mine.length; attempt++) {
        if (attempt) await new Promise((r) => setTimeout(r, 200));
        if (li.querySelector('[data-testid="permission-answer"]')) return;
        const data = await api("GET", `/v1/vms/${state.vm.id}/permissions`);
        mine = data.permissions.filter((p) => !p.detail || !p.detail.session_id || p.detail.session_id === state.session);
      }
      if (!mine.length) {
        $$(".actions button", li).forEach((b) => (b.disabled = false));
        toast("this request is no longer waiting", "info");
        return;
      }
      const target = mine[0];
      $$(".actions button", li).forEach((b) => (b.disabled = true));
      await api("POST", `/v1/vms/${state.vm.id}/permissions/${target.id}`, { json: { decision } });
    } catch (err) {
      $$(".actions button", li).forEach((b) => (b.disabled = false));
      report(err);
    }
  }

  async function sendPrompt(ev) {
    ev.preventDefault();
    const input = $("#prompt-input");
    const content = input.value.trim();
    if (!content) return;
    try {
      if (!state.session) await newSession();
      if (!state.session) return;
      await api("POST", `/v1/vms/${state.vm.id}/sessions/${state.session}/prompt`, { json: { content } });
      input.value = "";
    } catch (err) { report(err); }
  }

  async function cancelPrompt() {
    if (!state.session) return;
    try { await api("POST", `/v1/vms/${state.vm.id}/sessions/${state.session}/cancel`); } catch (err) { report(err); }
  }

  // ---------------------------------------------------------------- audit
  async function loadAudit(ev) {
    if (ev) ev.preventDefault();
    if (!state.vm) return;
    const form = $("#audit-form");
    const q = new URLSearchParams();
    for (const name of ["kind", "capability", "decision", "limit"]) {
      const v = form.elements[name].value.trim();
      if (v) q.set(name, v);
    }
    try {
      const data = await api("GET", `/v1/vms/${state.vm.id}/audit?${q}`);
      const rows = $("#audit-rows");
      rows.replaceChildren();
      for (const e of [...data.events].reverse()) {
        rows.append(el("tr", {},
          el("td", { class: "num", text: e.seq }),
          el("td", { class: "muted small", text: when(e.time || e.timestamp) }),
          el("td", { text: e.kind || "" }),
          el("td", { class: "mono", text: e.capability || "" }),
          el("td", { class: "mono", text: e.resource || e.path || "" }),
          el("td", {}, e.decision ? el("span", { class: `status-pill ${e.decision}`, text: e.decision }) : ""),
        ));
      }
      $("#audit-status").textContent = `${data.events.length} events`;
    } catch (err) { $("#audit-status").textContent = err.message; }
  }

  // ---------------------------------------------------------------- snapshots and workspaces
  async function loadSnapshots() {
    try {
      const data = await api("GET", "/v1/snapshots");
      const rows = $("#snapshot-rows");
      rows.replaceChildren();
      for (const s of data.snapshots) {
        const digest = typeof s === "string" ? s : s.digest;
        const size = typeof s === "string" ? state.snapSizes[digest] : s.size;
        rows.append(el("tr", {},
          el("td", { class: "mono", title: digest, text: digest.slice(0, 16) + "…" }),
          el("td", { class: "num", text: humanSize(size) }),
          el("td", {}, el("button", { type: "button", text: "Start VM", onclick: () => vmFromSnapshot(digest) })),
        ));
      }
      $("#snapshot-status").textContent = `${data.snapshots.length} snapshots`;
    } catch (err) { $("#snapshot-status").textContent = err.message; }
    try {
      const data = await api("GET", "/v1/workspaces");
      const sel = $("#workspace-select");
      const keep = sel.value;
      sel.replaceChildren(...data.workspaces.map((w) => el("option", { value: w.name, text: w.name })));
      if (keep) sel.value = keep;
      $("#workspace-status").textContent = data.workspaces.length ? "" : "no workspaces (durable VMs keep theirs)";
      if (sel.value) loadRuns(sel.value);
    } catch (err) { $("#workspace-status").textContent = err.message; }
  }

  async function takeSnapshot() {
    try {
      const s = await api("POST", `/v1/vms/${state.vm.id}/snapshots`, { json: { path: "/" } });
      state.snapSizes[s.digest] = s.size;
      $("#snapshot-status").textContent = `took ${s.digest.slice(0, 12)}… (${s.entries} entries)`;
      loadSnapshots();
    } catch (err) { report(err); }
  }

  async function vmFromSnapshot(digest) {
    try {
      const vm = await api("POST", "/v1/vms", { json: { snapshot: digest, isolation: $("#new-vm-isolation").value } });
      await refreshVms();
      selectVm(vm.id, "files");
    } catch (err) { report(err); }
  }

  async function loadRuns(name) {
    try {
      const data = await api("GET", `/v1/workspaces/${encodeURIComponent(name)}/log`);
      const rows = $("#run-rows");
      rows.replaceChildren();
      for (const r of [...data.runs].reverse()) {
        const n = r.n ?? r.run;
        rows.append(el("tr", {},
          el("td", { class: "num", text: n }),
          el("td", { text: r.message || "" }),
          el("td", { class: "muted small", text: when(r.time || r.created) }),
          el("td", {}, el("button", { type: "button", text: "Diff", onclick: () => showDiff(name, n) })),
        ));
      }
    } catch (err) { $("#workspace-status").textContent = err.message; }
  }

  async function showDiff(name, run) {
    try {
      const q = run !== undefined && run !== null && Number(run) > 0 ? `?a=${Number(run) - 1}&b=${run}` : "";
      const data = await api("GET", `/v1/workspaces/${encodeURIComponent(name)}/diff${q}`);
      const pre = $("#diff");
      pre.replaceChildren();
      for (const c of data.changes) {
        pre.append(el("div", { class: "hunk", text: `${c.kind || c.change || "changed"} ${c.path}` }));
        for (const line of String(c.patch || "").split("\n")) {
          const cls = line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : line.startsWith("@@") ? "hunk" : "";
          pre.append(el("div", { class: cls, text: line }));
        }
      }
      if (!data.changes.length) pre.textContent = "no changes";
      pre.hidden = false;
    } catch (err) { report(err); }
  }

  // ---------------------------------------------------------------- wiring
  function routeFromHash() {
    const m = location.hash.match(/^#\/vm\/([^/]+)(?:\/(\w+))?/);
    if (m && state.vms.find((v) => v.id === m[1])) selectVm(m[1], m[2]);
  }

  function takeTokenFromUrl() {
    const u = new URL(location.href);
    const t = u.searchParams.get("token");
    if (t) {
      state.token = t;
      localStorage.setItem("pocketos.token", t);
      u.searchParams.delete("token");
      history.replaceState(null, "", u.pathname + u.search + u.hash);
    }
  }

  function wire() {
    $("#new-vm").addEventListener("click", createVm);
    $("#delete-vm").addEventListener("click", deleteVm);
    for (const b of $$(".tabs button")) b.addEventListener("click", () => showTab(b.dataset.tab));
    $(".tabs").addEventListener("keydown", (e) => {
      if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
      const i = TABS.indexOf(state.tab) + (e.key === "ArrowRight" ? 1 : -1);
      showTab(TABS[(i + TABS.length) % TABS.length]);
      $(`.tabs button[data-tab="${state.tab}"]`).focus();
    });
    $("#terminal-connect").addEventListener("click", connectTerminal);
    $("#path-form").addEventListener("submit", (e) => { e.preventDefault(); listDir($("#path-input").value || "/"); });
    $("#up-dir").addEventListener("click", () => listDir(parentOf(state.cwd)));
    $("#upload-input").addEventListener("change", (e) => { upload(Array.from(e.target.files)); e.target.value = ""; });
    $("#new-file").addEventListener("click", () => newEntry("file"));
    $("#new-dir").addEventListener("click", () => newEntry("dir"));
    $("#file-save").addEventListener("click", saveFile);
    $("#file-download").addEventListener("click", () => state.file && download(state.file));
    $("#file-delete").addEventListener("click", () => state.file && removePath(state.file));
    $("#file-close").addEventListener("click", closeFile);
    $("#file-text").addEventListener("keydown", (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key === "s") { e.preventDefault(); saveFile(); }
    });
    const drop = $(".files");
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("dragging"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("dragging"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault();
      drop.classList.remove("dragging");
      if (e.dataTransfer && e.dataTransfer.files.length) upload(Array.from(e.dataTransfer.files));
    });
    $("#session-new").addEventListener("click", newSession);
    $("#session-select").addEventListener("change", (e) => followSession(e.target.value));
    $("#prompt-form").addEventListener("submit", sendPrompt);
    $("#prompt-input").addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) sendPrompt(e);
    });
    $("#prompt-cancel").addEventListener("click", cancelPrompt);
    $("#audit-form").addEventListener("submit", loadAudit);
    $("#snapshot-take").addEventListener("click", takeSnapshot);
    $("#workspace-select").addEventListener("change", (e) => loadRuns(e.target.value));
    $("#theme").addEventListener("click", () => applyTheme(currentTheme() === "dark" ? "light" : "dark"));
    $("#token-button").addEventListener("click", () => askToken());
    $("#token-cancel").addEventListener("click", () => $("#token-dialog").close());
    $("#token-form").addEventListener("submit", () => setToken($("#token-input").value));
    document.addEventListener("keydown", (e) => {
      if (!e.altKey || e.ctrlKey || e.metaKey) return;
      const digit = /^Digit([1-5])$/.exec(e.code);
      if (digit && state.vm) { e.preventDefault(); showTab(TABS[Number(digit[1]) - 1]); }
      else if (e.code === "KeyN") { e.preventDefault(); createVm(); }
      else if (e.code === "KeyJ") { e.preventDefault(); moveVm(1); }
      else if (e.code === "KeyK") { e.preventDefault(); moveVm(-1); }
      else if (e.code === "KeyT") { e.preventDefault(); applyTheme(currentTheme() === "dark" ? "light" : "dark"); }
    });
    window.addEventListener("hashchange", routeFromHash);
  }

  async function start() {
    applyTheme(localStorage.getItem("pocketos.theme") || "auto");
    takeTokenFromUrl();
    wire();
    try {
      const h = await api("GET", "/v1/health");
      $("#server-info").textContent = `pocketos ${h.version || ""}`;
    } catch (_) { /* shown by the next call */ }
    await refreshVms();
    routeFromHash();
    setInterval(() => { if (!document.hidden) refreshVms(); }, 15000);
  }

  // a small hook for tests and for people poking at the page from the devtools
  window.pocketosConsole = {
    state,
    terminalText() {
      const t = state.term;
      if (!t) return "";
      const buf = t.buffer.active;
      const lines = [];
      for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i).translateToString(true));
      return lines.join("\n");
    },
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
