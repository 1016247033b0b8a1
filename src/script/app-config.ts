/**
 * Per-application settings from an application's own `Application.xml`, in the FMS/AMS format (FCS MX
 * "Configuring Flash Communication Server" p.47, FMS 3.0/3.5 and AMS 5 "Application.xml file" reference).
 *
 * Element names are case-sensitive in FMS; here any case is accepted. Unknown elements are ignored. A
 * server-wide Application.xml (`<appsDir>/Application.xml`, see AppDefaults) is the base every application
 * starts from; its `override="no"` elements cannot be changed by an application's own file. Empty elements count as absent, as the stock FMS files are full of them. `${NAME}` in a value is
 * replaced from `vars` (AMS substitutes its ams.ini variables this way); unknown names stay as written.
 *
 * Element placement and mapping (decisions marked "ours" are not from Adobe documentation):
 * - `config`: children of `JSEngine/ApplicationObject/config`, name -> trimmed text content (nested elements
 *   contribute their text). Exposed to scripts as `application.config`.
 * - `scriptMemoryMB`: `JSEngine/RuntimeSize` is in KB (FCS default 1024). An isolate needs far more than
 *   SpiderMonkey did, so memoryMB = max(32, ceil(KB / 1024)); absent or 0 -> 128 (ours).
 * - `scriptTimeoutSec`: `JSEngine/MaxTimeOut`, seconds one script event may run, 0 = no limit. FMS's default
 *   is 0; ours is 10 so a runaway loop cannot wedge an instance forever.
 * - `scriptLibPath`: `JSEngine/ScriptLibPath`, `;`-separated. `fileObjectVirtualDirs`:
 *   `JSEngine/FileObject/VirtualDirectory` (repeatable, `/virtual;physical`). `ScriptEngine` is accepted
 *   as another name for `JSEngine` (seen in AMS-era files).
 * - `loadOnStartup`: `LoadOnStartup` (also accepted under `Process`; the direct child wins). Default false.
 * - `maxAppIdleTimeSec`: `MaxAppIdleTime`; absent, 0 or negative -> undefined so the server default (FMS:
 *   1200 s) applies, matching FCS's "0 or less means the default".
 * - `streams`: `StreamManager/StorageDir`, `StreamManager/VirtualDirectory/Streams` (repeatable,
 *   `/prefix;dir`), and `MaxDuration`, `MaxDurationCap` (seconds), `MaxSize`, `MaxSizeCap` (KB),
 *   `DiskQuota` (MB, ours) read from `StreamManager/Recording/...` or directly under `StreamManager`; -1 means
 *   unlimited for all five.
 * - `sharedObjects`: `SharedObjManager/StorageDir`, `ResyncDepth` (integer >= -1), `AutoCommit`.
 * - `bandwidthDetection`: `Client/BandwidthDetection[@enabled]` with `MaxRate` (Kbps, -1 = unlimited),
 *   `DataSize` (bytes), `MaxWait` (seconds); defaults true, -1, 16384, 2 as in FMS 3.
 * - `bandwidth` / `bandwidthCap`: `Client/Bandwidth` and `Client/BandwidthCap`, each with
 *   `ClientToServer` (-> up) and `ServerToClient` (-> down) in bytes per second. `bandwidth` is the initial
 *   per-client limit, `bandwidthCap` the most a script may grant. Absent -> undefined (server decides).
 * - `allowDebugDefault`: `Debug/AllowDebugDefault` (or a direct child). Default false.
 * - `objectEncoding`: the default for server-side NetConnections. FMS 3 documents that it "can be set in
 *   Application.xml" without the element path in the sources read, so the first found of
 *   `JSEngine/NetConnection/ObjectEncoding`, `NetConnection/ObjectEncoding`, `Client/ObjectEncoding`,
 *   `ObjectEncoding` is used; values 0, 3, AMF0, AMF3. Default 3 (FMS 3: server-to-server NetConnections
 *   default to AMF3).
 * - `network` (ours: FMS had no such setting): `JSEngine/NetworkAccess` limits what scripts reach over the
 *   network (XML, LoadVars, WebService, Flash Remoting, XMLSocket): `Allow` (repeatable: `host`,
 *   `host:port`, `*.domain`, `*`; without any, every host may be reached, as on FMS), `Timeout` (seconds a
 *   request may take in all, default 30), `MaxResponseSize` (KB, default 16384), `MaxRedirects` (default 5).
 * Relative directories resolve against the folder holding Application.xml (the application folder).
 */
