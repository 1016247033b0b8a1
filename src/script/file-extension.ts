/**
 * The bridge part of the File class (sandbox/file.js): requests the script waits for (the isolate's
 * thread waits, the host does the file system work asynchronously) and the `fileWrite` op its buffered
 * writes arrive as. Paths are confined by src/host/file.ts; a refusal or failure is thrown as a FileError,
 * which reaches the script's File method as an error with that code (it reports application.onStatus and
 * returns false). Files an instance left open are closed when it unloads, after their queued writes.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { AmfValue } from '../amf';
import { FileError, OpenFile, confine, fileInfo, ioError, parseOpenMode, resolveFilePath, type FileRoots } from '../host/file';
import type { ScriptExtension, ScriptLogic } from './script-logic';
import type { HostRequest, ScriptOp } from './runtime';

const MAX_OPEN = 256;

interface State {
  files: Map<number, OpenFile>;
  nextId: number;
}

export class FileExtension implements ScriptExtension {
  readonly #state = new WeakMap<ScriptLogic, State>();

  #of(logic: ScriptLogic): State {
    let s = this.#state.get(logic);
    if (!s) {
      s = { files: new Map(), nextId: 1 };
      this.#state.set(logic, s);
    }
    return s;
  }

  #roots(logic: ScriptLogic): FileRoots {
    return { appDir: logic.instance.app.dir, virtualDirs: logic.config.fileObjectVirtualDirs, readOnly: logic.instance.app.readOnly };
  }

  #file(logic: ScriptLogic, id: unknown): OpenFile {
    const f = this.#of(logic).files.get(Number(id));
    if (!f) throw new FileError('ERR_FILE_NOT_OPEN', 'the file is not open');
    return f;
  }

  #writable(logic: ScriptLogic, virtual: string): void {
    const ro = logic.instance.app.readOnly;
    if (ro) throw new FileError('ERR_FILE_READ_ONLY', `${virtual}: ${ro}`, { path: virtual });
  }

  op(logic: ScriptLogic, op: ScriptOp): boolean {
    if (op.op !== 'fileWrite') return false;
    const f = this.#of(logic).files.get(Number(op.id));
    if (!f) return true;
    const data = op.data instanceof Uint8Array ? Buffer.from(op.data) : Buffer.from(String(op.data ?? ''), op.enc === 'latin1' ? 'latin1' : 'utf8');
    f.write(Number(op.pos) || 0, data, (err) => {
      logic.instance.log.warn(`File ${f.virtual}: write failed: ${err.message} [${err.code}]`);
      logic.runtime?.post({ e: 'fileError', id: f.id, method: 'write', code: err.code, message: err.message });
    });
    return true;
  }

  requestAsync(logic: ScriptLogic, req: HostRequest): Promise<{ value: AmfValue }> | undefined {
    if (typeof req.t !== 'string' || !req.t.startsWith('file')) return undefined;
    return this.#request(logic, req).then((value) => ({ value }));
  }

  async #request(logic: ScriptLogic, req: HostRequest): Promise<AmfValue> {
    const roots = this.#roots(logic);
    const st = this.#of(logic);
    switch (req.t) {
      case 'fileInfo': {
        let r;
        try {
          r = resolveFilePath(roots, req.path);
        } catch {
          return { exists: false, isFile: false, isDirectory: false, length: 0, creationTime: null, lastModified: null, canRead: false, canWrite: false, name: String(req.path) };
        }
        const real = await confine(r).catch(() => null);
        const info = real === null ? await fileInfo('\0', true) : await fileInfo(real, roots.readOnly !== undefined);
        // Times as milliseconds: Dates made here may come from another realm (tests) and would not copy.
        return { ...info, creationTime: info.creationTime?.getTime() ?? null, lastModified: info.lastModified?.getTime() ?? null, name: r.virtual } as unknown as AmfValue;
      }
      case 'fileOpen': {
        const mode = parseOpenMode(req.mode);
        const r = resolveFilePath(roots, req.path);
        if (!mode) throw new FileError('ERR_FILE_MODE', `File.open(): "${String(req.mode)}" is not a mode (read, write, readWrite, append, create)`, { path: r.virtual });
        if (st.files.size >= MAX_OPEN) throw new FileError('ERR_FILE_TOO_MANY_OPEN', `more than ${MAX_OPEN} files open in this instance`);
        const real = await confine(r);
        const id = st.nextId++;
        const f = await OpenFile.open(id, real, r.virtual, mode, roots.readOnly);
        st.files.set(id, f);
        return { id, length: await f.length() };
      }
      case 'fileRead': {
        const f = this.#file(logic, req.id);
        return new Uint8Array(await f.read(Number(req.pos) || 0, Number(req.n) || 0));
      }
      case 'fileLength':
        return this.#file(logic, req.id).length();
      case 'fileFlush':
        return this.#file(logic, req.id).flush();
      case 'fileTruncate': {
        await this.#file(logic, req.id).truncate(Math.max(0, Number(req.length) || 0));
        return true;
      }
      case 'fileClose': {
        const f = st.files.get(Number(req.id));
        if (!f) return false;
        st.files.delete(f.id);
        return f.close();
      }
      case 'fileList': {
        const r = resolveFilePath(roots, req.path);
        const real = await confine(r);
        try {
          const entries = await fsp.readdir(real, { withFileTypes: true });
          return entries.map((e) => e.name).sort();
        } catch (err) {
          throw ioError(err, r.virtual);
        }
      }
      case 'fileMkdir': {
        const r = resolveFilePath(roots, `${String(req.path)}/${String(req.name)}`);
        this.#writable(logic, r.virtual);
        const real = await confine(r);
        try {
          await fsp.mkdir(real);
        } catch (err) {
          throw ioError(err, r.virtual);
        }
        return true;
      }
      case 'fileRemove': {
        const r = resolveFilePath(roots, req.path);
        if (r.isRoot) throw new FileError('ERR_FILE_ROOT', `${r.virtual} is a root folder and cannot be removed`, { path: r.virtual });
        this.#writable(logic, r.virtual);
        const real = await confine(r);
        try {
          const stt = await fsp.lstat(real);
          if (stt.isDirectory()) {
            if (req.recursive === true) await fsp.rm(real, { recursive: true });
            else await fsp.rmdir(real);
          } else {
            await fsp.unlink(real);
          }
        } catch (err) {
          throw ioError(err, r.virtual);
        }
        return true;
      }
      case 'fileRename':
      case 'fileCopy': {
        const from = resolveFilePath(roots, req.path);
        const to = resolveFilePath(roots, req.to);
        if (req.t === 'fileRename' && from.isRoot) throw new FileError('ERR_FILE_ROOT', `${from.virtual} is a root folder and cannot be renamed`, { path: from.virtual });
        if (to.isRoot) throw new FileError('ERR_FILE_ROOT', `${to.virtual} is a root folder`, { path: to.virtual });
        this.#writable(logic, to.virtual);
        const realFrom = await confine(from);
        const realTo = await confine(to);
        try {
          if (req.t === 'fileRename') {
            // FMS: renameTo fails when the target exists.
            if (await fsp.lstat(realTo).then(() => true, () => false)) throw new FileError('ERR_FILE_EXISTS', `${to.virtual} already exists`, { path: to.virtual });
            await fsp.rename(realFrom, realTo);
          } else {
            await fsp.mkdir(path.dirname(realTo), { recursive: false }).catch(() => undefined);
            await fsp.cp(realFrom, realTo, { recursive: true, errorOnExist: false, force: true, dereference: false, verbatimSymlinks: true });
          }
        } catch (err) {
          throw ioError(err, from.virtual);
        }
        return true;
      }
    }
    throw new FileError('ERR_FILE_IO', `unknown file request ${req.t}`);
  }

  dispose(logic: ScriptLogic): void {
    const st = this.#state.get(logic);
    if (!st) return;
    for (const f of st.files.values()) void f.close();
    st.files.clear();
    this.#state.delete(logic);
  }
}
