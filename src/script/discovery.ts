/**
 * Finding an application's scripts the way FMS does, reading them, and resolving `load()` paths.
 *
 * Main script search order, first match wins (Adobe TechNote 16518 "Server-side ActionScript Naming and
 * Search Path"): scripts/main.asc, main.asc, scripts/main.js, main.js, scripts/<app>.asc, <app>.asc,
 * scripts/<app>.js, <app>.js. `secure.asc` (scripts/ first, then the app folder) runs before it. An exact
 * file name wins; failing that a name differing only in case is accepted, since most legacy apps were
 * written on Windows.
 *
 * Not runnable here: `.ase` files (SpiderMonkey bytecode from the FMS `far -compile` tool) and `main.far` /
 * `<app>.far` archives (FMS 2 "Developing Media Applications", archiving and compiling server-side script
 * files). FMS reads a FAR before the plain folder; we use a plain script when there is one (logging that the
 * archive is ignored) and only fail when the archive or bytecode is all there is.
 *
 * `load(path)`: relative paths only, no `..` (O'Reilly "Programming Flash Communication Server" 4.7.2),
 * looked up relative to the loading script's folder first, then (our leniency, for main scripts under
 * scripts/) the application folder, then each scriptlib folder in order.
 */
import { promises as fsp } from 'fs';
import * as path from 'path';
import { ConfigError, ScriptError } from '../errors';
import { getLogger } from '../logger';

const log = getLogger('script:discovery');

export interface AppScripts {
  /** Absolute path of the main script, or null when the application has none (a script-less app). */
  main: string | null;
  /** Absolute path of secure.asc when present. */
  secure: string | null;
}

/** Largest script file we read (bytes). */
export const MAX_SCRIPT_BYTES = 32 * 1024 * 1024;

interface DirListing {
  dir: string;
  names: string[];
}

async function listDir(dir: string): Promise<DirListing | null> {
  try {
    return { dir, names: (await fsp.readdir(dir)).sort() };
  } catch {
    return null;
  }
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isFile();
  } catch {
    return false;
  }
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** A file named `name` in the listing: exact name first, then any case. */
async function pickFile(listing: DirListing | null, name: string): Promise<string | null> {
  if (!listing) return null;
  if (listing.names.includes(name)) {
    const p = path.join(listing.dir, name);
    if (await isFile(p)) return p;
  }
  const lower = name.toLowerCase();
  for (const entry of listing.names) {
    if (entry !== name && entry.toLowerCase() === lower) {
      const p = path.join(listing.dir, entry);
      if (await isFile(p)) return p;
    }
  }
  return null;
}

/** The app's `scripts` sub-folder (any case), or null. */
async function scriptsDir(app: DirListing): Promise<DirListing | null> {
  const exact = app.names.includes('scripts') ? ['scripts'] : [];
  const candidates = exact.concat(app.names.filter((n) => n !== 'scripts' && n.toLowerCase() === 'scripts'));
  for (const name of candidates) {
    const p = path.join(app.dir, name);
    if (await isDir(p)) return listDir(p);
  }
  return null;
}

function isPlainName(name: string): boolean {
  return name.length > 0 && name !== '.' && name !== '..' && !/[\\/\0]/.test(name);
}

/**
 * Finds the main script and secure.asc of the application in `appDir` (`appName` is the folder's app
 * name, used for the `<app>.asc` candidates). Throws ScriptError ERR_SCRIPT_FAR_UNSUPPORTED or
 * ERR_SCRIPT_COMPILED_UNSUPPORTED when only an archive or bytecode exists, ConfigError ERR_APP_DIR_NOT_FOUND
 * when `appDir` is not a folder.
 */
