/**
 * Persistent server shared objects on disk, laid out as FMS did: `<app>/sharedobjects/<instance>/<name>.fso`
 * (ssas-api.md section 5), with `SharedObjManager/StorageDir` of Application.xml replacing
 * `<app>/sharedobjects` (the instance folder stays below it, as for streams). A name with '/' lives in sub
 * folders. FMS's own .fso layout is undocumented, so the format below is ours.
 *
 * Writes are atomic: the bytes go to a temporary file in the same folder (`.<name>.fso.<pid>.<n>.tmp`), which
 * is fsync'ed, renamed over the old file, and then the folder is fsync'ed. A process killed at any moment
 * leaves either the old or the new file (plus possibly a stray .tmp file, which nothing reads). A file that
 * does not check out is reported with ERR_SO_CORRUPT and moved aside to `<name>.fso.corrupt`, never deleted.
 *
 * .fso format, revision 1 (all integers big-endian):
 *
 *   offset   size  field
 *   0        8     magic "SSASFSO1"
 *   8        4     version of the shared object (u32, as on the wire)
 *   12       4     slot count C
 *   16       8     saved at: ms since the epoch (f64; informative)
 *   24       4     slot section length N in bytes
 *   28       2     flags: bit 0 "final", the object was unloaded after this save and no later version of it
 *                  was handed out (so a client's version tells which state it has; see shared-objects.ts)
 *   30       2     name length L
 *   32       L     the object's name, UTF-8 (informative: the path names the object)
 *   32+L     N     C slot records
 *   32+L+N   4     CRC-32 (IEEE 802.3, as zlib and PNG) of every byte before it
 *
 *   The file is exactly 36+L+N bytes long: a torn or extended file fails the length or CRC check.
 *
 *   slot record:
 *     u8   value encoding: 3 = one AMF3 value, 0 = one AMF0 value (AMF3-only parts behind 0x11)
 *     u32  key length K, then K bytes of UTF-8
 *     u32  value length V, then V bytes: exactly one value with its own reference tables
 *
 * Values are stored as AMF3, which carries every type of the value model (typed objects with sealed members,
 * dates, arrays with named members, nested objects, ByteArray, XMLDocument, E4X XML, vectors, dictionaries).
 * What AMF3 cannot say is "this object is an AMF0 ECMA array" (AS2 clients send associative arrays that way
 * and expect them back as arrays) and "this member's name is empty" (the empty name ends AMF3's dynamic
 * members). A value holding either anywhere is stored as AMF0 instead, with the 0x11 switch for any AMF3-only
 * part. The AMF0 Date time-zone field is not kept in AMF3 slots (it is informative).
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import {
  Amf0Reader,
  Amf3Reader,
  AmfDictionary,
  AmfVector,
  encodeAmf0With,
  encodeAmf3,
  isEcmaArray,
  type AmfValue,
} from '../amf';
import { SsasError, isSsasError } from '../errors';

export class SharedObjectError extends SsasError {}

export interface SharedObjectData {
  version: number;
  slots: ReadonlyMap<string, AmfValue>;
  /** Written as the object is unloaded: no later version exists (header flag bit 0). */
  final?: boolean;
}

export interface StoredSharedObject {
  version: number;
  slots: Map<string, AmfValue>;
  /** When the file was written (ms since the epoch). */
  savedAt: number;
  /** The name recorded in the file. */
  name: string;
  final: boolean;
}

export const FSO_MAGIC = Buffer.from('SSASFSO1', 'latin1');
const FIXED_HEADER = 32;
const FLAG_FINAL = 1;
const TRAILER = 4;
const ENC_AMF0 = 0;
const ENC_AMF3 = 3;

// ------------------------------------------------------------------------------------------------- paths

export interface SharedObjectStorage {
  appDir: string;
  instanceName: string;
  /** SharedObjManager/StorageDir (absolute, or relative to the application folder). */
  storageDir?: string;
}

/** The instance's shared object folder: `<app>/sharedobjects/<instance>` or `<StorageDir>/<instance>`. */
export function instanceSharedObjectRoot(st: SharedObjectStorage): string {
  const base = st.storageDir ? path.resolve(st.appDir, st.storageDir) : path.join(st.appDir, 'sharedobjects');
  return path.join(base, ...st.instanceName.split('/').filter((s) => s !== ''));
}

