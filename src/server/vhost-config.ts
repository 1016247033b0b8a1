/**
 * The parts of an FMS `Vhost.xml` that ssas reads, from `<appsDir>/Vhost.xml` (FMS kept it in
 * `conf/_defaultRoot_/_defaultVHost_/`; copy it next to the applications):
 *
 * - `VirtualKeys/Key from="WIN 8,0,0,0" to="WIN 9,0,59,0"` with the key as text: a client whose connect
 *   `flashVer` has that platform and a version in [from, to] gets that `Client.virtualKey`; the first
 *   matching Key wins; no match leaves the key "" (FMS "applies a default setting"). Versions compare number
 *   by number (missing numbers are 0), platforms without regard to case.
 * - `VirtualDirectory/Streams` (repeatable; `key` attribute or FMS 2's `key;prefix;dir`): stream folders
 *   for every application of the server, consulted after the application's own
 *   `StreamManager/VirtualDirectory` mappings (see stream-paths.ts for the lookup).
 *
 * - `ResourceLimits/MaxAppInstances`: how many application instances may be loaded at once; a connect that
 *   would load one more is rejected (NetConnection.Connect.Rejected) until one unloads.
 * - `ResourceLimits/MaxConnections`: client connections at once (-1: the server's own setting); more are
 *   closed as they arrive.
 *
 * Anything else in the file is ignored. A malformed file throws ConfigError ERR_VHOST_CONFIG (or
 * ERR_XML_MALFORMED with line and column); `ssas serve` refuses to start on it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors';
import {
  ConfigReader,
  loadAppDefaults,
  readConfigFile,
  resolveConfigDir,
  virtualPrefix,
  type AppDefaults,
  type VirtualDirectoryMapping,
} from '../script/app-config';
import { childElements, parseXmlStrict, type XmlNode } from '../util/xml';

export const VHOST_CONFIG_FILE = 'Vhost.xml';

export interface VirtualKeyRange {
  platform: string;
  from: number[];
  to: number[];
  key: string;
}

export interface VhostConfig {
  file?: string;
  virtualKeys: VirtualKeyRange[];
  virtualDirectories: VirtualDirectoryMapping[];
  /** `<appsDir>/Application.xml`, the settings every application starts from (see AppDefaults). */
  appDefaults?: AppDefaults;
  /** `ResourceLimits/MaxAppInstances`: application instances loaded at once (absent: the server's setting). */
  maxAppInstances?: number;
  /** `ResourceLimits/MaxConnections`: client connections at once (absent: the server's setting). */
  maxConnections?: number;
  /**
   * Mappings scripts made with Stream.setVirtualPath, by application name: each applies to the
   * application that made it (every instance of it), before its Application.xml and the server's mappings.
   */
  scriptMappings: Map<string, VirtualDirectoryMapping[]>;
  /** Folders besides the mapped ones that setVirtualPath may map to (`ssas serve --virtual-path-roots`). */
  extraRoots: string[];
}

export function defaultVhostConfig(): VhostConfig {
  return { virtualKeys: [], virtualDirectories: [], scriptMappings: new Map(), extraRoots: [] };
}

/** "WIN 10,0,32,18" -> platform WIN, version [10, 0, 32, 18]; null when it is not of that form. */
export function parseFlashVersion(text: string): { platform: string; version: number[] } | null {
  const m = /^\s*([A-Za-z]+)\s+(\d+(?:,\d+){0,3})\s*$/.exec(text);
  if (!m) return null;
  return { platform: m[1]!.toUpperCase(), version: m[2]!.split(',').map(Number) };
}

function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < 4; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The virtual key for a client's `flashVer` (the first range holding it), or "". */
export function virtualKeyFor(cfg: VhostConfig, agent: string): string {
  if (cfg.virtualKeys.length === 0) return '';
  const v = parseFlashVersion(agent);
  if (!v) return '';
  for (const r of cfg.virtualKeys) {
    if (r.platform === v.platform && compareVersions(v.version, r.from) >= 0 && compareVersions(v.version, r.to) <= 0) return r.key;
  }
  return '';
}

