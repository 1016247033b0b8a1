/**
 * The host side of the SSAS File class (FMS 2 Server-Side ActionScript Language Reference, File class;
 * ssas-api.md 8): paths confined to the application folder and the virtual directories of Application.xml
 * `JSEngine/FileObject/VirtualDirectory`, and open files whose reads and writes run asynchronously, one
 * after another per file (a script's writes are fire-and-forget ops, its reads wait on the isolate's thread,
 * never on the event loop).
 *
 * Confinement, as FMS enforced it and then some: a path uses `/` only ("/" is the application folder;
 * relative paths are relative to it too); a backslash, a `.` or `..` component, a NUL, a drive letter or URL,
 * a %-encoded `.`, `/`, `\` or NUL, a component over 255 characters or a path over 4096 are refused
 * (ERR_FILE_PATH_DENIED) before anything touches the disk. The longest matching virtual directory prefix
 * maps a path to its folder; anything else lands below the application folder. Then the real path (symlinks
 * resolved) of the file, or of its nearest existing ancestor for a file to be created, must still be inside
 * that folder (ERR_FILE_OUTSIDE), and files are opened with O_NOFOLLOW. The roots themselves cannot be
 * removed or renamed (ERR_FILE_ROOT). Recursive removal (fs.rm) deletes symlinks, never what they point to.
 */