import { promises as fsp } from 'fs';
import * as path from 'path';
import { ConfigError, isSsasError } from '../errors';
import { XmlNode, childElements, parseXmlStrict, textContent } from '../util/xml';
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from '../net/http-client';

export interface VirtualDirectoryMapping {
  /** Normalised virtual prefix: leading `/`, no trailing `/` (the root mapping is `/`). */
  prefix: string;
  /** Absolute physical folder. */
  dir: string;
  /**
   * The virtual key the mapping is for (`<Streams key="A">`, or FMS 2's `A;prefix;dir`): it serves clients
   * whose `Client.virtualKey` is that key. Absent or "" serves every client that has no mapping of its own
   * for the same prefix.
   */
  key?: string;
}

export interface StreamsConfig {
  storageDir?: string;
  virtualDirectories: VirtualDirectoryMapping[];
  diskQuotaMB?: number;
  /** Seconds; -1 = unlimited. */
  maxDuration?: number;
  maxDurationCap?: number;
  /** Kilobytes; -1 = unlimited. */
  maxSize?: number;
  maxSizeCap?: number;
}

export interface SharedObjectsConfig {
  storageDir?: string;
  resyncDepth?: number;
  autoCommit?: boolean;
}

export interface BandwidthDetectionConfig {
  enabled: boolean;
  /** Kbps; -1 = as fast as needed. */
  maxRate: number;
  /** Bytes per burst step. */
  dataSize: number;
  /** Seconds. */
  maxWait: number;
}

/** Bytes per second; up = client to server, down = server to client. */
export interface BandwidthLimits {
  up?: number;
  down?: number;
}

export interface AppConfig {
  /** Absolute path of the Application.xml read, or null when defaults were used. */
  file: string | null;
  /** `application.config`: null-prototype map of strings. */
  config: Record<string, string>;
  scriptMemoryMB: number;
  /** 0 = no limit. */
  scriptTimeoutSec: number;
  scriptLibPath: string[];
  fileObjectVirtualDirs: VirtualDirectoryMapping[];
  loadOnStartup: boolean;
  maxAppIdleTimeSec?: number;
  streams: StreamsConfig;
  sharedObjects: SharedObjectsConfig;
  bandwidthDetection: BandwidthDetectionConfig;
  bandwidth: BandwidthLimits;
  bandwidthCap: BandwidthLimits;
  allowDebugDefault: boolean;
  objectEncoding: 0 | 3;
  /** What scripts may reach over the network, and the limits of each request. */
  network: HttpLimits;
}

export interface AppConfigOptions {
  /** Values for `${NAME}` substitution (AMS ams.ini style). */
  vars?: Record<string, string>;
  /** The server-wide (vhost-level) Application.xml this one overrides; see loadAppDefaults. */
  defaults?: AppDefaults;
}

/**
 * The server-wide Application.xml (`<appsDir>/Application.xml`, FMS's
 * `conf/_defaultRoot_/_defaultVHost_/Application.xml`): every application starts from its settings and its
 * own Application.xml overrides them element by element, except elements marked `override="no"` there
 * (and everything below them), which an application cannot change.
 */
export interface AppDefaults {
  config: AppConfig;
  /** Lower-case element paths ("application/jsengine/maxtimeout") locked with override="no". */
  locked: Set<string>;
}

export const APP_CONFIG_FILE = 'Application.xml';
const MAX_FILE_BYTES = 4 * 1024 * 1024;
const DEFAULT_MEMORY_MB = 128;
const MIN_MEMORY_MB = 32;
/** 4 GB in KB: more than any isolate should get. */
const MAX_RUNTIME_SIZE_KB = 4 * 1024 * 1024;

