/**
 * Driving the shell core through in-memory streams: a fake terminal (keys in, screen text out) and a
 * server over a scratch copy of the fixture applications.
 */
import * as path from 'path';
import { PassThrough } from 'stream';
import { createServer } from '../../src/server/create';
import type { Server } from '../../src/server/server';
import { ShellSession } from '../../src/repl/session';
import { Shell } from '../../src/repl/shell';
import { copyDir, makeTempDir, removeDir, until } from '../support';

export const fixtureApps = path.join(__dirname, '..', 'fixtures', 'repl', 'apps');
export const sampleFlv = path.join(__dirname, '..', '..', 'sandbox', 'applications', 'vod', 'streams', '_definst_', 'sample.flv');

// eslint-disable-next-line no-control-regex
const CSI = /\u001b\[[0-9;?]*[A-Za-z]/g;

/** Keys typed into the shell, and everything it writes. */
export class Term {
  readonly input = new PassThrough();
  readonly output = new PassThrough();
  #raw = '';
  #mark = 0;

  constructor(columns = 120) {
    (this.output as unknown as { columns: number }).columns = columns;
    this.output.on('data', (d: Buffer) => (this.#raw += d.toString('utf8')));
  }

  /** Everything written, cursor movement, colour and carriage returns removed. */
  get text(): string {
    return this.#raw.replace(CSI, '').replace(/\r\n/g, '\n').replace(/\r/g, '');
  }

  get raw(): string {
    return this.#raw;
  }

  /** Text written since the last mark(). */
  get fresh(): string {
    return this.text.slice(this.#mark);
  }

  mark(): void {
    this.#mark = this.text.length;
  }

  type(keys: string): void {
    this.input.write(keys);
  }

  /** Waits until the text written since the last mark matches. */
  async expect(re: RegExp | string, ms = 5000): Promise<string> {
    const test = (): boolean => (typeof re === 'string' ? this.fresh.includes(re) : re.test(this.fresh));
    await until(test, ms, `output ${String(re)}`, () => JSON.stringify(this.fresh.slice(-600)));
    return this.fresh;
  }

  /** Types a line and waits for the prompt after its output. */
  async run(line: string, prompt = /shell\/_definst_> $/, ms = 5000): Promise<string> {
    this.mark();
    this.type(line + '\r');
    await until(() => prompt.test(this.fresh) && this.fresh.includes(line), ms, `prompt after ${line}`, () => JSON.stringify(this.fresh.slice(-600)));
    const out = this.fresh;
    // What the line printed: between the echoed input and the next prompt.
    const start = out.indexOf(line) + line.length;
    return out.slice(start).replace(/[\w/]+> $/, '').replace(/^\n/, '');
  }
}

export interface Bed {
  server: Server;
  url: string;
  appsDir: string;
  close(): Promise<void>;
}

/** A server over a copy of the fixture applications; its statements interruptible as under `ssas repl` unless said. */
export async function startBed(opts: { interruptible?: boolean } = {}): Promise<Bed> {
  const appsDir = makeTempDir('repl-apps');
  copyDir(fixtureApps, appsDir);
  const server = createServer({ appsDir, port: 0, interruptibleStatements: opts.interruptible ?? true });
  const { url } = await server.listen();
  return {
    server,
    url,
    appsDir,
    async close() {
      await server.close();
      removeDir(appsDir);
    },
  };
}

export interface OpenShell {
  term: Term;
  shell: Shell;
  session: ShellSession;
  done: Promise<number>;
  close(): Promise<number>;
}

/** A shell attached to `target` on the bed's server; interactive unless said otherwise. */
export async function openShell(
  bed: Bed,
  opts: { target?: string; interactive?: boolean; historyFile?: string | null; colors?: boolean; cwd?: string; statementTimeoutSec?: number } = {},
): Promise<OpenShell> {
  const term = new Term();
  const session = new ShellSession(bed.server, { statementTimeoutSec: opts.statementTimeoutSec });
  await session.attach(opts.target ?? 'shell');
  const shell = new Shell({
    input: term.input,
    output: term.output,
    interactive: opts.interactive ?? true,
    colors: opts.colors ?? false,
    session,
    serverUrl: bed.url,
    historyFile: opts.historyFile ?? null,
    cwd: opts.cwd ?? bed.appsDir,
  });
  const done = shell.run().finally(() => session.dispose());
  return {
    term,
    shell,
    session,
    done,
    async close() {
      shell.finish();
      return done;
    },
  };
}