function badName(name: string, why: string): SharedObjectError {
  return new SharedObjectError('ERR_SO_BAD_NAME', `shared object name ${JSON.stringify(name)} ${why}`, { name });
}

function checkSegment(seg: string, name: string): void {
  if (seg === '') throw badName(name, 'has an empty path element');
  if (seg === '.' || seg === '..') throw badName(name, 'has a relative path element');
  if (/[\\:\0]/.test(seg)) throw badName(name, 'has a character not allowed in file names');
}

/** The name's path elements: leading slashes dropped; empty, '.', '..', '\\', ':' and NUL refused. */
export function sharedObjectPathSegments(name: string): string[] {
  const bare = name.replace(/^\/+/, '');
  if (bare === '') throw badName(name, 'is empty');
  const segs = bare.split('/');
  for (const s of segs) checkSegment(s, name);
  return segs;
}

/** `<root>/<name>.fso`; throws ERR_SO_BAD_NAME for names that would leave the folder. */
export function sharedObjectFile(root: string, name: string): string {
  const segs = sharedObjectPathSegments(name);
  segs[segs.length - 1] += '.fso';
  return path.join(root, ...segs);
}

// ------------------------------------------------------------------------------------------------- format

const CRC_TABLE: Uint32Array | null = typeof (zlib as { crc32?: unknown }).crc32 === 'function' ? null : makeCrcTable();

function makeCrcTable(): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}

export function crc32(buf: Buffer): number {
  if (CRC_TABLE === null) return (zlib as unknown as { crc32(b: Buffer): number }).crc32(buf) >>> 0;
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * True when the value holds something only AMF0 can say: an ECMA-array-marked object, or an object member
 * with an empty name (AMF3 ends a dynamic member list with the empty name). Cycles are fine.
 */
function needsAmf0(v: AmfValue, seen = new Set<object>()): boolean {
  if (typeof v !== 'object' || v === null || v instanceof Date || v instanceof Uint8Array) return false;
  if (seen.has(v)) return false;
  seen.add(v);
  if (v instanceof AmfVector) return v.items.some((i) => needsAmf0(i, seen));
  if (v instanceof AmfDictionary) {
    for (const [k, x] of v.entries) if (needsAmf0(k, seen) || needsAmf0(x, seen)) return true;
    return false;
  }
  if (isEcmaArray(v)) return true;
  for (const k of Object.keys(v)) {
    if (k === '' && !Array.isArray(v)) return true;
    if (needsAmf0((v as Record<string, AmfValue>)[k], seen)) return true;
  }
  return false;
}

/** Serializes a shared object into the .fso format (see the file comment). */
export function encodeFso(name: string, data: SharedObjectData, savedAt = Date.now()): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  if (nameBytes.length > 0xffff) throw badName(name, 'is too long');
  const parts: Buffer[] = [];
  let slotBytes = 0;
  for (const [key, value] of data.slots) {
    const amf0 = needsAmf0(value);
    const v = amf0 ? encodeAmf0With({ avmplus: true }, [value]) : encodeAmf3(value);
    const k = Buffer.from(key, 'utf8');
    const head = Buffer.allocUnsafe(5);
    head[0] = amf0 ? ENC_AMF0 : ENC_AMF3;
    head.writeUInt32BE(k.length, 1);
    const vlen = Buffer.allocUnsafe(4);
    vlen.writeUInt32BE(v.length, 0);
    parts.push(head, k, vlen, v);
    slotBytes += 9 + k.length + v.length;
  }
  if (slotBytes > 0xffffffff) {
    throw new SharedObjectError('ERR_SO_TOO_LARGE', `shared object ${name} needs ${slotBytes} bytes`, { name, size: slotBytes });
  }
  const header = Buffer.alloc(FIXED_HEADER + nameBytes.length);
  FSO_MAGIC.copy(header, 0);
  header.writeUInt32BE(Math.trunc(data.version) >>> 0, 8);
  header.writeUInt32BE(data.slots.size, 12);
  header.writeDoubleBE(savedAt, 16);
  header.writeUInt32BE(slotBytes, 24);
  header.writeUInt16BE(data.final === true ? FLAG_FINAL : 0, 28);
  header.writeUInt16BE(nameBytes.length, 30);
  nameBytes.copy(header, FIXED_HEADER);
  const out = Buffer.allocUnsafe(header.length + slotBytes + TRAILER);
  let off = header.copy(out, 0);
  for (const p of parts) off += p.copy(out, off);
  out.writeUInt32BE(crc32(out.subarray(0, off)), off);
  return out;
}