/** A deep copy (application.config stays a null-prototype map). */
function cloneAppConfig(c: AppConfig): AppConfig {
  return {
    ...c,
    config: Object.assign(Object.create(null) as Record<string, string>, c.config),
    scriptLibPath: [...c.scriptLibPath],
    fileObjectVirtualDirs: c.fileObjectVirtualDirs.map((m) => ({ ...m })),
    streams: { ...c.streams, virtualDirectories: c.streams.virtualDirectories.map((m) => ({ ...m })) },
    sharedObjects: { ...c.sharedObjects },
    bandwidthDetection: { ...c.bandwidthDetection },
    bandwidth: { ...c.bandwidth },
    bandwidthCap: { ...c.bandwidthCap },
    network: { ...c.network, allow: c.network.allow === null ? null : [...c.network.allow] },
  };
}

export function defaultAppConfig(): AppConfig {
  return {
    file: null,
    config: Object.create(null),
    scriptMemoryMB: DEFAULT_MEMORY_MB,
    scriptTimeoutSec: 10,
    scriptLibPath: [],
    fileObjectVirtualDirs: [],
    loadOnStartup: false,
    maxAppIdleTimeSec: undefined,
    streams: { virtualDirectories: [] },
    sharedObjects: {},
    bandwidthDetection: { enabled: true, maxRate: -1, dataSize: 16384, maxWait: 2 },
    bandwidth: {},
    bandwidthCap: {},
    allowDebugDefault: false,
    objectEncoding: 3,
    network: { ...DEFAULT_HTTP_LIMITS },
  };
}

/** Isolate memory for an FMS `RuntimeSize` in KB (see the module comment). */
export function runtimeSizeToMemoryMB(kb: number): number {
  if (kb <= 0) return DEFAULT_MEMORY_MB;
  return Math.max(MIN_MEMORY_MB, Math.ceil(kb / 1024));
}

/**
 * Case-insensitive, typed access to an FMS configuration tree (Application.xml, Vhost.xml); errors carry
 * `code` and name the file, element and value.
 */
export class ConfigReader {
  constructor(
    readonly file: string,
    readonly baseDir: string,
    readonly vars: Record<string, string>,
    readonly code: 'ERR_APP_CONFIG' | 'ERR_VHOST_CONFIG' = 'ERR_APP_CONFIG',
    /** Element paths an application may not set (override="no" in the server-wide file). */
    readonly locked: Set<string> = new Set(),
  ) {}

  /** All elements at `names` below `from` (any case), through every matching intermediate element. */
  all(from: XmlNode, names: string[]): XmlNode[] {
    let level = [from];
    for (const name of names) {
      const next: XmlNode[] = [];
      for (const node of level) next.push(...childElements(node, name, true));
      level = next;
    }
    return this.locked.size === 0 ? level : level.filter((el) => !this.isLocked(el));
  }

  /** Whether the element or one of its ancestors is locked. */
  isLocked(el: XmlNode): boolean {
    for (let cur: XmlNode | null = el; cur && cur.nodeName !== null; cur = cur.parentNode) {
      if (this.locked.has(elementPath(cur).toLowerCase())) return true;
    }
    return false;
  }

  /** The last element at `names` (a later duplicate overrides an earlier one), or undefined. */
  one(from: XmlNode, names: string[]): XmlNode | undefined {
    const found = this.all(from, names);
    return found[found.length - 1];
  }

  /** Trimmed, substituted text of the element; undefined when absent or empty. */
  text(el: XmlNode | undefined): string | undefined {
    if (!el) return undefined;
    const value = this.substitute(textContent(el).trim());
    return value === '' ? undefined : value;
  }