import { constants as fsc, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { SsasError } from '../errors';
import type { VirtualDirectoryMapping } from '../script/app-config';

/** A File operation the server refused or the file system failed; `code` is stable. */
export class FileError extends SsasError {}

export type FileErrorCode =
  | 'ERR_FILE_PATH_DENIED'
  | 'ERR_FILE_OUTSIDE'
  | 'ERR_FILE_ROOT'
  | 'ERR_FILE_NOT_FOUND'
  | 'ERR_FILE_EXISTS'
  | 'ERR_FILE_NOT_OPEN'
  | 'ERR_FILE_MODE'
  | 'ERR_FILE_READ_ONLY'
  | 'ERR_FILE_TOO_MANY_OPEN'
  | 'ERR_FILE_IO';

const MAX_PATH = 4096;
const MAX_COMPONENT = 255;

export interface FileRoots {
  /** The application folder ("/"). */
  appDir: string;
  /** FileObject virtual directories, longest prefix first is decided here. */
  virtualDirs: VirtualDirectoryMapping[];
  /** Why nothing may be written (the bundled samples), or undefined. */
  readOnly?: string;
}

export interface ResolvedPath {
  /** The path as scripts see it: "/" or "/a/b". */
  virtual: string;
  /** The folder this path is confined to (the application folder or a virtual directory). */
  root: string;
  /** The file on disk. */
  physical: string;
  /** True for the root of its folder ("/", or exactly a virtual directory prefix). */
  isRoot: boolean;
}

function denied(requested: string, why: string): never {
  throw new FileError('ERR_FILE_PATH_DENIED', `File path ${JSON.stringify(requested.slice(0, 200))} refused: ${why}`, { path: requested.slice(0, 200) });
}

/** Lexical checks and mapping of a script's path; nothing touches the disk. Throws FileError. */
export function resolveFilePath(roots: FileRoots, requested: unknown): ResolvedPath {
  const p = String(requested ?? '');
  if (p.length > MAX_PATH) denied(p, `longer than ${MAX_PATH} characters`);
  if (p.includes('\0')) denied(p, 'NUL character');
  if (p.includes('\\')) denied(p, 'backslash (use / as the separator)');
  if (/^[A-Za-z]:/.test(p) || /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(p)) denied(p, 'native paths and URLs are not allowed');
  if (/%(2e|2f|5c|00)/i.test(p)) denied(p, 'encoded ".", "/", "\\" or NUL');
  const parts = p.split('/').filter((s) => s !== '');
  if (parts.length > 0 && /^[A-Za-z][A-Za-z0-9+.-]*:$/.test(parts[0]!)) denied(p, 'native paths and URLs are not allowed');
  for (const part of parts) {
    if (part === '.' || part === '..') denied(p, `"${part}" components are not allowed`);
    if (part.length > MAX_COMPONENT) denied(p, `a component longer than ${MAX_COMPONENT} characters`);
  }
  const virtual = '/' + parts.join('/');
  let best: VirtualDirectoryMapping | undefined;
  for (const m of roots.virtualDirs) {
    if (m.prefix === '/' || virtual === m.prefix || virtual.startsWith(m.prefix + '/')) {
      if (!best || m.prefix.length > best.prefix.length) best = m;
    }
  }
  if (best && best.prefix !== '/') {
    const rest = virtual === best.prefix ? [] : virtual.slice(best.prefix.length + 1).split('/');
    return { virtual, root: path.resolve(best.dir), physical: path.join(path.resolve(best.dir), ...rest), isRoot: rest.length === 0 };
  }
  const root = path.resolve(best ? best.dir : roots.appDir);
  return { virtual, root, physical: path.join(root, ...parts), isRoot: parts.length === 0 };
}

function inside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

/**
 * The real path of `r.physical` (or of its nearest existing ancestor, with the rest appended) checked to be
 * inside the real root. Throws FileError ERR_FILE_OUTSIDE.
 */
export async function confine(r: ResolvedPath): Promise<string> {
  let realRoot: string;
  try {
    realRoot = await fsp.realpath(r.root);
  } catch {
    realRoot = r.root;
  }
  let cur = r.physical;
  const tail: string[] = [];
  for (;;) {
    try {
      const real = await fsp.realpath(cur);
      const full = tail.length > 0 ? path.join(real, ...tail.reverse()) : real;
      if (!inside(realRoot, full)) {
        throw new FileError('ERR_FILE_OUTSIDE', `File path ${r.virtual} leads outside its folder (a symbolic link)`, { path: r.virtual });
      }
      return full;
    } catch (err) {
      if (err instanceof FileError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw ioError(err, r.virtual);
      const parent = path.dirname(cur);
      if (parent === cur) throw ioError(err, r.virtual);
      tail.push(path.basename(cur));
      cur = parent;
    }
  }
}

export function ioError(err: unknown, virtual: string): FileError {
  const e = err as NodeJS.ErrnoException;
  if (e instanceof FileError) return e;
  if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return new FileError('ERR_FILE_NOT_FOUND', `${virtual}: no such file or directory`, { path: virtual });
  if (e.code === 'EEXIST' || e.code === 'ENOTEMPTY') return new FileError('ERR_FILE_EXISTS', `${virtual}: already exists${e.code === 'ENOTEMPTY' ? ' (directory not empty)' : ''}`, { path: virtual });
  if (e.code === 'ELOOP') return new FileError('ERR_FILE_OUTSIDE', `${virtual}: is a symbolic link`, { path: virtual });
  return new FileError('ERR_FILE_IO', `${virtual}: ${e.message}`, { path: virtual, errno: e.code });
}

export interface FileInfo {
  exists: boolean;
  isFile: boolean;
  isDirectory: boolean;
  /** Bytes of a file, entries of a directory. */
  length: number;
  creationTime: Date | null;
  lastModified: Date | null;
  canRead: boolean;
  canWrite: boolean;
}

export async function fileInfo(real: string, readOnly: boolean): Promise<FileInfo> {
  try {
    const st = await fsp.stat(real);
    let length = st.size;
    if (st.isDirectory()) length = (await fsp.readdir(real)).length;
    const canRead = await fsp.access(real, fsc.R_OK).then(() => true, () => false);
    const canWrite = !readOnly && (await fsp.access(real, fsc.W_OK).then(() => true, () => false));
    return { exists: true, isFile: st.isFile(), isDirectory: st.isDirectory(), length, creationTime: st.birthtime, lastModified: st.mtime, canRead, canWrite };
  } catch {
    return { exists: false, isFile: false, isDirectory: false, length: 0, creationTime: null, lastModified: null, canRead: false, canWrite: false };
  }
}

/** Parsed open() mode: "read", "write", "readWrite", "append", "create", combinable with spaces. */
export interface OpenMode {
  read: boolean;
  write: boolean;
  append: boolean;
  create: boolean;
}

export function parseOpenMode(mode: unknown): OpenMode | null {
  const words = String(mode ?? '').trim().split(/\s+/).filter((w) => w !== '');
  if (words.length === 0) return null;
  const m: OpenMode = { read: false, write: false, append: false, create: false };
  for (const w of words) {
    switch (w.toLowerCase()) {
      case 'read':
        m.read = true;
        break;
      case 'write':
        m.write = true;
        break;
      case 'readwrite':
        m.read = m.write = true;
        break;
      case 'append':
        m.append = true;
        break;
      case 'create':
        m.create = true;
        break;
      default:
        return null;
    }
  }
  return m;
}

/**
 * An open file: one operation at a time, in the order the script made them (writes are queued ops, reads
 * and flushes wait for the writes before them).
 */
export class OpenFile {
  readonly id: number;
  readonly virtual: string;
  readonly mode: OpenMode;
  #fh: fsp.FileHandle;
  #chain: Promise<unknown> = Promise.resolve();
  /** A write that failed since the last flush (reported to the script; flush() then returns false). */
  failed: FileError | null = null;
  #closed = false;

  private constructor(id: number, virtual: string, mode: OpenMode, fh: fsp.FileHandle) {
    this.id = id;
    this.virtual = virtual;
    this.mode = mode;
    this.#fh = fh;
  }

  /**
   * Opens `real` with the mode's semantics (ours where FMS left them open): read and readWrite need the
   * file to exist unless create is given; write and append create it when missing; create empties an
   * existing file; append writes always go to the end.
   */
  static async open(id: number, real: string, virtual: string, mode: OpenMode, readOnly: string | undefined): Promise<OpenFile> {
    const writes = mode.write || mode.append || mode.create;
    if (writes && readOnly) throw new FileError('ERR_FILE_READ_ONLY', `${virtual}: ${readOnly}`, { path: virtual });
    let flags = 0;
    if (mode.read && writes) flags |= fsc.O_RDWR;
    else if (writes) flags |= fsc.O_WRONLY;
    else flags |= fsc.O_RDONLY;
    if (mode.create || (!mode.read && (mode.write || mode.append))) flags |= fsc.O_CREAT;
    if (mode.create) flags |= fsc.O_TRUNC;
    if (mode.append) flags |= fsc.O_APPEND;
    flags |= fsc.O_NOFOLLOW;
    try {
      const st = await fsp.stat(real).catch(() => null);
      if (st && st.isDirectory()) throw new FileError('ERR_FILE_MODE', `${virtual} is a directory`, { path: virtual });
      const fh = await fsp.open(real, flags, 0o644);
      return new OpenFile(id, virtual, mode, fh);
    } catch (err) {
      throw ioError(err, virtual);
    }
  }

  #run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(fn, fn);
    this.#chain = next.catch(() => undefined);
    return next;
  }

  async length(): Promise<number> {
    return this.#run(async () => (await this.#fh.stat()).size);
  }

  read(position: number, n: number): Promise<Buffer> {
    return this.#run(async () => {
      if (this.#closed) throw new FileError('ERR_FILE_NOT_OPEN', `${this.virtual} is not open`);
      if (!this.mode.read) throw new FileError('ERR_FILE_MODE', `${this.virtual} was not opened for reading`);
      const buf = Buffer.allocUnsafe(Math.max(0, Math.min(n, 16 * 1024 * 1024)));
      try {
        const { bytesRead } = await this.#fh.read(buf, 0, buf.length, position);
        return buf.subarray(0, bytesRead);
      } catch (err) {
        throw ioError(err, this.virtual);
      }
    });
  }

  /** Queues a write at `position` (ignored in append mode); a failure is kept for the next flush. */
  write(position: number, data: Buffer, onError: (err: FileError) => void): void {
    void this.#run(async () => {
      if (this.#closed) return;
      if (!(this.mode.write || this.mode.append || this.mode.create)) {
        const e = new FileError('ERR_FILE_MODE', `${this.virtual} was not opened for writing`);
        this.failed = e;
        onError(e);
        return;
      }
      try {
        let off = 0;
        while (off < data.length) {
          const { bytesWritten } = await this.#fh.write(data, off, data.length - off, this.mode.append ? null : position + off);
          off += bytesWritten;
        }
      } catch (err) {
        const e = ioError(err, this.virtual);
        this.failed = e;
        onError(e);
      }
    });
  }

  /** Waits for the writes queued so far; false when one of them failed. */
  flush(): Promise<boolean> {
    return this.#run(async () => {
      const ok = this.failed === null;
      this.failed = null;
      return ok;
    });
  }

  truncate(length: number): Promise<void> {
    return this.#run(async () => {
      await this.#fh.truncate(length).catch((err) => {
        throw ioError(err, this.virtual);
      });
    });
  }

  /** Closes after the queued operations; idempotent. */
  close(): Promise<boolean> {
    return this.#run(async () => {
      if (this.#closed) return true;
      this.#closed = true;
      const ok = this.failed === null;
      await this.#fh.close().catch(() => undefined);
      return ok;
    });
  }
}