function corrupt(reason: string, details: Record<string, unknown> = {}, cause?: unknown): SharedObjectError {
  return new SharedObjectError('ERR_SO_CORRUPT', `shared object file is corrupt: ${reason}`, { reason, ...details }, { cause });
}

/** Parses an .fso file; anything that does not check out is ERR_SO_CORRUPT. */
export function decodeFso(buf: Buffer): StoredSharedObject {
  if (buf.length < FIXED_HEADER + TRAILER) throw corrupt('too short', { size: buf.length });
  if (!buf.subarray(0, 8).equals(FSO_MAGIC)) throw corrupt('bad magic');
  const version = buf.readUInt32BE(8);
  const count = buf.readUInt32BE(12);
  const savedAt = buf.readDoubleBE(16);
  const slotBytes = buf.readUInt32BE(24);
  const flags = buf.readUInt16BE(28);
  const nameLen = buf.readUInt16BE(30);
  const bodyStart = FIXED_HEADER + nameLen;
  const expected = bodyStart + slotBytes + TRAILER;
  if (buf.length !== expected) throw corrupt(`length ${buf.length}, header says ${expected}`, { size: buf.length, expected });
  const crcAt = bodyStart + slotBytes;
  if (crc32(buf.subarray(0, crcAt)) !== buf.readUInt32BE(crcAt)) throw corrupt('checksum mismatch');
  const name = buf.toString('utf8', FIXED_HEADER, bodyStart);
  const slots = new Map<string, AmfValue>();
  let off = bodyStart;
  for (let i = 0; i < count; i++) {
    if (crcAt - off < 9) throw corrupt(`slot ${i} truncated`);
    const enc = buf[off];
    const klen = buf.readUInt32BE(off + 1);
    off += 5;
    if (klen > crcAt - off - 4) throw corrupt(`slot ${i} key overruns the file`);
    const key = buf.toString('utf8', off, off + klen);
    off += klen;
    const vlen = buf.readUInt32BE(off);
    off += 4;
    if (vlen > crcAt - off) throw corrupt(`slot ${i} value overruns the file`);
    const vbuf = buf.subarray(off, off + vlen);
    off += vlen;
    let value: AmfValue;
    try {
      if (enc === ENC_AMF3) {
        const r = new Amf3Reader(vbuf);
        value = r.readValue();
        if (!r.atEnd()) throw corrupt(`slot ${i} has bytes after its value`);
      } else if (enc === ENC_AMF0) {
        const r = new Amf0Reader(vbuf);
        value = r.readValue();
        if (!r.atEnd()) throw corrupt(`slot ${i} has bytes after its value`);
      } else {
        throw corrupt(`slot ${i} has unknown encoding ${enc}`);
      }
    } catch (e) {
      if (isSsasError(e) && e.code === 'ERR_SO_CORRUPT') throw e;
      throw corrupt(`slot ${i} (${key}) does not decode: ${(e as Error).message}`, { key }, e);
    }
    slots.set(key, value);
  }
  if (off !== crcAt) throw corrupt('slot section length does not match its slots');
  return { version, slots, savedAt, name, final: (flags & FLAG_FINAL) !== 0 };
}

// ------------------------------------------------------------------------------------------------- I/O

let tmpCounter = 0;