  substitute(value: string): string {
    if (value.indexOf('${') === -1) return value;
    return value.replace(/\$\{([^}]+)\}/g, (whole, name: string) =>
      Object.prototype.hasOwnProperty.call(this.vars, name) ? this.vars[name] : whole,
    );
  }

  fail(el: XmlNode, value: string, why: string): never {
    const element = elementPath(el);
    throw new ConfigError(this.code, `${this.file}: <${element}> ${why}, got "${value}"`, {
      file: this.file,
      element,
      value,
    });
  }

  number(el: XmlNode | undefined, min: number, max: number, integer: boolean): number | undefined {
    const raw = this.text(el);
    if (raw === undefined || !el) return undefined;
    const value = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
      this.fail(el, raw, `must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}]`);
    }
    return value;
  }

  boolean(raw: string | undefined, el: XmlNode): boolean | undefined {
    if (raw === undefined) return undefined;
    const v = raw.trim().toLowerCase();
    if (v === 'true' || v === 'yes' || v === 'on' || v === '1') return true;
    if (v === 'false' || v === 'no' || v === 'off' || v === '0') return false;
    return this.fail(el, raw, 'must be true or false');
  }

  dir(raw: string): string {
    return resolveConfigDir(this.baseDir, raw);
  }

  /**
   * `/virtual;physical` -> mapping, with the `key` attribute as its virtual key; FMS 2's
   * `key;virtual;physical` form too. Empty entries (common in stock files) -> undefined.
   */
  mapping(el: XmlNode): VirtualDirectoryMapping | undefined {
    const raw = this.text(el);
    if (raw === undefined) return undefined;
    const fields = raw.split(';');
    if (fields.length < 2 || fields.length > 3) this.fail(el, raw, 'must be "/prefix;physicalDir"');
    const keyAttr = Object.keys(el.attributes).find((k) => k.toLowerCase() === 'key');
    let key = keyAttr !== undefined ? el.attributes[keyAttr]!.trim() : '';
    if (fields.length === 3) key = fields.shift()!.trim();
    if (/[*:]/.test(key)) this.fail(el, raw, 'has a virtual key with "*" or ":"');
    const dirText = fields[1]!.trim();
    if (dirText === '') this.fail(el, raw, 'has no physical directory after ";"');
    const m: VirtualDirectoryMapping = { prefix: virtualPrefix(fields[0]!), dir: this.dir(dirText) };
    if (key !== '') m.key = key;
    return m;
  }
}

/** A folder named in a configuration: relative to `baseDir`; a Windows drive or UNC path is kept as written. */
export function resolveConfigDir(baseDir: string, raw: string): string {
  if (/^[A-Za-z]:[\\/]/.test(raw) || raw.startsWith('\\\\')) return raw;
  return path.resolve(baseDir, raw);
}

/** "foo\\bar/" -> "/foo/bar": the normalised prefix of a virtual directory ("/" for an empty one). */
export function virtualPrefix(raw: string): string {
  return '/' + raw.trim().replace(/\\/g, '/').split('/').filter((s) => s !== '').join('/');
}

function elementPath(el: XmlNode): string {
  const names: string[] = [];
  for (let cur: XmlNode | null = el; cur && cur.nodeName !== null; cur = cur.parentNode) names.push(cur.nodeName);
  return names.reverse().join('/');
}

/**
 * Parses Application.xml text. `file` names the file in errors and its folder is the base for relative
 * directories. Throws ConfigError ERR_XML_MALFORMED (with line/column) or ERR_APP_CONFIG.
 */