/** Parses Vhost.xml text; `file` names it in errors and its folder is the base for relative folders. */
export function parseVhostConfig(xmlText: string, file: string): VhostConfig {
  const doc = parseXmlStrict(xmlText, file, { keepComments: false });
  const root = childElements(doc)[0];
  if (!root?.nodeName || root.nodeName.toLowerCase() !== 'virtualhost') {
    throw new ConfigError('ERR_VHOST_CONFIG', `${file}: root element must be <VirtualHost>, got <${root?.nodeName ?? ''}>`, {
      file,
      element: root?.nodeName ?? null,
    });
  }
  const absFile = path.resolve(file);
  const r = new ConfigReader(file, path.dirname(absFile), {}, 'ERR_VHOST_CONFIG');
  const cfg = defaultVhostConfig();
  cfg.file = absFile;
  for (const el of r.all(root, ['VirtualKeys', 'Key'])) {
    const key = r.text(el);
    if (key === undefined) continue; // the stock file's empty Keys
    if (/[*:]/.test(key)) r.fail(el, key, 'is a virtual key with "*" or ":"');
    const from = parseFlashVersion(attr(el, 'from'));
    const to = parseFlashVersion(attr(el, 'to'));
    if (!from || !to) return r.fail(el, `from="${attr(el, 'from')}" to="${attr(el, 'to')}"`, 'needs from and to like "WIN 8,0,0,0"');
    if (from.platform !== to.platform) return r.fail(el, `${attr(el, 'from')} / ${attr(el, 'to')}`, 'has from and to on different platforms');
    cfg.virtualKeys.push({ platform: from.platform, from: from.version, to: to.version, key });
  }
  for (const el of r.all(root, ['VirtualDirectory', 'Streams'])) {
    const m = r.mapping(el);
    if (m) cfg.virtualDirectories.push(m);
  }
  const maxInstances = r.number(r.one(root, ['ResourceLimits', 'MaxAppInstances']), 1, 1_000_000, true);
  if (maxInstances !== undefined) cfg.maxAppInstances = maxInstances;
  const maxConnections = r.number(r.one(root, ['ResourceLimits', 'MaxConnections']), -1, 10_000_000, true);
  if (maxConnections !== undefined && maxConnections > 0) cfg.maxConnections = maxConnections; // FMS: -1 = no limit
  return cfg;
}

/** Who calls setVirtualPath from a script: its application, and the folders it may map to. */
export interface VirtualPathScope {
  app: string;
  /** The application's folder, the folders the operator mapped (Vhost.xml, Application.xml), --virtual-path-roots. */
  roots: string[];
}

/** `dir` is inside one of `roots`, symbolic links followed as far as the path exists. */
export function insideRoots(dir: string, roots: string[]): boolean {
  const real = realpathOfExisting(path.resolve(dir));
  return roots.some((r) => {
    const rel = path.relative(realpathOfExisting(path.resolve(r)), real);
    return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
  });
}

/** The real path of the longest existing ancestor of `p`, with the rest of `p` after it. */
function realpathOfExisting(p: string): string {
  const tail: string[] = [];
  let cur = p;
  for (;;) {
    try {
      return path.join(fs.realpathSync(cur), ...tail.reverse());
    } catch {
      const up = path.dirname(cur);
      if (up === cur) return p;
      tail.push(path.basename(cur));
      cur = up;
    }
  }
}

/**
 * Stream.setVirtualPath(virtualPath, directory, virtualKey): sets the mapping of `virtualPath` for `key`
 * (replacing the one there was), or removes it when `directory` is empty. A relative directory is relative
 * to the calling application's folder. With a `scope` (a script's call) the mapping is the calling
 * application's own (cfg.scriptMappings) and the directory must lie inside the scope's roots; without one
 * the server-wide list is changed (Vhost.xml's). Returns false for a path that is empty, a key with "*" or
 * ":", or a directory outside the roots (ERR_VIRTUAL_PATH_OUTSIDE is logged by the caller).
 */
export function setVirtualPath(cfg: VhostConfig, virtualPath: string, directory: string, key: string, baseDir: string, scope?: VirtualPathScope): boolean {
  const prefix = virtualPrefix(virtualPath);
  if (prefix === '/' || /[*:]/.test(key)) return false;
  const dir = directory.trim();
  const resolved = dir === '' ? '' : resolveConfigDir(baseDir, dir);
  if (scope && resolved !== '' && !insideRoots(resolved, scope.roots)) return false;
  const same = (m: VirtualDirectoryMapping): boolean => m.prefix.toLowerCase() === prefix.toLowerCase() && (m.key ?? '') === key;
  let list = scope ? (cfg.scriptMappings.get(scope.app) ?? []) : cfg.virtualDirectories;
  list = list.filter((m) => !same(m));
  if (resolved !== '') {
    const m: VirtualDirectoryMapping = { prefix, dir: resolved };
    if (key !== '') m.key = key;
    list.push(m);
  }
  if (scope) {
    if (list.length > 0) cfg.scriptMappings.set(scope.app, list);
    else cfg.scriptMappings.delete(scope.app);
  } else cfg.virtualDirectories = list;
  return true;
}

function attr(el: XmlNode, name: string): string {
  const k = Object.keys(el.attributes).find((a) => a.toLowerCase() === name);
  return k === undefined ? '' : el.attributes[k]!;
}

/**
 * Reads `<dir>/Vhost.xml` (any case; none -> the defaults) and the server-wide `<dir>/Application.xml`.
 * Throws ConfigError on a bad file.
 */
export async function loadVhostConfig(dir: string): Promise<VhostConfig> {
  const found = await readConfigFile(dir, VHOST_CONFIG_FILE, 'ERR_VHOST_CONFIG');
  const cfg = found ? parseVhostConfig(found.text, found.file) : defaultVhostConfig();
  const defaults = await loadAppDefaults(dir);
  if (defaults) cfg.appDefaults = defaults;
  return cfg;
}