function tmpFileFor(file: string): string {
  tmpCounter = (tmpCounter + 1) % 0x7fffffff;
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${tmpCounter}.tmp`);
}

function ioError(op: string, file: string, err: unknown): SharedObjectError {
  if (isSsasError(err)) return err as SharedObjectError;
  const e = err as NodeJS.ErrnoException;
  return new SharedObjectError('ERR_SO_IO', `${op} ${file}: ${e?.message ?? String(err)}`, { file, errno: e?.code }, { cause: err });
}

/** Makes a rename durable: fsync the folder (not possible on Windows, where renames are journaled anyway). */
function fsyncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // EISDIR/EPERM on platforms that cannot fsync a directory.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

async function fsyncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch {
    // as above
  } finally {
    await fh?.close();
  }
}

export interface SaveOptions {
  /**
   * Checked just before the rename, in the same tick as the rename itself: returning false abandons this save
   * (a newer one already landed).
   */
  shouldCommit?: () => boolean;
  savedAt?: number;
}

/** Writes `<root>/<name>.fso` atomically. Resolves true when the file was replaced. */
export async function saveSharedObject(root: string, name: string, data: SharedObjectData, opts: SaveOptions = {}): Promise<boolean> {
  const file = sharedObjectFile(root, name);
  const bytes = encodeFso(name, data, opts.savedAt);
  const dir = path.dirname(file);
  const tmp = tmpFileFor(file);
  try {
    const created = await fsp.mkdir(dir, { recursive: true });
    if (created !== undefined) await fsyncDir(path.dirname(created));
    const fh = await fsp.open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (opts.shouldCommit && !opts.shouldCommit()) {
      await fsp.unlink(tmp).catch(() => undefined);
      return false;
    }
    // Synchronous, so nothing (a synchronous save of newer data) can run between the check and the rename.
    fs.renameSync(tmp, file);
    await fsyncDir(dir);
    return true;
  } catch (err) {
    await fsp.unlink(tmp).catch(() => undefined);
    throw ioError('saving', file, err);
  }
}

/** Synchronous saveSharedObject (SharedObject.flush/commit answer with a Boolean at once). */
export function saveSharedObjectSync(root: string, name: string, data: SharedObjectData, opts: { savedAt?: number } = {}): void {
  const file = sharedObjectFile(root, name);
  const bytes = encodeFso(name, data, opts.savedAt);
  const dir = path.dirname(file);
  const tmp = tmpFileFor(file);
  try {
    const created = fs.mkdirSync(dir, { recursive: true });
    if (created !== undefined) fsyncDirSync(path.dirname(created));
    const fd = fs.openSync(tmp, 'w', 0o644);
    try {
      fs.writeFileSync(fd, bytes);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    fsyncDirSync(dir);
  } catch (err) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // it may never have been created
    }
    throw ioError('saving', file, err);
  }
}

function decodeOrQuarantine(file: string, bytes: Buffer): StoredSharedObject {
  try {
    return decodeFso(bytes);
  } catch (err) {
    const movedTo = `${file}.corrupt`;
    let moved = true;
    try {
      fs.renameSync(file, movedTo);
    } catch {
      moved = false;
    }
    const e = isSsasError(err) ? err : corrupt(String(err));
    throw new SharedObjectError(
      'ERR_SO_CORRUPT',
      `${e.message} (${file}${moved ? `, moved to ${movedTo}` : ''})`,
      { ...(e.details ?? {}), file, movedTo: moved ? movedTo : undefined },
      { cause: err },
    );
  }
}

/**
 * Reads `<root>/<name>.fso`: null when there is none; ERR_SO_CORRUPT (after moving the file aside to
 * `.fso.corrupt`) when it does not check out; ERR_SO_IO when it cannot be read.
 */
export function loadSharedObjectSync(root: string, name: string): StoredSharedObject | null {
  const file = sharedObjectFile(root, name);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw ioError('reading', file, err);
  }
  return decodeOrQuarantine(file, bytes);
}

export async function loadSharedObject(root: string, name: string): Promise<StoredSharedObject | null> {
  const file = sharedObjectFile(root, name);
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw ioError('reading', file, err);
  }
  return decodeOrQuarantine(file, bytes);
}

// ------------------------------------------------------------------------------------------------- patterns

/**
 * An application.clearSharedObjects path (ssas-api.md 2.2):
 *   "/"             every shared object of the instance
 *   "/foo/bar"      the object foo/bar (nothing when bar is only a folder)
 *   "/foo/bar/*"    everything under the folder foo/bar, sub folders included
 *   "/foo/b?r*"     names in folder foo matching the wildcards ('?' one character, '*' any run)
 * Wildcards are allowed in the last element only. Returns null for a path that breaks these rules.
 */
export type SoPattern =
  | { kind: 'all' }
  | { kind: 'exact'; name: string }
  | { kind: 'under'; dir: string }
  | { kind: 'glob'; dir: string; re: RegExp };

export function parseSoPattern(pattern: string): SoPattern | null {
  const bare = pattern.replace(/^\/+/, '').replace(/\/+$/, '');
  if (bare === '') return { kind: 'all' };
  const segs = bare.split('/');
  const last = segs.pop()!;
  try {
    for (const s of segs) {
      if (/[*?]/.test(s)) return null;
      checkSegment(s, pattern);
    }
    if (last === '*') return segs.length === 0 ? { kind: 'all' } : { kind: 'under', dir: segs.join('/') };
    if (/[*?]/.test(last)) {
      if (/[\\:\0]/.test(last)) return null;
      const src = last.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
      return { kind: 'glob', dir: segs.join('/'), re: new RegExp(`^${src}$`, 's') };
    }
    checkSegment(last, pattern);
  } catch {
    return null;
  }
  return { kind: 'exact', name: [...segs, last].join('/') };
}

/** Whether a shared object name (leading slashes ignored) is selected by a parsed pattern. */
export function soPatternMatches(p: SoPattern, name: string): boolean {
  const n = name.replace(/^\/+/, '');
  switch (p.kind) {
    case 'all':
      return true;
    case 'exact':
      return n === p.name;
    case 'under':
      return n.startsWith(`${p.dir}/`);
    case 'glob': {
      const slash = n.lastIndexOf('/');
      const dir = slash < 0 ? '' : n.slice(0, slash);
      return dir === p.dir && p.re.test(n.slice(slash + 1));
    }
  }
}

function isFsoFile(entry: string): boolean {
  return entry.endsWith('.fso') && !entry.startsWith('.');
}

/** Deletes .fso files under `dir` (recursively), stray temp files too; empties folders. Returns failures. */
function deleteTree(dir: string, removeSelf: boolean): number {
  let failures = 0;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 0 : 1;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) failures += deleteTree(p, true);
    else if (isFsoFile(e.name) || (e.name.startsWith('.') && e.name.endsWith('.tmp'))) {
      try {
        fs.unlinkSync(p);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') failures++;
      }
    }
  }
  if (removeSelf) {
    try {
      fs.rmdirSync(dir);
    } catch {
      // not empty (.corrupt files, foreign files) or gone: fine
    }
  }
  return failures;
}

/**
 * application.clearSharedObjects on disk: deletes the .fso files `pattern` selects (see parseSoPattern).
 * True when every selected file was deleted (also when none was selected); false when a deletion failed or
 * the pattern is invalid. Files moved aside as .corrupt are kept.
 */
export function deleteSharedObjects(root: string, pattern: string): boolean {
  const p = parseSoPattern(pattern);
  if (p === null) return false;
  switch (p.kind) {
    case 'all':
      return deleteTree(root, false) === 0;
    case 'under':
      return deleteTree(path.join(root, ...p.dir.split('/')), true) === 0;
    case 'exact': {
      try {
        fs.unlinkSync(sharedObjectFile(root, p.name));
        return true;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        return code === 'ENOENT' || code === 'ENOTDIR';
      }
    }
    case 'glob': {
      const dir = path.join(root, ...(p.dir === '' ? [] : p.dir.split('/')));
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch {
        return true;
      }
      let ok = true;
      for (const e of entries) {
        if (!e.isFile() || !isFsoFile(e.name) || !p.re.test(e.name.slice(0, -4))) continue;
        try {
          fs.unlinkSync(path.join(dir, e.name));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') ok = false;
        }
      }
      return ok;
    }
  }
}

/** Names of every stored shared object of the instance ('/'-separated), sorted. */
export function listSharedObjects(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, prefix: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) walk(path.join(dir, e.name), `${prefix}${e.name}/`);
      else if (e.isFile() && isFsoFile(e.name)) out.push(prefix + e.name.slice(0, -4));
    }
  };
  walk(root, '');
  return out.sort();
}
