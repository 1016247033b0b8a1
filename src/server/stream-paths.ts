/**
 * Where recorded streams live, as FMS laid them out: `<app>/streams/<instance>/<name>.<ext>`, the
 * `StreamManager/StorageDir` of Application.xml replacing `<app>/streams` (the instance folder is kept below
 * it), and `StreamManager/VirtualDirectory/Streams` mappings (`/prefix;physicalDir`) sending names that start
 * with a prefix to another folder (no instance folder there, as FMS mapped it).
 *
 * Names: `foo` and `flv:foo` are FLV files (`foo.flv`); `mp4:foo.f4v` / `mp4:foo.mp4` name the file exactly,
 * `mp4:foo` is `foo.mp4` when recording and any of foo, foo.mp4, foo.f4v, foo.m4v, foo.mov, foo.m4a when
 * playing; `mp3:song` and `id3:song` are `song.mp3`. Sub-folders are allowed; `..`, absolute paths, drive
 * letters and NUL are refused (ERR_STREAM_BAD_NAME).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SsasError } from '../errors';
import type { MediaFormat } from '../media';
import type { VirtualDirectoryMapping } from '../script/app-config';

export interface StreamLocation {
  /** The stream name as given (with its prefix). */
  name: string;
  /** Name without prefix or query string. */
  bare: string;
  prefix: 'flv' | 'mp4' | 'mp3' | 'id3';
  format: MediaFormat;
  /** Candidate files, best first; the first is where a recording goes. */
  candidates: string[];
  /** The folder recordings of this instance go to (for quotas and clearStreams). */
  root: string;
}

export interface StreamStorage {
  appDir: string;
  instanceName: string;
  storageDir?: string;
  /** The application's mappings first, then the server's (Vhost.xml); see locateStream for the lookup. */
  virtualDirectories: VirtualDirectoryMapping[];
  /** The virtual key of whoever asks (Client.virtualKey, the virtualKey argument of Stream.play/length). */
  virtualKey?: string;
}

const MP4_PLAY_EXTS = ['', '.mp4', '.f4v', '.m4v', '.mov', '.m4a', '.3gp'];

export class StreamNameError extends SsasError {}

/** The instance's own stream folder (`<app>/streams/<instance>` or `<StorageDir>/<instance>`). */
export function instanceStreamRoot(st: StreamStorage): string {
  const base = st.storageDir ? path.resolve(st.appDir, st.storageDir) : path.join(st.appDir, 'streams');
  return path.join(base, ...st.instanceName.split('/'));
}

export function parseStreamName(raw: string): { prefix: StreamLocation['prefix']; bare: string } {
  let name = raw;
  const q = name.indexOf('?');
  if (q >= 0) name = name.slice(0, q);
  let prefix: StreamLocation['prefix'] = 'flv';
  const m = /^(flv|mp4|mp3|id3|f4v):/i.exec(name);
  if (m) {
    const p = m[1]!.toLowerCase();
    prefix = p === 'f4v' ? 'mp4' : (p as StreamLocation['prefix']);
    name = name.slice(m[0].length);
  }
  return { prefix, bare: name };
}

function checkBare(raw: string, bare: string): string[] {
  const cleaned = bare.replace(/\\/g, '/');
  if (cleaned === '' || cleaned.includes('\0') || cleaned.startsWith('/') || /^[a-z]:/i.test(cleaned)) {
    throw new StreamNameError('ERR_STREAM_BAD_NAME', `invalid stream name "${raw}"`);
  }
  const parts = cleaned.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0 || parts.includes('..')) throw new StreamNameError('ERR_STREAM_BAD_NAME', `invalid stream name "${raw}"`);
  return parts;
}

/** Resolves a stream name to its file location(s). Throws ERR_STREAM_BAD_NAME for names that escape. */
export function locateStream(st: StreamStorage, raw: string, forWrite = false): StreamLocation {
  const { prefix, bare } = parseStreamName(raw);
  const parts = checkBare(raw, bare);
  const root = instanceStreamRoot(st);
  let dir = root;
  let rel = parts;
  const v = virtualDirectoryFor(st, parts);
  if (v) {
    dir = path.resolve(st.appDir, v.mapping.dir);
    rel = parts.slice(v.depth);
  }
  const base = path.join(dir, ...rel);
  let candidates: string[];
  let format: MediaFormat;
  if (prefix === 'mp4') {
    format = 'mp4';
    const hasExt = /\.[a-z0-9]{2,4}$/i.test(base);
    candidates = forWrite ? [hasExt ? base : `${base}.mp4`] : hasExt ? [base] : MP4_PLAY_EXTS.map((e) => base + e);
  } else if (prefix === 'mp3' || prefix === 'id3') {
    format = 'mp3';
    candidates = /\.mp3$/i.test(base) ? [base] : [`${base}.mp3`];
  } else {
    format = 'flv';
    candidates = /\.flv$/i.test(base) ? [base] : [`${base}.flv`];
  }
  return { name: raw, bare, prefix, format, candidates, root };
}