export function parseAppConfig(xmlText: string, file: string, opts: AppConfigOptions = {}): AppConfig {
  const doc = parseXmlStrict(xmlText, file, { keepComments: false });
  const root = childElements(doc)[0];
  if (!root.nodeName || root.nodeName.toLowerCase() !== 'application') {
    throw new ConfigError('ERR_APP_CONFIG', `${file}: root element must be <Application>, got <${root.nodeName}>`, {
      file,
      element: root.nodeName,
      value: root.nodeName,
    });
  }
  const absFile = path.resolve(file);
  const r = new ConfigReader(file, path.dirname(absFile), opts.vars ?? {}, 'ERR_APP_CONFIG', opts.defaults?.locked);
  const base = opts.defaults?.config;
  const cfg = base ? cloneAppConfig(base) : defaultAppConfig();
  cfg.file = absFile;
  // This file's folder mappings come before the server-wide ones (they win a tie in the lookup).
  const baseFileDirs = cfg.fileObjectVirtualDirs;
  const baseStreamDirs = cfg.streams.virtualDirectories;
  cfg.fileObjectVirtualDirs = [];
  cfg.streams.virtualDirectories = [];

  // JSEngine (or ScriptEngine) settings; a later container overrides an earlier one element by element.
  const engines = [...r.all(root, ['JSEngine']), ...r.all(root, ['ScriptEngine'])];
  const fromEngine = (names: string[]): XmlNode | undefined => {
    let found: XmlNode | undefined;
    for (const engine of engines) found = r.one(engine, names) ?? found;
    return found;
  };
  const allFromEngine = (names: string[]): XmlNode[] => engines.flatMap((e) => r.all(e, names));

  for (const item of allFromEngine(['ApplicationObject', 'config']).flatMap((c) => childElements(c))) {
    cfg.config[item.nodeName as string] = r.substitute(textContent(item).trim());
  }
  const runtimeSize = r.number(fromEngine(['RuntimeSize']), 0, MAX_RUNTIME_SIZE_KB, true);
  if (runtimeSize !== undefined) cfg.scriptMemoryMB = runtimeSizeToMemoryMB(runtimeSize);
  const timeout = r.number(fromEngine(['MaxTimeOut']), 0, 86_400, false);
  if (timeout !== undefined) cfg.scriptTimeoutSec = timeout;
  const libPath = r.text(fromEngine(['ScriptLibPath']));
  if (libPath !== undefined) {
    cfg.scriptLibPath = libPath
      .split(';')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map((s) => r.dir(s));
  }
  for (const el of allFromEngine(['FileObject', 'VirtualDirectory'])) {
    const m = r.mapping(el);
    if (m) cfg.fileObjectVirtualDirs.push(m);
  }

  const loadEl = r.one(root, ['LoadOnStartup']) ?? r.one(root, ['Process', 'LoadOnStartup']);
  if (loadEl) cfg.loadOnStartup = r.boolean(r.text(loadEl), loadEl) ?? false;
  const idle = r.number(r.one(root, ['MaxAppIdleTime']), -Number.MAX_SAFE_INTEGER, 31_536_000, false);
  if (idle !== undefined) cfg.maxAppIdleTimeSec = idle > 0 ? idle : undefined;

  // StreamManager
  const storage = r.text(r.one(root, ['StreamManager', 'StorageDir']));
  if (storage !== undefined) cfg.streams.storageDir = r.dir(storage);
  for (const el of r.all(root, ['StreamManager', 'VirtualDirectory', 'Streams'])) {
    const m = r.mapping(el);
    if (m) cfg.streams.virtualDirectories.push(m);
  }
  const recording = (name: string): number | undefined =>
    r.number(
      r.one(root, ['StreamManager', 'Recording', name]) ?? r.one(root, ['StreamManager', name]),
      -1,
      Number.MAX_SAFE_INTEGER,
      false,
    );
  setIfDefined(cfg.streams, 'maxDuration', recording('MaxDuration'));
  setIfDefined(cfg.streams, 'maxDurationCap', recording('MaxDurationCap'));
  setIfDefined(cfg.streams, 'maxSize', recording('MaxSize'));
  setIfDefined(cfg.streams, 'maxSizeCap', recording('MaxSizeCap'));
  setIfDefined(cfg.streams, 'diskQuotaMB', recording('DiskQuota'));

  // SharedObjManager
  const soStorage = r.text(r.one(root, ['SharedObjManager', 'StorageDir']));
  if (soStorage !== undefined) cfg.sharedObjects.storageDir = r.dir(soStorage);
  setIfDefined(
    cfg.sharedObjects,
    'resyncDepth',
    r.number(r.one(root, ['SharedObjManager', 'ResyncDepth']), -1, Number.MAX_SAFE_INTEGER, true),
  );
  const autoCommitEl = r.one(root, ['SharedObjManager', 'AutoCommit']);
  if (autoCommitEl) setIfDefined(cfg.sharedObjects, 'autoCommit', r.boolean(r.text(autoCommitEl), autoCommitEl));

  // Client
  const bwd = r.one(root, ['Client', 'BandwidthDetection']) ?? r.one(root, ['BandwidthDetection']);
  if (bwd) {
    const enabledAttr = Object.keys(bwd.attributes).find((k) => k.toLowerCase() === 'enabled');
    if (enabledAttr !== undefined) {
      const v = r.boolean(r.substitute(bwd.attributes[enabledAttr]), bwd);
      if (v !== undefined) cfg.bandwidthDetection.enabled = v;
    }
    const d = cfg.bandwidthDetection;
    d.maxRate = r.number(r.one(bwd, ['MaxRate']), -1, Number.MAX_SAFE_INTEGER, false) ?? d.maxRate;
    d.dataSize = r.number(r.one(bwd, ['DataSize']), 1, 64 * 1024 * 1024, true) ?? d.dataSize;
    d.maxWait = r.number(r.one(bwd, ['MaxWait']), 0, 3600, false) ?? d.maxWait;
  }
  const limits = (container: string, before: BandwidthLimits): BandwidthLimits => {
    const out: BandwidthLimits = { ...before };
    const el = r.one(root, ['Client', container]);
    if (!el) return out;
    setIfDefined(out, 'up', r.number(r.one(el, ['ClientToServer']), 0, Number.MAX_SAFE_INTEGER, true));
    setIfDefined(out, 'down', r.number(r.one(el, ['ServerToClient']), 0, Number.MAX_SAFE_INTEGER, true));
    return out;
  };
  cfg.bandwidth = limits('Bandwidth', cfg.bandwidth);
  cfg.bandwidthCap = limits('BandwidthCap', cfg.bandwidthCap);

  const debugEl = r.one(root, ['Debug', 'AllowDebugDefault']) ?? r.one(root, ['AllowDebugDefault']);
  if (debugEl) cfg.allowDebugDefault = r.boolean(r.text(debugEl), debugEl) ?? false;

  const encEl =
    fromEngine(['NetConnection', 'ObjectEncoding']) ??
    r.one(root, ['NetConnection', 'ObjectEncoding']) ??
    r.one(root, ['Client', 'ObjectEncoding']) ??
    r.one(root, ['ObjectEncoding']);
  const enc = r.text(encEl);
  if (enc !== undefined && encEl) {
    const v = enc.toUpperCase();
    if (v === '0' || v === 'AMF0') cfg.objectEncoding = 0;
    else if (v === '3' || v === 'AMF3') cfg.objectEncoding = 3;
    else r.fail(encEl, enc, 'must be 0, 3, AMF0 or AMF3');
  }
  const net = fromEngine(['NetworkAccess']) ?? r.one(root, ['NetworkAccess']);
  if (net) {
    const allow = r.all(net, ['Allow']).map((el) => r.text(el)).filter((v): v is string => v !== undefined);
    for (const el of r.all(net, ['Allow'])) {
      const v = r.text(el);
      if (v !== undefined && !/^(\*|\*\.[^\s:*]+|\[[0-9a-fA-F:.]+\]|[^\s:*\[\]]+)(:(\d{1,5}|\*))?$/.test(v)) r.fail(el, v, 'must be a host, host:port, *.domain or *');
    }
    if (allow.length > 0) cfg.network.allow = [...allow, ...(cfg.network.allow ?? [])];
    const timeout = r.number(r.one(net, ['Timeout']), 0.001, 86_400, false);
    if (timeout !== undefined) cfg.network.timeoutMs = Math.round(timeout * 1000);
    const size = r.number(r.one(net, ['MaxResponseSize']), 1, 4 * 1024 * 1024, true);
    if (size !== undefined) cfg.network.maxResponseBytes = size * 1024;
    const redirects = r.number(r.one(net, ['MaxRedirects']), 0, 100, true);
    if (redirects !== undefined) cfg.network.maxRedirects = redirects;
  }
  cfg.fileObjectVirtualDirs.push(...baseFileDirs);
  cfg.streams.virtualDirectories.push(...baseStreamDirs);
  return cfg;
}

