/**
 * Child processes for tests that drive real peers. Every process goes through `spawnTracked` so a test
 * file can end all of them in afterAll/afterEach with `killAllTracked()`; a process 'exit' hook
 * SIGKILLs whatever is still alive if a test file forgot (or jest tore the worker down).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'child_process';
import { SsasError } from '../../src/errors';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (ENOENT, EACCES...). */
  error?: Error;
}

export interface SpawnTrackedOptions {
  /** Label used in error messages; defaults to the command's basename. */
  name?: string;
  cwd?: string;
  /** Full environment (default: the test process's environment). */
  env?: NodeJS.ProcessEnv;
  /** Data written to stdin, which is then closed. Without it stdin is /dev/null unless `keepStdin`. */
  input?: string | Buffer;
  /** Leave stdin open as a pipe (`handle.child.stdin`). */
  keepStdin?: boolean;
  /** Per-stream capture limit; older output is dropped first. Default 1 MiB. */
  maxOutputBytes?: number;
  /** Default time between the polite signal and SIGKILL in `kill()`. Default 2000 ms. */
  killGraceMs?: number;
  /** Signal `kill()` sends first. Default SIGTERM. */
  killSignal?: NodeJS.Signals;
  /** Mirror output to this process's stderr (debugging aid). */
  echo?: boolean;
  /** Called once after the process has exited (cleanup of temp dirs and the like). */
  onExit?: (info: ExitInfo) => void;
}

export type OutputStream = 'stdout' | 'stderr' | 'both';

export interface TrackedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly command: string;
  readonly args: readonly string[];
  /** Resolves (never rejects) when the process has exited and its output streams are drained. */
  readonly exited: Promise<ExitInfo>;
  /** Undefined while running. */
  readonly exitInfo: ExitInfo | undefined;
  readonly running: boolean;
  stdout(): string;
  stderr(): string;
  /** stdout and stderr interleaved in arrival order (bounded like the others). */
  output(): string;
  /**
   * Resolves with the match once the regex matches the captured output (output seen before the call
   * counts). Rejects on timeout or when the process exits without a match, quoting the output tail.
   */
  waitForOutput(regex: RegExp, timeoutMs: number, stream?: OutputStream): Promise<RegExpMatchArray>;
  /** Polite signal, then SIGKILL after `graceMs`. Resolves when the process is gone. */
  kill(graceMs?: number, signal?: NodeJS.Signals): Promise<ExitInfo>;
  /** Exception text for assertions: command line, exit status and the output tail. */
  describe(tailChars?: number): string;
}

class BoundedText {
  private text = '';
  dropped = 0;
  constructor(private readonly limit: number) {}
  append(chunk: string): void {
    this.text += chunk;
    if (this.text.length > this.limit) {
      const cut = this.text.length - this.limit;
      this.text = this.text.slice(cut);
      this.dropped += cut;
    }
  }
  get value(): string {
    return this.text;
  }
}