/**
 * The virtual directory a stream name falls in, as FMS looked it up: the longest matching prefix first
 * ("foo/bar/x" tries "foo/bar", then "foo"); for one prefix, the mapping of the asker's virtual key before a
 * mapping without a key; mappings of other keys never apply. Prefixes compare without regard to case.
 */
function virtualDirectoryFor(st: StreamStorage, parts: string[]): { mapping: VirtualDirectoryMapping; depth: number } | null {
  const key = st.virtualKey ?? '';
  let best: { mapping: VirtualDirectoryMapping; depth: number; exact: boolean } | null = null;
  for (const m of st.virtualDirectories) {
    const mk = m.key ?? '';
    if (mk !== '' && mk !== key) continue;
    const vp = m.prefix.replace(/^\/+|\/+$/g, '').split('/').filter((p) => p !== '');
    if (vp.length === 0 || vp.length >= parts.length) continue;
    if (!vp.every((p, i) => p.toLowerCase() === parts[i]!.toLowerCase())) continue;
    const exact = mk !== '';
    if (!best || vp.length > best.depth || (vp.length === best.depth && exact && !best.exact)) best = { mapping: m, depth: vp.length, exact };
  }
  return best;
}

/** The existing file of a stream, or null. */
export function findStreamFile(loc: StreamLocation): string | null {
  for (const c of loc.candidates) {
    try {
      if (fs.statSync(c).isFile()) return c;
    } catch {
      // try the next candidate
    }
  }
  return null;
}

/** Calls `visit` for every file below `dir` (missing or unreadable folders count as empty). */
function walkFiles(dir: string, visit: (file: string, name: string) => void): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walkFiles(p, visit);
    else if (e.isFile()) visit(p, e.name);
  }
}

/** Bytes used by recordings under a folder (for DiskQuota). */
export function folderBytes(dir: string): number {
  let total = 0;
  walkFiles(dir, (file) => {
    try {
      total += fs.statSync(file).size;
    } catch {
      // vanished meanwhile
    }
  });
  return total;
}

function wildcardRegExp(pattern: string): RegExp {
  const esc = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${esc}$`, 'i');
}

const EXT_BY_PREFIX: Record<string, string[]> = {
  flv: ['.flv'],
  mp4: ['.mp4', '.f4v', '.m4v', '.mov', '.m4a', '.3gp', ''],
  mp3: ['.mp3'],
  id3: ['.mp3'],
};

/**
 * application.clearStreams(path): deletes recorded files of the instance. "/" clears everything; "/a/b"
 * the stream b in a (FLV unless a prefix such as "mp4:/a/b.f4v" or "mp3:/a/*" selects another type);
 * "/a/*" everything in a; `?` and `*` wildcards in the last element. Returns true when every match was
 * deleted (and false when nothing matched a wildcard-free name).
 */
export function clearRecordedStreams(st: StreamStorage, raw: string): boolean {
  const root = instanceStreamRoot(st);
  let pattern = raw.trim();
  let prefix: string | null = null;
  const m = /^(flv|mp4|mp3|id3|f4v):/i.exec(pattern);
  if (m) {
    prefix = m[1]!.toLowerCase() === 'f4v' ? 'mp4' : m[1]!.toLowerCase();
    pattern = pattern.slice(m[0].length);
  }
  const parts = pattern.replace(/\\/g, '/').split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return false;
  let ok = true;
  const remove = (file: string): void => {
    try {
      fs.rmSync(file, { force: true });
      fs.rmSync(`${file}.idx`, { force: true });
    } catch {
      ok = false;
    }
  };
  const removeTree = (dir: string, filter: (name: string) => boolean): void =>
    walkFiles(dir, (file, name) => {
      if (filter(name)) remove(file);
    });
  const typeFilter = (name: string): boolean => {
    if (name.endsWith('.idx')) return false;
    if (!prefix) return true;
    const ext = path.extname(name).toLowerCase();
    return EXT_BY_PREFIX[prefix]!.includes(ext);
  };
  if (parts.length === 0) {
    removeTree(root, typeFilter);
    return ok;
  }
  const last = parts[parts.length - 1]!;
  const dir = path.join(root, ...parts.slice(0, -1));
  if (last === '*' || /[*?]/.test(last)) {
    const re = wildcardRegExp(last);
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return true;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      const stem = e.name.replace(/\.[^.]*$/, '');
      if (e.isDirectory()) {
        if (last === '*') removeTree(p, typeFilter);
        continue;
      }
      if ((re.test(e.name) || re.test(stem)) && typeFilter(e.name)) remove(p);
    }
    return ok;
  }
  // A single stream: its file in the requested format (FLV by default).
  const loc = locateStream(st, `${prefix ?? 'flv'}:${parts.join('/')}`);
  const file = findStreamFile(loc);
  if (!file) {
    // A folder of that name: FMS deletes nothing for "/foo/bar" when bar is a folder.
    return false;
  }
  remove(file);
  return ok;
}
