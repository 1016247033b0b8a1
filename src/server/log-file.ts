/**
 * One W3C-style log file as FMS kept them (application.00.log, access.00.log): a header, one line per record,
 * history by renaming. The newest file is NAME.00.log; the first time this process writes to it, and whenever
 * it passes `maxBytes`, 00 becomes 01, 01 becomes 02 ... up to `history` files. Lines are appended in batches
 * off the caller's path; a file that cannot be written is reported once on the server log and its lines are
 * dropped, never the server.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { getLogger, type Logger } from '../logger';

export const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
/** Local date as FMS logs wrote it: 2010-01-20. */
export const day = (t: Date): string => `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}`;
/** Local time: 10:12:34. */
export const clock = (t: Date): string => `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;

/** A field value that stays one field of one line: backslashes, tabs and line breaks written as \\, \t, \n, \r. */
export function escapeField(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

export interface W3cLogFileOptions {
  /** The file, ending in `.00.log`. */
  file: string;
  /** The header written at the top of each new file. */
  header: (t: Date) => string;
  maxBytes: number;
  /** Files kept: NAME.00 ... NAME.(history-1). */
  history: number;
  /** Milliseconds lines wait to be written together. */
  flushMs: number;
  /** What the file is, for the one error message if it cannot be written. */
  what: string;
  /** Namespace of that message on the server log. */
  logNamespace: string;
}

export class W3cLogFile {
  readonly #o: W3cLogFileOptions;
  #lines: string[] = [];
  #size = 0;
  #opened = false;
  #failed = false;
  #busy: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | null = null;
  readonly #log: Logger;

  constructor(opts: W3cLogFileOptions) {
    this.#o = opts;
    this.#log = getLogger(opts.logNamespace);
  }

  get file(): string {
    return this.#o.file;
  }

  /** Queues one line (with its newline). */
  append(line: string): void {
    if (this.#failed) return;
    this.#lines.push(line);
    if (this.#timer === null) {
      this.#timer = setTimeout(() => void this.flush(), this.#o.flushMs);
      this.#timer.unref?.();
    }
  }

  /** Writes every waiting line now. */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#busy = this.#busy.then(async () => {
      if (this.#lines.length === 0 || this.#failed) return;
      const text = this.#lines.join('');
      this.#lines = [];
      const file = this.#o.file;
      try {
        if (!this.#opened || this.#size + text.length > this.#o.maxBytes) {
          await fsp.mkdir(path.dirname(file), { recursive: true });
          await this.#rotate();
          const header = this.#o.header(new Date());
          await fsp.writeFile(file, header);
          this.#size = Buffer.byteLength(header);
          this.#opened = true;
        }
        await fsp.appendFile(file, text);
        this.#size += Buffer.byteLength(text);
      } catch (err) {
        this.#failed = true;
        this.#log.error(`cannot write ${file}: ${(err as Error).message}; ${this.#o.what} is off`);
      }
    });
    return this.#busy;
  }

  /** NAME.NN.log -> NN+1, the oldest dropped, so that 00 is free. */
  async #rotate(): Promise<void> {
    const file = this.#o.file;
    const nth = (n: number): string => file.replace(/\.00\.log$/, `.${pad(n)}.log`);
    const last = this.#o.history - 1;
    await fsp.rm(nth(last), { force: true });
    for (let n = last - 1; n >= 0; n--) {
      await fsp.rename(nth(n), nth(n + 1)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    }
  }
}
