// Runs first in every node/js guest (as an ES module, so the engine drives timers and promises
// until it settles). scriptArgs: [mode, target, ...args]; mode is eval | script | module | stdin.
import * as std from "qjs:std";
import * as os from "qjs:os";
import * as bjson from "qjs:bjson";

globalThis.std = std;
globalThis.os = os;
globalThis.bjson = bjson;

const [mode, target, ...userArgs] = scriptArgs;
const cwd0 = std.getenv("PWD");
if (cwd0) os.chdir(cwd0);

// ---- inspect / format -----------------------------------------------------------------
const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
function quote(s) {
  return "'" + s.replace(/\\/g, "\\\\").replace(/'/g, "\\'").replace(/\n/g, "\\n") + "'";
}
function inspect(v, opts, depth = 0, seen = []) {
  const maxDepth = opts && opts.depth !== undefined ? opts.depth : 2;
  switch (typeof v) {
    case "string": return depth === 0 && opts && opts.top ? v : quote(v);
    case "number": return Object.is(v, -0) ? "-0" : String(v);
    case "bigint": return v + "n";
    case "boolean": case "undefined": return String(v);
    case "symbol": return v.toString();
    case "function": {
      const kind = /^class\s/.test(Function.prototype.toString.call(v)) ? "class" : "Function";
      return v.name ? `[${kind}: ${v.name}]` : `[${kind} (anonymous)]`;
    }
  }
  if (v === null) return "null";
  if (seen.includes(v)) return "[Circular *1]";
  if (v instanceof Error) return v.stack ? `${v.name}: ${v.message}\n${v.stack}`.trimEnd() : `${v.name}: ${v.message}`;
  if (v instanceof Date) return isNaN(v) ? "Invalid Date" : v.toISOString();
  if (v instanceof RegExp) return v.toString();
  if (v instanceof Promise) return "Promise { <pending> }";
  const next = seen.concat([v]);
  const sub = (x) => inspect(x, opts, depth + 1, next);
  let parts, open, close, prefix = "";
  if (Array.isArray(v)) {
    if (depth > maxDepth) return "[Array]";
    parts = v.map(sub);
    open = "["; close = "]";
    if (v.length > 100) { parts = parts.slice(0, 100); parts.push(`... ${v.length - 100} more items`); }
  } else if (v instanceof Map) {
    if (depth > maxDepth) return "[Map]";
    parts = [...v].map(([k, x]) => `${sub(k)} => ${sub(x)}`);
    prefix = `Map(${v.size}) `; open = "{"; close = "}";
  } else if (v instanceof Set) {
    if (depth > maxDepth) return "[Set]";
    parts = [...v].map(sub);
    prefix = `Set(${v.size}) `; open = "{"; close = "}";
  } else if (ArrayBuffer.isView(v)) {
    parts = Array.from(v, sub);
    prefix = `${v.constructor.name}(${v.length}) `; open = "["; close = "]";
  } else {
    const ctor = Object.getPrototypeOf(v);
    const name = ctor === null ? "[Object: null prototype] " :
      (ctor.constructor && ctor.constructor.name && ctor.constructor.name !== "Object" ? ctor.constructor.name + " " : "");
    if (depth > maxDepth) return name ? `[${name.trim()}]` : "[Object]";
    parts = Object.keys(v).map((k) => `${IDENT.test(k) ? k : quote(k)}: ${sub(v[k])}`);
    prefix = name; open = "{"; close = "}";
  }
  if (parts.length === 0) return prefix + open + close;
  const one = `${prefix}${open} ${parts.join(", ")} ${close}`;
  if (one.length <= 72 && !one.includes("\n")) return one;
  const pad = "  ".repeat(depth + 1);
  return `${prefix}${open}\n${parts.map((p) => pad + p.replace(/\n/g, "\n" + pad)).join(",\n")}\n${"  ".repeat(depth)}${close}`;
}
function format(...args) {
  let out = "";
  let i = 0;
  if (typeof args[0] === "string" && args[0].includes("%")) {
    const f = args[0];
    i = 1;
    out = f.replace(/%[sdifjoOc%]/g, (m) => {
      if (m === "%%") return "%";
      if (i >= args.length) return m;
      const a = args[i++];
      switch (m) {
        case "%s": return typeof a === "string" ? a : inspect(a, { depth: 1 });
        case "%d": case "%i": return typeof a === "bigint" ? a + "n" : String(m === "%i" ? parseInt(a) : Number(a));
        case "%f": return String(parseFloat(a));
        case "%j": try { return JSON.stringify(a); } catch (e) { return "[Circular]"; }
        case "%c": return "";
        default: return inspect(a, {});
      }
    });
    if (i < args.length) out += " ";
  }
  return out + args.slice(i).map((a) => inspect(a, { top: true })).join(" ");
}

// ---- console --------------------------------------------------------------------------
const write = (f, s) => { f.puts(s); f.flush(); };
const counts = {};
const timers = {};
let groupIndent = "";
const emit = (f, args) => write(f, (groupIndent ? format(...args).replace(/^/gm, groupIndent) : format(...args)) + "\n");
globalThis.console = {
  log: (...a) => emit(std.out, a), info: (...a) => emit(std.out, a), debug: (...a) => emit(std.out, a),
  error: (...a) => emit(std.err, a), warn: (...a) => emit(std.err, a), trace: (...a) => emit(std.err, a),
  dir: (o, opts) => emit(std.out, [inspect(o, opts || {})]),
  table: (o) => emit(std.out, [o]),
  assert: (c, ...a) => { if (!c) emit(std.err, ["Assertion failed" + (a.length ? ":" : ""), ...a]); },
  count: (l = "default") => { counts[l] = (counts[l] || 0) + 1; emit(std.out, [`${l}: ${counts[l]}`]); },
  time: (l = "default") => { timers[l] = Date.now(); },
  timeEnd: (l = "default") => { emit(std.out, [`${l}: ${Date.now() - timers[l]}ms`]); delete timers[l]; },
  group: (...a) => { if (a.length) emit(std.out, a); groupIndent += "  "; },
  groupEnd: () => { groupIndent = groupIndent.slice(2); },
};

// ---- timers (counted, so the guest ends when nothing is left to run) -------------------
const live = new Map();
let nextId = 1;
let idleResolve = null;
function checkIdle() {
  if (live.size === 0 && idleResolve) os.setTimeout(() => { if (live.size === 0 && idleResolve) { const r = idleResolve; idleResolve = null; r(); } }, 0);
}
function schedule(fn, ms, args, repeat) {
  const id = nextId++;
  const delay = Math.max(0, Number(ms) || 0);
  const arm = () => {
    const h = os.setTimeout(() => {
      if (!live.has(id)) return;
      if (repeat) arm(); else live.delete(id);
      try { fn(...args); } catch (e) { fatal(e); }
      checkIdle();
    }, delay);
    live.set(id, h);
  };
  arm();
  return { id, ref() { return this; }, unref() { return this; }, hasRef() { return true; }, [Symbol.toPrimitive]() { return id; } };
}
function cancelTimer(t) {
  const id = typeof t === "object" && t !== null ? t.id : t;
  const h = live.get(id);
  if (h !== undefined) { os.clearTimeout(h); live.delete(id); checkIdle(); }
}
globalThis.setTimeout = (fn, ms, ...args) => schedule(fn, ms, args, false);
globalThis.setInterval = (fn, ms, ...args) => schedule(fn, ms, args, true);
globalThis.setImmediate = (fn, ...args) => schedule(fn, 0, args, false);
globalThis.clearTimeout = cancelTimer;
globalThis.clearInterval = cancelTimer;
globalThis.clearImmediate = cancelTimer;
if (typeof globalThis.queueMicrotask !== "function") globalThis.queueMicrotask = (fn) => Promise.resolve().then(fn);

// ---- process --------------------------------------------------------------------------
const env = std.getenviron();
function flushAll() { std.out.flush(); std.err.flush(); }
function exitNow(code) { flushAll(); std.exit(code & 255); }
function fatal(e) {
  if (e instanceof Error) {
    const frames = String(e.stack || "").split("\n").filter((l) => l && !l.includes("<cmdline>") && !l.includes("evalScript (native)"));
    write(std.err, `Uncaught ${e.name}: ${e.message}\n${frames.join("\n")}`.trimEnd() + "\n");
  }
  else write(std.err, `Uncaught ${inspect(e, {})}\n`);
  exitNow(1);
}
const mkStream = (f, fd) => ({
  write: (s, enc, cb) => { write(f, typeof s === "string" ? s : String.fromCharCode(...s)); if (typeof enc === "function") enc(); else if (cb) cb(); return true; },
  isTTY: false, fd, on() { return this; }, once() { return this; }, end() {},
});
globalThis.process = {
  argv: ["/usr/bin/node", ...(mode === "script" || mode === "module" ? [target] : []), ...userArgs],
  argv0: "node", execArgv: [], env, exitCode: undefined, pid: 1, ppid: 0,
  platform: "linux", arch: "wasm32", version: "v20.0.0-quickjs", versions: { quickjs: "ng" },
  release: { name: "quickjs-ng" },
  // exits at once, like node: no catch block, finally or promise rejection can intercept it
  exit(code) { exitNow(code === undefined ? (process.exitCode || 0) : Number(code) | 0); },
  cwd: () => os.getcwd()[0],
  chdir: (d) => { if (os.chdir(d) !== 0) throw new Error(`ENOENT: no such file or directory, chdir '${d}'`); },
  nextTick: (fn, ...a) => queueMicrotask(() => fn(...a)),
  hrtime: Object.assign((prev) => { const ns = BigInt(Math.round(os.now() * 1e6)); const s = [Number(ns / 1000000000n), Number(ns % 1000000000n)]; return prev ? [s[0] - prev[0], s[1] - prev[1]] : s; }, { bigint: () => BigInt(Math.round(os.now() * 1e6)) }),
  uptime: () => os.now() / 1e6,
  memoryUsage: () => ({ rss: 0, heapTotal: 0, heapUsed: 0, external: 0 }),
  on() { return this; }, once() { return this; }, off() { return this; }, emitWarning: (w) => write(std.err, `Warning: ${w}\n`),
  stdout: mkStream(std.out, 1), stderr: mkStream(std.err, 2),
  stdin: { fd: 0, isTTY: false, read: () => std.in.readAsString() },
};

// ---- CommonJS: require('fs' | 'path' | 'util' | 'os' | './file.js' | './data.json') ----------
function errnoError(code, syscall, p) {
  const msgs = { ENOENT: "no such file or directory", EACCES: "permission denied", EEXIST: "file already exists",
    ENOTDIR: "not a directory", EISDIR: "illegal operation on a directory", ENOTEMPTY: "directory not empty", EROFS: "read-only file system",
    ENOSPC: "no space left on device", EFBIG: "file too large", EIO: "i/o error" };
  const e = new Error(`${code}: ${msgs[code] || "error"}, ${syscall} '${p}'`);
  e.code = code; e.syscall = syscall; e.path = p;
  return e;
}
const ERRNO_NAMES = { 2: "ENOENT", 13: "EACCES", 17: "EEXIST", 20: "ENOTDIR", 21: "EISDIR", 39: "ENOTEMPTY", 30: "EROFS", 1: "EPERM", 18: "EXDEV", 27: "EFBIG", 28: "ENOSPC", 5: "EIO" };
function errName(n) {
  const s = std.strerror(n);
  const byText = { "No such file or directory": "ENOENT", "Permission denied": "EACCES", "File exists": "EEXIST", "Not a directory": "ENOTDIR", "Is a directory": "EISDIR", "Directory not empty": "ENOTEMPTY", "Read-only file system": "EROFS", "Operation not permitted": "EPERM", "File too large": "EFBIG", "No space left on device": "ENOSPC", "I/O error": "EIO" };
  return byText[s] || ERRNO_NAMES[n] || "EIO";
}
const path = {
  sep: "/", delimiter: ":",
  normalize(p) {
    const abs = p.startsWith("/");
    const out = [];
    for (const seg of p.split("/")) {
      if (!seg || seg === ".") continue;
      if (seg === "..") { if (out.length && out[out.length - 1] !== "..") out.pop(); else if (!abs) out.push(".."); }
      else out.push(seg);
    }
    const s = (abs ? "/" : "") + out.join("/");
    return s || (abs ? "/" : ".") + (p.endsWith("/") && s ? "/" : "");
  },
  join: (...ps) => path.normalize(ps.filter((x) => x !== "").join("/") || "."),
  resolve: (...ps) => { let r = ""; for (const p of ps) r = p.startsWith("/") ? p : (r ? r + "/" + p : p); if (!r.startsWith("/")) r = process.cwd() + "/" + r; const n = path.normalize(r); return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n; },
  isAbsolute: (p) => p.startsWith("/"),
  dirname: (p) => { const s = p.replace(/\/+$/, ""); const i = s.lastIndexOf("/"); return i < 0 ? "." : i === 0 ? "/" : s.slice(0, i); },
  basename: (p, ext) => { let b = p.replace(/\/+$/, ""); b = b.slice(b.lastIndexOf("/") + 1); return ext && b.endsWith(ext) && b !== ext ? b.slice(0, -ext.length) : b; },
  extname: (p) => { const b = path.basename(p); const i = b.lastIndexOf("."); return i <= 0 ? "" : b.slice(i); },
  relative: (from, to) => { const a = path.resolve(from).split("/").filter(Boolean), b = path.resolve(to).split("/").filter(Boolean); let i = 0; while (i < a.length && i < b.length && a[i] === b[i]) i++; return [...a.slice(i).map(() => ".."), ...b.slice(i)].join("/"); },
  parse: (p) => { const base = path.basename(p), ext = path.extname(p); return { root: p.startsWith("/") ? "/" : "", dir: path.dirname(p), base, ext, name: ext ? base.slice(0, -ext.length) : base }; },
  format: (o) => (o.dir ? o.dir + "/" : o.root || "") + (o.base || (o.name || "") + (o.ext || "")),
};
path.posix = path;
function statObj(st) {
  const isDir = (st.mode & os.S_IFMT) === os.S_IFDIR, isFile = (st.mode & os.S_IFMT) === os.S_IFREG, isLink = (st.mode & os.S_IFMT) === os.S_IFLNK;
  return { size: st.size, mode: st.mode, mtimeMs: st.mtime, atimeMs: st.atime, ctimeMs: st.ctime, mtime: new Date(st.mtime), ino: st.ino, nlink: st.nlink,
    isFile: () => isFile, isDirectory: () => isDir, isSymbolicLink: () => isLink };
}
function utf8(s) {
  const n = s.length, out = new Uint8Array(n * 3);
  let j = 0;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) { out[j++] = c; continue; }
    if (c < 0x800) { out[j++] = 0xc0 | (c >> 6); out[j++] = 0x80 | (c & 63); continue; }
    if (c >= 0xd800 && c < 0xe000) {
      const d = c < 0xdc00 && i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (d >= 0xdc00 && d < 0xe000) {
        i++;
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        out[j++] = 0xf0 | (c >> 18); out[j++] = 0x80 | ((c >> 12) & 63);
        out[j++] = 0x80 | ((c >> 6) & 63); out[j++] = 0x80 | (c & 63);
        continue;
      }
      c = 0xfffd;  // a lone surrogate, as node's encoder writes it
    }
    out[j++] = 0xe0 | (c >> 12); out[j++] = 0x80 | ((c >> 6) & 63); out[j++] = 0x80 | (c & 63);
  }
  return out.subarray(0, j);
}
const fs = {
  readFileSync(p, opts) {
    p = String(p);
    const enc = typeof opts === "string" ? opts : opts && opts.encoding;
    const errObj = {};
    const f = std.open(p, "rb", errObj);
    if (!f) throw errnoError(errName(errObj.errno), "open", p);
    if (enc) { const s = f.readAsString(); f.close(); return s; }
    const buf = []; let b; while ((b = f.getByte()) >= 0) buf.push(b); f.close();
    const u = Uint8Array.from(buf); u.toString = function () { return new TextDecoder().decode(this); }; return u;
  },
  writeFileSync(p, data, opts) { fs._write(String(p), data, opts && opts.flag === "a" ? "ab" : "wb"); },
  appendFileSync(p, data) { fs._write(String(p), data, "ab"); },
  _write(p, data, mode) {
    // os.* calls return -errno, so a refused write (EACCES, ENOSPC, EFBIG, EROFS) is thrown
    // like node throws it instead of vanishing in a stdio buffer
    const flags = os.O_WRONLY | os.O_CREAT | (mode === "ab" ? os.O_APPEND : os.O_TRUNC);
    const fd = os.open(p, flags, 0o666);
    if (fd < 0) throw errnoError(errName(-fd), "open", p);
    if (typeof data === "string" && data.length > 65536) {
      // long text: the native stdio encoder (a JS loop is ~1 us per character here); a
      // failure is still reported, as EIO when stdio does not say which
      const f = std.fdopen(fd, mode === "ab" ? "a" : "w");
      f.puts(data);
      f.flush();
      const failed = f.error();
      const rc = f.close();
      if (failed || rc < 0) throw errnoError(rc < 0 ? errName(-rc) : "EIO", "write", p);
      return;
    }
    const u = typeof data === "string" ? utf8(data)
      : data instanceof ArrayBuffer ? new Uint8Array(data)
      : new Uint8Array(data.buffer || data, data.byteOffset || 0, data.byteLength);
    let off = 0;
    while (off < u.byteLength) {
      const n = os.write(fd, u.buffer, u.byteOffset + off, u.byteLength - off);
      if (n <= 0) { os.close(fd); throw errnoError(n < 0 ? errName(-n) : "EIO", "write", p); }
      off += n;
    }
    const rc = os.close(fd);
    if (rc < 0) throw errnoError(errName(-rc), "close", p);
  },
  existsSync(p) { return os.stat(String(p))[1] === 0; },
  statSync(p, o) { const [st, err] = os.stat(String(p)); if (err) { if (o && o.throwIfNoEntry === false) return undefined; throw errnoError(errName(err), "stat", p); } return statObj(st); },
  lstatSync(p) { const [st, err] = os.lstat(String(p)); if (err) throw errnoError(errName(err), "lstat", p); return statObj(st); },
  readdirSync(p, o) {
    const [names, err] = os.readdir(String(p));
    if (err) throw errnoError(errName(err), "scandir", p);
    const list = names.filter((n) => n !== "." && n !== "..").sort();
    if (o && o.withFileTypes) return list.map((n) => { const s = fs.statSync(path.join(String(p), n)); return { name: n, isFile: s.isFile, isDirectory: s.isDirectory, isSymbolicLink: () => false }; });
    return list;
  },
  mkdirSync(p, o) {
    p = String(p);
    if (o && o.recursive) { let cur = p.startsWith("/") ? "" : "."; for (const seg of p.split("/").filter(Boolean)) { cur += "/" + seg; if (!fs.existsSync(cur)) { const e = os.mkdir(cur, 0o777); if (e) throw errnoError(errName(-e), "mkdir", cur); } } return; }
    const e = os.mkdir(p, 0o777); if (e) throw errnoError(errName(-e), "mkdir", p);
  },
  unlinkSync(p) { const e = os.remove(String(p)); if (e) throw errnoError(errName(-e), "unlink", p); },
  rmdirSync(p) { const e = os.remove(String(p)); if (e) throw errnoError(errName(-e), "rmdir", p); },
  rmSync(p, o) {
    p = String(p);
    const [st, err] = os.lstat(p);
    if (err) { if (o && o.force) return; throw errnoError(errName(err), "rm", p); }
    if ((st.mode & os.S_IFMT) === os.S_IFDIR) { if (!(o && o.recursive)) throw errnoError("EISDIR", "rm", p); for (const n of fs.readdirSync(p)) fs.rmSync(p + "/" + n, o); }
    const e = os.remove(p); if (e) throw errnoError(errName(-e), "rm", p);
  },
  renameSync(a, b) { const e = os.rename(String(a), String(b)); if (e) throw errnoError(errName(-e), "rename", a); },
  copyFileSync(a, b) { fs.writeFileSync(b, fs.readFileSync(a)); },
  realpathSync: (p) => path.resolve(String(p)),
};
fs.promises = Object.fromEntries(Object.entries(fs).filter(([k, v]) => typeof v === "function" && k.endsWith("Sync")).map(([k, v]) => [k.slice(0, -4), async (...a) => v(...a)]));
fs.readFile = (p, o, cb) => { if (typeof o === "function") { cb = o; o = undefined; } try { const r = fs.readFileSync(p, o); queueMicrotask(() => cb(null, r)); } catch (e) { queueMicrotask(() => cb(e)); } };
fs.writeFile = (p, d, o, cb) => { if (typeof o === "function") { cb = o; o = undefined; } try { fs.writeFileSync(p, d, o); queueMicrotask(() => cb(null)); } catch (e) { queueMicrotask(() => cb(e)); } };
const util = { format, inspect: (v, o) => inspect(v, o || {}), isDeepStrictEqual: (a, b) => JSON.stringify(a) === JSON.stringify(b), promisify: (fn) => (...a) => new Promise((res, rej) => fn(...a, (e, v) => (e ? rej(e) : res(v)))) };
const osMod = { EOL: "\n", platform: () => "linux", arch: () => "wasm32", tmpdir: () => env.TMPDIR || "/tmp", homedir: () => env.HOME || "/", hostname: () => "pocketos", cpus: () => [{}], type: () => "Linux" };
const assertMod = Object.assign((c, m) => { if (!c) throw new Error(m || "Assertion failed"); }, {
  ok: (c, m) => { if (!c) throw new Error(m || "Assertion failed"); },
  equal: (a, b, m) => { if (a != b) throw new Error(m || `${inspect(a, {})} == ${inspect(b, {})}`); },
  strictEqual: (a, b, m) => { if (!Object.is(a, b)) throw new Error(m || `Expected values to be strictly equal:\n\n${inspect(a, {})} !== ${inspect(b, {})}\n`); },
  deepStrictEqual: (a, b, m) => { if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(m || "Expected values to be strictly deep-equal"); },
  throws: (fn, _e, m) => { try { fn(); } catch (e) { return; } throw new Error(m || "Missing expected exception."); },
});
const builtins = { fs, path, util, os: osMod, assert: assertMod, process: globalThis.process, "fs/promises": fs.promises, "path/posix": path };
const cache = {};
function makeRequire(dir) {
  const req = (name) => {
    const bare = name.startsWith("node:") ? name.slice(5) : name;
    if (builtins[bare]) return builtins[bare];
    if (!(name.startsWith("./") || name.startsWith("../") || name.startsWith("/"))) {
      const e = new Error(`Cannot find module '${name}'`); e.code = "MODULE_NOT_FOUND"; throw e;
    }
    const base = path.resolve(dir, name);
    const cands = [base, base + ".js", base + ".json", base + "/index.js"];
    const file = cands.find((c) => { const [st, err] = os.stat(c); return !err && (st.mode & os.S_IFMT) === os.S_IFREG; });
    if (!file) { const e = new Error(`Cannot find module '${name}'`); e.code = "MODULE_NOT_FOUND"; throw e; }
    if (cache[file]) return cache[file].exports;
    const src = fs.readFileSync(file, "utf8");
    if (file.endsWith(".json")) { cache[file] = { exports: JSON.parse(src) }; return cache[file].exports; }
    return runCommonJS(src, file).exports;
  };
  req.resolve = (n) => path.resolve(dir, n);
  req.cache = cache;
  return req;
}
globalThis.require = makeRequire(process.cwd());
function runCommonJS(src, file) {
  const module = { exports: {}, filename: file, id: file, loaded: false };
  cache[file] = module;
  const body = src.startsWith("#!") ? "//" + src : src;
  const fn = std.evalScript(`(function (exports, require, module, __filename, __dirname) {${body}\n})`, {});
  fn.call(module.exports, module.exports, makeRequire(path.dirname(file)), module, file, path.dirname(file));
  module.loaded = true;
  return module;
}
globalThis.module = { exports: {} };
globalThis.exports = globalThis.module.exports;
globalThis.__filename = "[eval]";
globalThis.__dirname = process.cwd();
if (typeof globalThis.TextEncoder === "undefined") {
  globalThis.TextEncoder = class { encode(s) { const u = unescape(encodeURIComponent(s)); return Uint8Array.from(u, (c) => c.charCodeAt(0)); } };
  globalThis.TextDecoder = class { decode(b) { if (!b) return ""; const u = b instanceof Uint8Array ? b : new Uint8Array(b.buffer || b); let s = ""; for (let i = 0; i < u.length; i += 8192) s += String.fromCharCode(...u.subarray(i, i + 8192)); try { return decodeURIComponent(escape(s)); } catch (e) { return s; } } };
}