export async function findAppScripts(appDir: string, appName: string): Promise<AppScripts> {
  const root = path.resolve(appDir);
  const app = (await isDir(root)) ? await listDir(root) : null;
  if (!app) {
    throw new ConfigError('ERR_APP_DIR_NOT_FOUND', `application folder ${root} does not exist`, { appDir: root });
  }
  const scripts = await scriptsDir(app);
  const baseNames = isPlainName(appName) ? ['main', appName] : ['main'];

  let main: string | null = null;
  search: for (const base of baseNames) {
    for (const ext of ['.asc', '.js']) {
      for (const listing of [scripts, app]) {
        main = await pickFile(listing, base + ext);
        if (main) break search;
      }
    }
  }
  const secure = (await pickFile(scripts, 'secure.asc')) ?? (await pickFile(app, 'secure.asc'));
  if (!secure) {
    // Skipping a compiled secure script would silently drop the app's access checks: refuse instead.
    for (const listing of [scripts, app]) {
      const ase = await pickFile(listing, 'secure.ase');
      if (ase) throw compiledUnsupported(ase);
    }
  }

  const archives: string[] = [];
  for (const base of baseNames) {
    const far = await pickFile(app, base + '.far');
    if (far) archives.push(far);
  }
  if (main) {
    if (archives.length > 0) {
      log.warn(`${archives.join(', ')} ignored (FAR archives are not supported); using ${main}`);
    }
    return { main, secure };
  }
  if (archives.length > 0) {
    throw new ScriptError(
      'ERR_SCRIPT_FAR_UNSUPPORTED',
      `${archives[0]} is an FMS script archive (FAR), which ssas cannot run: unzip it into the application folder`,
      { file: archives[0] },
    );
  }
  for (const base of baseNames) {
    for (const listing of [scripts, app]) {
      const ase = await pickFile(listing, base + '.ase');
      if (ase) throw compiledUnsupported(ase);
    }
  }
  return { main: null, secure };
}

function compiledUnsupported(file: string): ScriptError {
  return new ScriptError(
    'ERR_SCRIPT_COMPILED_UNSUPPORTED',
    `${file} is precompiled SpiderMonkey bytecode (.ase), which ssas cannot run: supply the .asc source`,
    { file },
  );
}

/**
 * Decodes script bytes: UTF-8 with or without BOM, UTF-16 with a BOM; bytes that are not valid UTF-8 are
 * read as Latin-1 (FMS only required UTF-8 for double-byte text, so single-byte Western files exist).
 * CRLF and lone CR become LF, which keeps every line number.
 */
export function decodeScriptBytes(buf: Buffer | Uint8Array): string {
  const bytes = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let text: string;
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    text = new TextDecoder('utf-8').decode(bytes.subarray(3));
  } else if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) {
    text = new TextDecoder('utf-16le').decode(bytes.subarray(2));
  } else if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) {
    text = new TextDecoder('utf-16be').decode(bytes.subarray(2));
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      text = bytes.toString('latin1');
    }
  }
  return text.replace(/\r\n?/g, '\n');
}

/**
 * Reads a script file (see decodeScriptBytes). Throws ScriptError ERR_SCRIPT_NOT_FOUND, ERR_SCRIPT_TOO_LARGE
 * or ERR_SCRIPT_READ.
 */
export async function readScriptSource(file: string): Promise<string> {
  let buf: Buffer;
  try {
    const st = await fsp.stat(file);
    if (!st.isFile()) throw Object.assign(new Error(`${file} is not a file`), { code: 'EISDIR' });
    if (st.size > MAX_SCRIPT_BYTES) {
      throw new ScriptError('ERR_SCRIPT_TOO_LARGE', `${file} is ${st.size} bytes (limit ${MAX_SCRIPT_BYTES})`, {
        file,
        size: st.size,
      });
    }
    buf = await fsp.readFile(file);
  } catch (err) {
    if (err instanceof ScriptError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new ScriptError('ERR_SCRIPT_NOT_FOUND', `script ${file} not found`, { file, searched: [file] });
    }
    const message = `cannot read script ${file}: ${(err as Error).message}`;
    throw new ScriptError('ERR_SCRIPT_READ', message, { file, code }, { cause: err });
  }
  return decodeScriptBytes(buf);
}

/** A file at `segments` below `base`: exact path first, then matching each segment in any case. */
async function findBelow(base: string, segments: string[]): Promise<string | null> {
  const exact = path.join(base, ...segments);
  if (await isFile(exact)) return exact;
  let cur = base;
  for (let k = 0; k < segments.length; k++) {
    const listing = await listDir(cur);
    if (!listing) return null;
    const want = segments[k];
    const lower = want.toLowerCase();
    const match = listing.names.includes(want) ? want : listing.names.find((n) => n.toLowerCase() === lower);
    if (match === undefined) return null;
    cur = path.join(cur, match);
  }
  return (await isFile(cur)) ? cur : null;
}

