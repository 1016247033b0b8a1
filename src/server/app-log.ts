/**
 * FMS's per-instance application log: `<logs>/_defaultVHost_/<app>/<instance>/application.00.log`, what
 * `trace()` wrote to and what operators tailed. The format follows the FMS 2/3.5 administration guides: a
 * W3C-style header, then tab-separated `date time x-pid x-status x-ctx` lines. `x-status` is a 10-character
 * code: severity `(s)` trace from a script, `(e)` error, `(w)` warning, `(i)` information, `(d)` debug;
 * category 264 (JavaScript) for what the script said (trace, Application.Script.Error) and 265
 * (TCApplication) for the rest; then a 4-digit message id: 1173 for trace as FMS logs showed it [recall],
 * 0000 for everything else (ssas has no catalogue of FMS message ids). Tabs and line breaks inside a message
 * are written as `\t`, `\n`, `\r` so that every record stays one line.
 *
 * History as FMS kept it: the newest file is application.00.log. The first time this process writes to an
 * instance's log, and whenever the file passes `maxBytes`, 00 becomes 01, 01 becomes 02 ... up to
 * `history` files. Records arrive through a log sink (the one logger) and are appended in batches off the
 * caller's path; a file that cannot be written is reported once on the server log and the records for it
 * are dropped, never the server.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { addLogSink, getLogger, type LogRecord } from '../logger';

const log = getLogger('app-log');

export interface AppLogOptions {
  /** The logs folder (FMS's `logs`). */
  dir: string;
  /** Software line of the header. */
  software: string;
  vhost?: string;
  /** Rotate past this size (default 10 MB). */
  maxBytes?: number;
  /** Files kept: application.00 ... application.(history-1) (default 10). */
  history?: number;
  /** Milliseconds records wait to be written together (default 50). */
  flushMs?: number;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
const day = (t: Date): string => `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}`;
const clock = (t: Date): string => `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;

/** The header FMS wrote at the top of each log file. */
export function appLogHeader(t: Date, software: string): string {
  return `#Version: 1.0\n#Start-Date: ${day(t)} ${clock(t)}\n#Software: ${software}\n#Date: ${day(t)}\n#Fields: date\ttime\tx-pid\tx-status\tx-ctx\n`;
}

/** x-status of a record (see the module comment). */
export function appLogStatus(r: LogRecord): string {
  const severity = { trace: 's', error: 'e', warn: 'w', info: 'i', debug: 'd' }[r.level] ?? '_';
  const fromScript = r.level === 'trace' || r.message.startsWith('Application.Script.Error');
  return `(${severity})${fromScript ? '264' : '265'}${r.level === 'trace' ? '1173' : '0000'}`;
}

/** One log line (with its newline). */
export function appLogLine(r: LogRecord, pid: number): string {
  const ctx = r.message.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
  return `${day(r.time)}\t${clock(r.time)}\t${pid}\t${appLogStatus(r)}\t${ctx === '' ? '-' : ctx}\n`;
}

/** "app:chat/room1" -> ["chat", "room1"]; null for records that are not an instance's. */
export function instanceOfNamespace(ns: string): [string, string] | null {
  if (!ns.startsWith('app:')) return null;
  const name = ns.slice(4);
  const slash = name.indexOf('/');
  if (slash <= 0 || slash === name.length - 1) return null;
  const instance = name.slice(slash + 1);
  if (instance.split('/').some((p) => p === '' || p === '.' || p === '..')) return null;
  return [name.slice(0, slash), instance];
}

interface FileState {
  file: string;
  lines: string[];
  size: number;
  opened: boolean;
  failed: boolean;
  busy: Promise<void>;
}

export class ApplicationLogWriter {
  readonly #opts: Required<AppLogOptions>;
  readonly #files = new Map<string, FileState>();
  #timer: NodeJS.Timeout | null = null;
  #detach: (() => void) | null = null;

  constructor(opts: AppLogOptions) {
    this.#opts = { vhost: '_defaultVHost_', maxBytes: 10 * 1024 * 1024, history: 10, flushMs: 50, ...opts };
  }

  /** Starts receiving the instances' records (every level from info, trace included, whatever the console shows). */
  attach(): void {
    this.#detach ??= addLogSink((r) => this.#record(r), 'info');
  }

  /** Stops receiving records and writes what is waiting. */
  async close(): Promise<void> {
    this.#detach?.();
    this.#detach = null;
    await this.flush();
  }

  /** The file an instance's records go to. */
  fileOf(app: string, instance: string): string {
    return path.join(this.#opts.dir, this.#opts.vhost, app, ...instance.split('/'), 'application.00.log');
  }

  /** Writes every waiting record now. */
  async flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await Promise.all(Array.from(this.#files.values(), (st) => this.#write(st)));
  }

  #record(r: LogRecord): void {
    const inst = instanceOfNamespace(r.namespace);
    if (!inst) return;
    const file = this.fileOf(inst[0], inst[1]);
    let st = this.#files.get(file);
    if (!st) {
      st = { file, lines: [], size: 0, opened: false, failed: false, busy: Promise.resolve() };
      this.#files.set(file, st);
    }
    if (st.failed) return;
    st.lines.push(appLogLine(r, process.pid));
    this.#timer ??= setTimeout(() => void this.flush(), this.#opts.flushMs);
    this.#timer.unref?.();
  }

  #write(st: FileState): Promise<void> {
    st.busy = st.busy.then(async () => {
      if (st.lines.length === 0 || st.failed) return;
      const text = st.lines.join('');
      st.lines = [];
      try {
        if (!st.opened || st.size + text.length > this.#opts.maxBytes) {
          await fsp.mkdir(path.dirname(st.file), { recursive: true });
          await this.#rotate(st.file);
          const header = appLogHeader(new Date(), this.#opts.software);
          await fsp.writeFile(st.file, header);
          st.size = Buffer.byteLength(header);
          st.opened = true;
        }
        await fsp.appendFile(st.file, text);
        st.size += Buffer.byteLength(text);
      } catch (err) {
        st.failed = true;
        log.error(`cannot write ${st.file}: ${(err as Error).message}; this instance's application log is off`);
      }
    });
    return st.busy;
  }

  /** application.NN.log -> NN+1, the oldest dropped, so that 00 is free. */
  async #rotate(file: string): Promise<void> {
    const nth = (n: number): string => file.replace(/\.00\.log$/, `.${pad(n)}.log`);
    const last = this.#opts.history - 1;
    await fsp.rm(nth(last), { force: true });
    for (let n = last - 1; n >= 0; n--) {
      await fsp.rename(nth(n), nth(n + 1)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    }
  }
}