/** Lower-case paths of the elements marked override="no" (any case) in a parsed configuration tree. */
function lockedPaths(root: XmlNode): Set<string> {
  const out = new Set<string>();
  const visit = (el: XmlNode): void => {
    const k = Object.keys(el.attributes).find((a) => a.toLowerCase() === 'override');
    if (k !== undefined && el.attributes[k]!.trim().toLowerCase() === 'no') out.add(elementPath(el).toLowerCase());
    for (const c of childElements(el)) visit(c);
  };
  visit(root);
  return out;
}

/**
 * Reads the server-wide Application.xml in `dir` (the applications folder); undefined when there is none.
 * Throws ConfigError like loadAppConfig.
 */
export async function loadAppDefaults(dir: string, opts: Omit<AppConfigOptions, 'defaults'> = {}): Promise<AppDefaults | undefined> {
  const found = await readConfigFile(dir, APP_CONFIG_FILE, 'ERR_APP_CONFIG');
  if (!found) return undefined;
  const config = parseAppConfig(found.text, found.file, opts);
  const doc = parseXmlStrict(found.text, found.file, { keepComments: false });
  return { config, locked: lockedPaths(childElements(doc)[0]!) };
}

function setIfDefined<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}

/** Finds `name` in `dir` (exact name first, then any case); null when there is none. */
async function findConfigFile(dir: string, name: string): Promise<string | null> {
  const exact = path.join(dir, name);
  try {
    if ((await fsp.stat(exact)).isFile()) return exact;
  } catch {
    // fall through to the case-insensitive scan
  }
  let entries: string[];
  try {
    entries = await fsp.readdir(dir);
  } catch {
    return null;
  }
  const want = name.toLowerCase();
  const match = entries.sort().find((e) => e.toLowerCase() === want);
  return match ? path.join(dir, match) : null;
}