// ---- fetch (through the VM's network gateway: the host answers requests written to a device) --
class Headers {
  constructor(init) {
    this._h = [];
    if (init instanceof Headers) init = init._h;
    if (Array.isArray(init)) for (const [k, v] of init) this.append(k, v);
    else if (init && typeof init === "object") for (const k of Object.keys(init)) this.append(k, init[k]);
  }
  append(k, v) { this._h.push([String(k), String(v)]); }
  set(k, v) { this.delete(k); this.append(k, v); }
  delete(k) { const l = String(k).toLowerCase(); this._h = this._h.filter(([n]) => n.toLowerCase() !== l); }
  get(k) { const l = String(k).toLowerCase(); const v = this._h.filter(([n]) => n.toLowerCase() === l).map(([, x]) => x); return v.length ? v.join(", ") : null; }
  has(k) { return this.get(k) !== null; }
  forEach(fn, self) { for (const [k, v] of this.entries()) fn.call(self, v, k, this); }
  *entries() { const seen = new Map(); for (const [k] of this._h) { const l = k.toLowerCase(); if (!seen.has(l)) seen.set(l, this.get(l)); } yield* [...seen].sort(); }
  *keys() { for (const [k] of this.entries()) yield k; }
  *values() { for (const [, v] of this.entries()) yield v; }
  [Symbol.iterator]() { return this.entries(); }
}
class Response {
  constructor(body, init = {}) {
    this._body = body instanceof Uint8Array ? body : new TextEncoder().encode(body == null ? "" : String(body));
    this.status = init.status === undefined ? 200 : init.status;
    this.statusText = init.statusText || "";
    this.headers = init.headers instanceof Headers ? init.headers : new Headers(init.headers);
    this.url = init.url || "";
    this.redirected = !!init.redirected;
    this.ok = this.status >= 200 && this.status < 300;
    this.type = "basic";
    this.bodyUsed = false;
  }
  _take() { if (this.bodyUsed) throw new TypeError("Body is unusable: Body has already been read"); this.bodyUsed = true; return this._body; }
  async arrayBuffer() { const b = this._take(); return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength); }
  async bytes() { return new Uint8Array(await this.arrayBuffer()); }
  async text() { return new TextDecoder().decode(this._take()); }
  async json() { return JSON.parse(await this.text()); }
  clone() { return new Response(this._body.slice(), this); }
}
function bodyBytes(body) {
  if (body == null) return new Uint8Array(0);
  if (typeof body === "string") return new TextEncoder().encode(body);
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  return new TextEncoder().encode(String(body));
}
function fetchSync(input, init) {
  const url = typeof input === "string" ? input : (input && input.url) || String(input);
  const method = String(init.method || (input && input.method) || "GET").toUpperCase();
  const headers = new Headers(init.headers || (input && input.headers));
  if (typeof init.body === "string" && !headers.has("content-type")) headers.set("Content-Type", "text/plain;charset=UTF-8");
  const body = bodyBytes(init.body);
  const meta = { method, url, headers: headers._h, timeout: null,
                 follow: (init.redirect || "follow") === "follow", decode: true,
                 has_body: init.body != null };
  const head = new TextEncoder().encode("h" + JSON.stringify(meta) + "\n");
  const req = new Uint8Array(head.length + body.length);
  req.set(head, 0); req.set(body, head.length);
  const fd = os.open("/dev/pocketos-fetch", os.O_RDWR);
  if (fd < 0) throw new TypeError("fetch failed: the network door is not available");
  const chunks = [];
  let total = 0;
  try {
    if (req.length && os.write(fd, req.buffer, 0, req.length) !== req.length) throw new TypeError("fetch failed: write error");
    for (;;) {
      const buf = new ArrayBuffer(65536);
      const n = os.read(fd, buf, 0, 65536);
      if (n < 0) throw new TypeError("fetch failed: read error");
      if (n === 0) break;
      chunks.push(new Uint8Array(buf, 0, n));
      total += n;
    }
  } finally {
    os.close(fd);
  }
  const all = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) { all.set(c, off); off += c.length; }
  const nl = all.indexOf(10);
  const info = JSON.parse(new TextDecoder().decode(all.subarray(0, nl < 0 ? all.length : nl)));
  if (info.error !== undefined) {
    const e = new TypeError("fetch failed: " + info.error);
    e.cause = Object.assign(new Error(info.error), { code: info.kind });
    throw e;
  }
  return new Response(nl < 0 ? new Uint8Array(0) : all.slice(nl + 1),
    { status: info.status, statusText: info.reason, headers: info.headers, url: info.url, redirected: info.redirected });
}
globalThis.Headers = Headers;
globalThis.Response = Response;
globalThis.fetch = (input, init = {}) => Promise.resolve().then(() => fetchSync(input, init || {}));

// ---- run the program ------------------------------------------------------------------
try {
  if (mode === "eval") {
    std.evalScript(target, {});
  } else if (mode === "stdin") {
    const src = std.in.readAsString();
    std.evalScript(src.startsWith("#!") ? "//" + src : src, {});
  } else if (mode === "script") {
    runCommonJS(fs.readFileSync(target, "utf8"), path.resolve(target));
  } else {
    await import(path.resolve(target));
  }
  // settle: timers, and promise chains (a few rounds: the engine may run timers between jobs)
  for (let quiet = 0; quiet < 4; ) {
    if (live.size > 0) { quiet = 0; await new Promise((r) => { idleResolve = r; checkIdle(); }); }
    else { quiet++; await new Promise((r) => os.setTimeout(r, 0)); }
  }
} catch (e) {
  fatal(e);
}
exitNow(process.exitCode || 0);
