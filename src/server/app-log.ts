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
import * as path from 'node:path';
import { addLogSink, type LogRecord } from '../logger';
import { W3cLogFile, clock, day, escapeField } from './log-file';

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
  const ctx = escapeField(r.message);
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

export class ApplicationLogWriter {
  readonly #opts: Required<AppLogOptions>;
  readonly #files = new Map<string, W3cLogFile>();
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
    await Promise.all(Array.from(this.#files.values(), (f) => f.flush()));
  }

  #record(r: LogRecord): void {
    const inst = instanceOfNamespace(r.namespace);
    if (!inst) return;
    const file = this.fileOf(inst[0], inst[1]);
    let f = this.#files.get(file);
    if (!f) {
      f = new W3cLogFile({
        file,
        header: (t) => appLogHeader(t, this.#opts.software),
        maxBytes: this.#opts.maxBytes,
        history: this.#opts.history,
        flushMs: this.#opts.flushMs,
        what: "this instance's application log",
        logNamespace: 'app-log',
      });
      this.#files.set(file, f);
    }
    f.append(appLogLine(r, process.pid));
  }
}