/** Decodes UTF-8 (BOM dropped); bytes that are not valid UTF-8 are read as Latin-1, as old FMS files were. */
function decodeConfigBytes(buf: Buffer): string {
  let bytes = buf;
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

/**
 * The text of configuration file `name` in `dir` (any case), or null when there is none. An unreadable or
 * oversized file throws ConfigError with `code`.
 */
export async function readConfigFile(
  dir: string,
  name: string,
  code: ConfigReader['code'],
): Promise<{ file: string; text: string } | null> {
  const file = await findConfigFile(dir, name);
  if (file === null) return null;
  try {
    const st = await fsp.stat(file);
    if (st.size > MAX_FILE_BYTES) throw new ConfigError(code, `${file} is ${st.size} bytes (limit ${MAX_FILE_BYTES})`, { file, size: st.size });
    return { file, text: decodeConfigBytes(await fsp.readFile(file)) };
  } catch (err) {
    if (isSsasError(err)) throw err;
    const errno = (err as NodeJS.ErrnoException).code;
    if (errno === 'ENOENT') return null;
    throw new ConfigError(code, `cannot read ${file}: ${(err as Error).message}`, { file, code: errno }, { cause: err });
  }
}

/**
 * Reads `<appDir>/Application.xml`. A missing file gives `defaultAppConfig()`; an unreadable, oversized or
 * malformed one throws ConfigError (ERR_APP_CONFIG, or ERR_XML_MALFORMED with line and column).
 */
export async function loadAppConfig(appDir: string, opts: AppConfigOptions = {}): Promise<AppConfig> {
  const found = await readConfigFile(appDir, APP_CONFIG_FILE, 'ERR_APP_CONFIG');
  if (found) return parseAppConfig(found.text, found.file, opts);
  return opts.defaults ? cloneAppConfig(opts.defaults.config) : defaultAppConfig();
}