export interface ResolveLoadOptions {
  /** The application folder, searched after `baseDir` when it differs (e.g. a main script under scripts/). */
  appDir?: string;
}

/**
 * Resolves the path given to `load()`. `baseDir` is the folder of the script calling load (normally the
 * main script's folder). Absolute paths, `..` components and NUL characters are refused with ScriptError
 * ERR_SCRIPT_LOAD_DENIED; backslashes count as `/`. Search order: `baseDir`, `opts.appDir`, then each of
 * `scriptLibPaths` (FAR entries skipped). Not found: ScriptError ERR_SCRIPT_NOT_FOUND listing every path tried.
 */
export async function resolveLoadPath(
  baseDir: string,
  requested: string,
  scriptLibPaths: string[],
  opts: ResolveLoadOptions = {},
): Promise<string> {
  const deny = (why: string): never => {
    const message = `load(${JSON.stringify(requested)}) refused: ${why}`;
    throw new ScriptError('ERR_SCRIPT_LOAD_DENIED', message, { requested });
  };
  if (typeof requested !== 'string' || requested.trim() === '') deny('empty path');
  if (requested.includes('\0')) deny('NUL character in path');
  const normalised = requested.trim().replace(/\\/g, '/');
  if (normalised.startsWith('/') || /^[A-Za-z]:/.test(normalised) || /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(normalised)) {
    deny('absolute paths are not allowed');
  }
  const segments = normalised.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) deny('".." is not allowed');
  if (segments.length === 0) deny('empty path');

  const bases: string[] = [path.resolve(baseDir)];
  if (opts.appDir !== undefined) bases.push(path.resolve(opts.appDir));
  for (const lib of scriptLibPaths) {
    if (lib.trim() === '' || lib.toLowerCase().endsWith('.far')) continue;
    bases.push(path.resolve(lib));
  }
  const searched: string[] = [];
  for (const base of bases) {
    const candidate = path.join(base, ...segments);
    if (searched.includes(candidate)) continue;
    searched.push(candidate);
    const found = await findBelow(base, segments);
    if (found) return found;
  }
  const hint = isFmsScriptLib(segments) ? FMS_SCRIPTLIB_HINT : '';
  throw new ScriptError(
    'ERR_SCRIPT_NOT_FOUND',
    `load(${JSON.stringify(requested)}): not found; searched ${searched.join(', ')}${hint}`,
    { requested, searched },
  );
}

/**
 * ssas's own scriptlib (sandbox/scriptlib): netservices.asc, components.asc, framework.asc and the
 * communication components, written for ssas from the documented APIs. Searched by load() after every
 * other folder, so an FMS scriptlib named with --scriptlib (Adobe's files) wins.
 */
export const BUNDLED_SCRIPTLIB = path.join(__dirname, '..', '..', 'sandbox', 'scriptlib');

/**
 * Files of the scriptlib folder FMS installed (the communication components framework, Flash Remoting's
 * netservices, the web services helpers). They are Adobe's; ssas does not ship them.
 */
const FMS_SCRIPTLIB_FILES = new Set([
  'components.asc',
  'framework.asc',
  'application.asc',
  'facade.asc',
  'netservices.asc',
  'netdebug.asc',
  'recordset.asc',
  'dataglue.asc',
  'webservices.asc',
  'flashcom.asc',
]);

function isFmsScriptLib(segments: string[]): boolean {
  const first = segments[0]!.toLowerCase();
  return FMS_SCRIPTLIB_FILES.has(segments[segments.length - 1]!.toLowerCase()) || first === 'components' || first === 'webservices';
}

const FMS_SCRIPTLIB_HINT =
  '. This file belongs to the scriptlib folder of an FMS installation, which ssas does not ship: copy that' +
  ' folder from your FMS server and name it with `ssas serve --scriptlib DIR` or Application.xml' +
  ' JSEngine/ScriptLibPath';