interface Waiter {
  regex: RegExp;
  stream: OutputStream;
  resolve: (m: RegExpMatchArray) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

const tracked = new Set<TrackedProcessImpl>();
// Every pid spawned in this module instance (one per jest test file), for "nothing left behind" checks.
const spawnedPids: number[] = [];
let exitHookInstalled = false;

function lastResortKill(): void {
  for (const proc of tracked) {
    try {
      proc.child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

function updateExitHook(): void {
  // Installed only while something is alive so many test files in one jest worker do not pile up listeners.
  if (tracked.size > 0 && !exitHookInstalled) {
    process.on('exit', lastResortKill);
    exitHookInstalled = true;
  } else if (tracked.size === 0 && exitHookInstalled) {
    process.removeListener('exit', lastResortKill);
    exitHookInstalled = false;
  }
}

class TrackedProcessImpl implements TrackedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<ExitInfo>;
  exitInfo: ExitInfo | undefined;
  private readonly out: BoundedText;
  private readonly err: BoundedText;
  private readonly all: BoundedText;
  private waiters: Waiter[] = [];
  private killing: Promise<ExitInfo> | undefined;

  constructor(
    readonly command: string,
    readonly args: readonly string[],
    private readonly opts: SpawnTrackedOptions,
  ) {
    this.name = opts.name ?? command.split('/').pop() ?? command;
    const limit = opts.maxOutputBytes ?? 1024 * 1024;
    this.out = new BoundedText(limit);
    this.err = new BoundedText(limit);
    this.all = new BoundedText(limit);
    const spawnOpts: SpawnOptions = {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input !== undefined || opts.keepStdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    };
    this.child = spawn(command, [...args], spawnOpts);
    this.exited = new Promise<ExitInfo>((resolve) => {
      let spawnError: Error | undefined;
      this.child.once('error', (e) => {
        spawnError = e;
        // 'close' does not always follow a failed spawn.
        if (this.child.pid === undefined) setImmediate(() => finish({ code: null, signal: null, error: e }));
      });
      const finish = (info: ExitInfo): void => {
        if (this.exitInfo) return;
        this.exitInfo = info;
        tracked.delete(this);
        updateExitHook();
        for (const w of this.waiters) {
          clearTimeout(w.timer);
          w.reject(this.failure(`exited (${this.statusText()}) before output matched ${w.regex}`, 'ERR_TEST_PROCESS_EXITED'));
        }
        this.waiters = [];
        try {
          this.opts.onExit?.(info);
        } finally {
          resolve(info);
        }
      };
      this.child.once('close', (code, signal) => finish({ code, signal, ...(spawnError ? { error: spawnError } : {}) }));
    });
    this.child.stdout?.setEncoding('utf8');
    this.child.stderr?.setEncoding('utf8');
    this.child.stdout?.on('data', (chunk: string) => this.onData('stdout', chunk));
    this.child.stderr?.on('data', (chunk: string) => this.onData('stderr', chunk));
    if (this.child.stdin) {
      this.child.stdin.on('error', () => undefined); // EPIPE when the child exits early
      if (opts.input !== undefined) this.child.stdin.end(opts.input);
    }
    if (this.child.pid !== undefined) spawnedPids.push(this.child.pid);
    tracked.add(this);
    updateExitHook();
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  stdout(): string {
    return this.out.value;
  }

  stderr(): string {
    return this.err.value;
  }

  output(): string {
    return this.all.value;
  }

  private text(stream: OutputStream): string {
    return stream === 'stdout' ? this.out.value : stream === 'stderr' ? this.err.value : this.all.value;
  }

  private onData(stream: 'stdout' | 'stderr', chunk: string): void {
    (stream === 'stdout' ? this.out : this.err).append(chunk);
    this.all.append(chunk);
    if (this.opts.echo) process.stderr.write(`[${this.name}] ${chunk}`);
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((w) => {
      if (w.stream !== 'both' && w.stream !== stream) return true;
      const m = this.text(w.stream).match(w.regex);
      if (!m) return true;
      clearTimeout(w.timer);
      w.resolve(m);
      return false;
    });
  }

  waitForOutput(regex: RegExp, timeoutMs: number, stream: OutputStream = 'both'): Promise<RegExpMatchArray> {
    const already = this.text(stream).match(regex);
    if (already) return Promise.resolve(already);
    if (this.exitInfo) {
      return Promise.reject(this.failure(`exited (${this.statusText()}) before output matched ${regex}`, 'ERR_TEST_PROCESS_EXITED'));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        regex,
        stream,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(this.failure(`no output matching ${regex} within ${timeoutMs} ms`, 'ERR_TEST_PROCESS_TIMEOUT'));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  kill(graceMs?: number, signal?: NodeJS.Signals): Promise<ExitInfo> {
    if (this.exitInfo) return Promise.resolve(this.exitInfo);
    if (this.killing) return this.killing;
    const grace = graceMs ?? this.opts.killGraceMs ?? 2000;
    try {
      this.child.kill(signal ?? this.opts.killSignal ?? 'SIGTERM');
    } catch {
      // raced with exit
    }
    const timer = setTimeout(() => {
      try {
        this.child.kill('SIGKILL');
      } catch {
        // raced with exit
      }
    }, grace);
    this.killing = this.exited.finally(() => clearTimeout(timer));
    return this.killing;
  }

  private statusText(): string {
    const info = this.exitInfo;
    if (!info) return 'running';
    if (info.error) return `spawn failed: ${info.error.message}`;
    return info.signal ? `signal ${info.signal}` : `code ${info.code}`;
  }

  describe(tailChars = 3000): string {
    const out = this.all.value;
    const tail = out.length > tailChars ? `...${out.slice(-tailChars)}` : out;
    return `${this.name} [pid ${this.pid}] ${this.statusText()}\n$ ${this.command} ${this.args.join(' ')}\n--- output tail ---\n${tail}`;
  }

  private failure(message: string, code: string): SsasError {
    return new SsasError(code, `${this.name}: ${message}\n${this.describe()}`, { pid: this.pid, name: this.name });
  }
}

/** Spawns a child process that `killAllTracked()` and the exit hook know about. */
export function spawnTracked(command: string, args: readonly string[], options: SpawnTrackedOptions = {}): TrackedProcess {
  return new TrackedProcessImpl(command, args, options);
}

/** Processes spawned through `spawnTracked` that have not exited yet. */
export function trackedProcesses(): TrackedProcess[] {
  return [...tracked];
}

/** Pids of every process spawned through `spawnTracked` in this test file, alive or not. */
export function spawnedPidHistory(): number[] {
  return [...spawnedPids];
}

/** Ends every tracked process (SIGTERM, SIGKILL after `graceMs`) and waits until all are gone. */
export async function killAllTracked(graceMs = 2000): Promise<void> {
  await Promise.all([...tracked].map((p) => p.kill(graceMs)));
}

/** True when a process with this pid still exists (zombies count as gone once reaped by us). */
export function pidAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface RunResult extends ExitInfo {
  stdout: string;
  stderr: string;
  /** True when the timeout killed it. */
  timedOut: boolean;
  process: TrackedProcess;
}

/** Runs a tracked process to completion with a hard time limit. */
export async function runTracked(
  command: string,
  args: readonly string[],
  options: SpawnTrackedOptions & { timeoutMs?: number } = {},
): Promise<RunResult> {
  const proc = spawnTracked(command, args, options);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void proc.kill(500);
  }, options.timeoutMs ?? 30_000);
  const info = await proc.exited;
  clearTimeout(timer);
  return { ...info, stdout: proc.stdout(), stderr: proc.stderr(), timedOut, process: proc };
}

/** The built `ssas` command (npm test compiles dist/ before jest runs). */
export const SSAS_BIN = require('path').join(__dirname, '..', '..', 'scripts', 'ssas.js') as string;

/** Runs `ssas serve` in a child process on a free port; resolves once it listens, with its rtmp:// URL. */
export async function startSsasServe(args: string[], opts: SpawnTrackedOptions = {}): Promise<{ proc: TrackedProcess; url: string }> {
  const proc = spawnTracked(process.execPath, [SSAS_BIN, 'serve', '--port', '0', ...args], opts);
  await proc.waitForOutput(/ssas listening on rtmp:\/\/\S+:\d+\n/, 20_000);
  const url = /ssas listening on (rtmp:\/\/\S+)/.exec(proc.stdout())![1]!;
  return { proc, url };
}
