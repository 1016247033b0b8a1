/**
 * One isolated-vm isolate per application instance, and the bridge into it.
 *
 * Design (measured in DESIGN-NOTES, re-measured by `npm run bench -- bridge`): events are dispatched with
 * an asynchronous `apply`, so a busy script never blocks the event loop (media and other instances keep
 * flowing). Dispatches start at the end of the event loop's I/O phase and carry every event queued by then
 * (up to MAX_INFLIGHT run or wait in the isolate's queue), which recovers the throughput one-call-per-event
 * would lose. Script calls that need no answer come back as ops at the end of the dispatch; the few that
 * need an answer use a synchronous host call (or applySyncPromise when the host must wait for I/O), which
 * hands over the queued ops first.
 *
 * Client calls take a fast path (rawCall): their AMF0 argument bytes are packed as binary records, one
 * buffer per dispatch, decoded inside the isolate (sandbox/amf.js), and a plain-data result comes back
 * encoded, in one `results` op per dispatch. The event loop then neither decodes, converts, clones nor
 * encodes the values of a call; what sandbox/amf.js cannot reproduce exactly falls back to the general path
 * (host codec + marshal.ts). Waiters live in a SeqTable, not a Map (see seq-table.ts for why).
 *
 * Limits: the isolate has a memory limit (isolated-vm disposes it when exceeded); a watchdog reads a shared
 * progress counter the sandbox bumps at every event and disposes an isolate whose current event used more
 * CPU time than the limit. Either way the runtime reports a fatal ScriptError and the instance is unloaded.
 */
import ivm from 'isolated-vm';
import { ScriptError, isSsasError } from '../errors';
import { getLogger, type Logger } from '../logger';
import { fromIsolate, toIsolate } from './marshal';
import { SeqTable } from './seq-table';
import { sandboxSource } from './sandbox-source';
import type { AmfValue } from '../amf';

export interface BootInfo {
  name: string;
  server: string;
  hostname: string;
  config: Record<string, string>;
  allowDebug: boolean;
  /** Default objectEncoding of server-side NetConnections (Application.xml; AMF3 unless set). */
  ncObjectEncoding: 0 | 3;
}

/** A request from the script that needs an answer (see sandbox/core.js hostCall). */
export type HostRequest = { t: string; [key: string]: unknown };
/** Something the script did that the host carries out (see sandbox/*.js S.emit). */
export type ScriptOp = { op: string; [key: string]: unknown };

export interface RuntimeHost {
  /** Carries out ops in order (called with each dispatch result and before every host request). */
  processOps(ops: ScriptOp[]): void;
  /** Answers a synchronous request; the value is converted with toIsolate. Throw a coded error to fail it. */
  request(req: HostRequest): AmfValue;
  /** Answers a request the script waits for while the host does I/O. */
  requestAsync(req: HostRequest): Promise<AmfValue>;
  /** The isolate died (time limit, memory limit, internal failure). Called once. */
  fatal(err: ScriptError): void;
}

export interface RuntimeOptions {
  name: string;
  memoryMB: number;
  /** CPU seconds one event may use; 0 = unlimited. */
  timeoutSec: number;
  boot: BootInfo;
  host: RuntimeHost;
  /** Enables the V8 inspector for this isolate (ssas run --inspect). */
  inspector?: boolean;
  /**
   * Lets a shell statement (evaluateStatement) be stopped on request without losing the isolate: the isolate
   * gets V8's inspector, used for nothing but Runtime.terminateExecution (ssas repl).
   */
  interruptible?: boolean;
}

/** How a shell statement runs (ScriptRuntime.evaluateStatement). */
export interface StatementRun {
  /** Wall-clock milliseconds the statement may run; past them it is stopped, the instance kept. 0 = no limit. */
  timeoutMs: number;
  /** Aborting stops the statement (when the runtime is interruptible), or cancels it before it starts. */
  signal?: AbortSignal;
}

export type StatementOutcome =
  | { kind: 'done'; value: unknown }
  /** Stopped by the signal (Ctrl-C): only this statement; the instance and its clients are as they were. */
  | { kind: 'interrupted'; started: boolean }
  /** Stopped by its own time limit. */
  | { kind: 'timedOut'; ms: number };

/** An event for the sandbox: `e` names the handler; `seq` is added when a result is awaited. */
export type ScriptEvent = { e: string; [key: string]: unknown };

/** Consecutive fast-path client calls: `c` records in bytes [o, o + n) of the pack (see rawCall). */
type RunEvent = { e: 'rcalls'; o: number; n: number; c: number };

/** A u16 length and the UTF-16 code units of s (exact for any string, lone surrogates included). */
function writeUnits(b: Buffer, at: number, s: string): number {
  let p = b.writeUInt16BE(s.length, at);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    b[p++] = c >>> 8;
    b[p++] = c & 0xff;
  }
  return p;
}

const MAX_BATCH = 256;
const MAX_INFLIGHT = 3;
/** Client ids and method names interned per runtime before the table starts over. */
const INTERN_MAX = 4096;
const WATCHDOG_MS = 100;

/**
 * Gets an event's outcome: the handler's value, or for a client call answered on the fast path (rawCall) the
 * AMF0 bytes of its result value.
 */
export type Waiter = (err: Error | null, value?: unknown, encoded?: Buffer) => void;

export class ScriptRuntime {
  readonly name: string;
  readonly isolate: ivm.Isolate;
  readonly context: ivm.Context;
  readonly log: Logger;
  #dispatch: ivm.Reference<(events: unknown[]) => unknown>;
  /** The sandbox's entry for one shell statement, run alone (see evaluateStatement). */
  #evaluate: ivm.Reference<(code: string, filename: string) => unknown>;
  /** Inspector session that can terminate a running statement; null when not interruptible. */
  #terminator: ivm.InspectorSession | null = null;
  #terminatorCalls = new Map<number, () => void>();
  #terminatorId = 0;
  /** A shell statement waits for, or holds, the isolate alone: no dispatch starts meanwhile. */
  #exclusive = false;
  #drained: (() => void) | null = null;
  #host: RuntimeHost;
  #queue: ScriptEvent[] = [];
  #queuedKeys = new Set<string>();
  /** Call records of queued client calls (rcalls runs point into it by host offset; see rawCall). */
  #pack: Buffer = Buffer.alloc(16 * 1024);
  #packLen = 0;
  #packSent = 0;
  #waiters = new SeqTable<Waiter>();
  #nextSeq = 1;
  #inflight = 0;
  #dead: ScriptError | null = null;
  #progress: Int32Array;
  #timeoutNs: bigint;
  #watchdog: NodeJS.Timeout | null = null;
  #lastProgress = -1;
  #progressCpu = 0n;
  /**
   * (wall ms, isolate CPU ns) about once a second while events run: the CPU share over a window of 6 x
   * MaxTimeOut (60 s by default) may not pass 5/6 of a core, so a script whose every event stays just under
   * the per-event limit still cannot hold its instance (and a core) forever.
   */
  #cpuSamples: Array<{ wall: number; cpu: bigint }> = [];
  #progressWall = 0;
  readonly #inspector: boolean;
  #refs: ivm.Reference<unknown>[] = [];
  #memoryTimer: NodeJS.Timeout | null = null;
  #lowMemoryWarned = false;
  /** Events dispatched and batches run, for benchmarks and getStats. */
  readonly counters = { events: 0, batches: 0, hostCalls: 0 };

  private constructor(
    opts: RuntimeOptions,
    isolate: ivm.Isolate,
    context: ivm.Context,
    dispatch: ivm.Reference<(events: unknown[]) => unknown>,
    evaluate: ivm.Reference<(code: string, filename: string) => unknown>,
    progress: Int32Array,
    refs: ivm.Reference<unknown>[],
  ) {
    this.name = opts.name;
    this.isolate = isolate;
    this.context = context;
    this.#dispatch = dispatch;
    this.#evaluate = evaluate;
    if (opts.interruptible) {
      // Made now, while the isolate is idle (a session connects from this thread).
      const session = isolate.createInspectorSession();
      session.onResponse = (id) => {
        const done = this.#terminatorCalls.get(id);
        this.#terminatorCalls.delete(id);
        done?.();
      };
      session.onNotification = () => {};
      this.#terminator = session;
    }
    this.#host = opts.host;
    this.#progress = progress;
    this.#timeoutNs = BigInt(Math.round(opts.timeoutSec * 1e9));
    this.#inspector = opts.inspector === true;
    this.#refs = refs;
    this.log = getLogger(`script:${opts.name}`);
    // FMS warned scripts before their runtime ran out (Application.Resource.LowMemory, ssas-api.md 9.2).
    const limitBytes = Math.max(8, opts.memoryMB) * 1024 * 1024;
    this.#memoryTimer = setInterval(() => void this.#checkMemory(limitBytes), 1000);
    this.#memoryTimer.unref?.();
  }

  async #checkMemory(limitBytes: number): Promise<void> {
    if (this.#dead || this.isolate.isDisposed) return;
    let used: number;
    try {
      const h = await this.isolate.getHeapStatistics();
      used = h.used_heap_size + h.externally_allocated_size;
    } catch {
      return;
    }
    if (used > limitBytes * 0.8) {
      if (!this.#lowMemoryWarned) {
        this.#lowMemoryWarned = true;
        this.log.warn(`script heap at ${Math.round((used / limitBytes) * 100)} % of its limit`);
        this.post({ e: 'lowMemory', used, limit: limitBytes });
      }
    } else if (used < limitBytes * 0.6) {
      this.#lowMemoryWarned = false;
    }
  }

  /** Creates the isolate and installs the sandbox facades (no user script runs yet). */
  static async create(opts: RuntimeOptions): Promise<ScriptRuntime> {
    const isolate = new ivm.Isolate({
      memoryLimit: Math.max(8, opts.memoryMB),
      inspector: opts.inspector === true || opts.interruptible === true,
      onCatastrophicError: (message: string) => {
        getLogger(`script:${opts.name}`).error(`isolate failure: ${message}`);
      },
    } as ivm.IsolateOptions);
    let rt: ScriptRuntime | null = null;
    try {
      const context = await isolate.createContext({ inspector: opts.inspector === true });
      const sab = new SharedArrayBuffer(16);
      const progress = new Int32Array(sab);
      const hostSync = new ivm.Reference((ops: unknown, req: unknown) => rt!.#onHostCall(ops, req));
      const hostAsync = new ivm.Reference((ops: unknown, req: unknown) => rt!.#onHostCallAsync(ops, req));
      const hostOps = new ivm.Reference((ops: unknown, statement: unknown) => rt!.#onOps(ops, statement));
      const script = await compileSandbox(isolate);
      const factory = (await script.run(context, { reference: true })) as ivm.Reference<(...a: unknown[]) => unknown>;
      script.release();
      const entries = (await factory.apply(
        undefined,
        [hostSync, hostAsync, hostOps, new ivm.ExternalCopy(sab).copyInto({ release: true }), new ivm.ExternalCopy(opts.boot).copyInto({ release: true })],
        { result: { reference: true } },
      )) as unknown as ivm.Reference<{ dispatch: unknown; evaluate: unknown }>;
      factory.release();
      const dispatch = (await entries.get('dispatch', { reference: true })) as unknown as ivm.Reference<(events: unknown[]) => unknown>;
      const evaluate = (await entries.get('evaluate', { reference: true })) as unknown as ivm.Reference<(code: string, filename: string) => unknown>;
      entries.release();
      rt = new ScriptRuntime(opts, isolate, context, dispatch, evaluate, progress, [hostSync, hostAsync, hostOps, evaluate] as ivm.Reference<unknown>[]);
      return rt;
    } catch (err) {
      if (!isolate.isDisposed) isolate.dispose();
      throw new ScriptError('ERR_SCRIPT_SANDBOX', `could not create the script sandbox: ${(err as Error).message}`);
    }
  }

  get dead(): boolean {
    return this.#dead !== null;
  }

  /** Queues an event; resolves with the handler's result. */
  call(event: ScriptEvent): Promise<unknown> {
    return new Promise((resolve, reject) => this.callback(event, (err, value) => (err ? reject(err) : resolve(value))));
  }

  /**
   * Queues an event; `done` gets its handler's result (or the error that killed the isolate). The hot path
   * (client calls): no promise per event.
   */
  callback(event: ScriptEvent, done: (err: Error | null, value?: unknown) => void): void {
    if (this.#dead) {
      done(this.#dead);
      return;
    }
    const seq = this.#nextSeq++;
    event.seq = seq;
    this.#waiters.set(seq, done);
    this.#queue.push(event);
    this.#schedulePump();
  }

  /**
   * Queues a client call whose arguments are the AMF0 bytes the client sent: the sandbox decodes them and
   * encodes a plain-data result itself (sandbox/amf.js), so `done` gets either the encoded result value
   * (third argument) or, when the sandbox took the general path, a value as `callback` gives it.
   */
  rawCall(cid: string, name: string, args: Uint8Array, done: Waiter): void {
    if (this.#dead) {
      done(this.#dead);
      return;
    }
    // Record: [seq f64][cid][name][args length u32][args]; cid and name as intern indices (see #intern).
    const need = 32 + 2 * (cid.length + name.length) + args.length;
    if (this.#packLen + need > this.#pack.length) {
      const grown = Buffer.alloc(Math.max(this.#pack.length * 2, this.#packLen + need));
      this.#pack.copy(grown, 0, 0, this.#packLen);
      this.#pack = grown;
    }
    const seq = this.#nextSeq++;
    const start = this.#packLen;
    const b = this.#pack;
    let p = b.writeDoubleBE(seq, start);
    p = this.#intern(b, p, cid);
    p = this.#intern(b, p, name);
    p = b.writeUInt32BE(args.length, p);
    b.set(args, p);
    p += args.length;
    this.#packLen = p;
    this.#waiters.set(seq, done);
    // Consecutive calls form one run: one small event however many calls it holds.
    const tail = this.#queue.length > 0 ? (this.#queue[this.#queue.length - 1] as RunEvent) : null;
    if (tail !== null && tail.e === 'rcalls' && tail.o + tail.n === start) {
      tail.n += p - start;
      tail.c++;
    } else {
      this.#queue.push({ e: 'rcalls', o: start, n: p - start, c: 1 } as RunEvent);
    }
    this.#schedulePump();
  }

  /**
   * Client ids and method names cross once: later records carry their index (u32). A new one is written as
   * 0x80000000|index followed by its units; when the table is full it starts over (0xfffffffe first), so a
   * long-lived instance with many short connections keeps interning.
   */
  #interned = new Map<string, number>();

  #intern(b: Buffer, p: number, s: string): number {
    const idx = this.#interned.get(s);
    if (idx !== undefined) return b.writeUInt32BE(idx, p);
    if (this.#interned.size >= INTERN_MAX) {
      this.#interned = new Map();
      p = b.writeUInt32BE(0xfffffffe, p);
    }
    const i = this.#interned.size;
    this.#interned.set(s, i);
    p = b.writeUInt32BE((0x80000000 | i) >>> 0, p);
    return writeUnits(b, p, s);
  }

  /** Queues an event whose result nobody waits for. */
  post(event: ScriptEvent): void {
    if (this.#dead) return;
    this.#queue.push(event);
    this.#schedulePump();
  }

  /**
   * Queues an event unless one with the same key is still waiting (interval ticks of a slow script collapse
   * into one instead of piling up).
   */
  postUnique(event: ScriptEvent, key: string): void {
    if (this.#dead || this.#queuedKeys.has(key)) return;
    this.#queuedKeys.add(key);
    this.#queue.push({ ...event, __key: key });
    this.#schedulePump();
  }

  /** True while a dispatch is running or events wait. */
  get busy(): boolean {
    return this.#inflight > 0 || this.#queue.length > 0;
  }

  /**
   * Dispatches start at the end of the event loop's I/O phase (setImmediate), not at each event: one
   * dispatch then carries everything the sockets delivered in this turn, however many dispatches may be in
   * flight. Events queued while MAX_INFLIGHT dispatches run wait for the next #onOps.
   */
  #schedulePump(): void {
    if (this.#pumpScheduled || this.#inflight >= MAX_INFLIGHT || this.#exclusive) return;
    this.#pumpScheduled = true;
    setImmediate(this.#runPump);
  }

  #pumpScheduled = false;
  readonly #runPump = (): void => {
    this.#pumpScheduled = false;
    this.#pump();
  };

  #pump(): void {
    // Several dispatches in flight: the isolate runs one while the event loop prepares the next and carries
    // out the ops of the previous one. The isolate runs them in order; ops and host requests reach the event
    // loop in the order the script made them (isolated-vm delivers both through one queue), so pipelining
    // changes no outcome.
    while (this.#inflight < MAX_INFLIGHT && !this.#dead && !this.#exclusive && this.#queue.length > 0) {
      const batch = this.#queue.length <= MAX_BATCH ? this.#queue : this.#queue.slice(0, MAX_BATCH);
      this.#queue = this.#queue.length <= MAX_BATCH ? [] : this.#queue.slice(MAX_BATCH);
      if (this.#queuedKeys.size > 0) for (const ev of batch) if (typeof ev.__key === 'string') this.#queuedKeys.delete(ev.__key);
      this.#inflight++;
      this.counters.batches++;
      for (const ev of batch) this.counters.events += ev.e === 'rcalls' ? (ev as RunEvent).c : 1;
      this.#startWatchdog();
      const args: unknown[] = [batch];
      if (this.#packLen > this.#packSent) {
        // The packed calls of this batch: those up to its last run (runs are queued in pack order). A
        // right-sized copy: the clone would otherwise carry the whole pack buffer.
        let last = -1;
        for (let i = batch.length - 1; i >= 0 && last < 0; i--) if (batch[i].e === 'rcalls') last = i;
        if (last >= 0) {
          const ev = batch[last] as RunEvent;
          const end = ev.o + ev.n;
          args.push(new Uint8Array(this.#pack.subarray(this.#packSent, end)), this.#packSent);
          this.#packSent = end;
        }
      }
      if (this.#queue.length === 0 && this.#packSent === this.#packLen) this.#packLen = this.#packSent = 0;
      (this.#dispatch.apply as (r: undefined, a: unknown[], o: ivm.ReferenceApplyOptions) => Promise<unknown>)
        .call(this.#dispatch, undefined, args, { arguments: { copy: true } })
        .then(
          // The dispatch's end is signalled by its ops call (#onOps), one thread hop earlier than this.
          () => undefined,
          (err: Error) => {
            this.#inflight--;
            if (this.#inflight === 0) this.#stopWatchdog();
            this.#die(this.#classify(err));
            if (this.#inflight === 0) this.#drained?.();
          },
        );
    }
  }

  /**
   * Ops of a finished dispatch (the sandbox hands them over with a fire-and-forget call); `statement` marks
   * those of a shell statement, which is not a dispatch.
   */
  #onOps(ops: unknown, statement?: unknown): void {
    if (statement !== true) {
      this.#inflight--;
      if (this.#inflight === 0) this.#stopWatchdog();
    }
    try {
      this.#processOps(ops);
    } catch (err) {
      this.log.error(`processing script ops failed: ${(err as Error).stack ?? err}`);
    }
    if (this.#inflight === 0) this.#drained?.();
    this.#schedulePump();
  }

  /** True when a running shell statement can be stopped on request (Ctrl-C) without losing the isolate. */
  get interruptible(): boolean {
    return this.#terminator !== null;
  }

  /**
   * Runs one shell statement in the isolate on its own: it waits for the dispatches in flight, runs with its
   * own wall-clock limit (isolated-vm's `timeout`, which stops the script and keeps the isolate), and can be
   * stopped by `run.signal` through the inspector's Runtime.terminateExecution. Events that arrive meanwhile
   * wait, as they would behind any busy event; the instance's MaxTimeOut watchdog does not count the
   * statement. No dispatch starts until a termination has been carried out, so it can only ever hit the
   * statement. Rejects only when the isolate itself is gone (memory limit, unload).
   */
  async evaluateStatement(code: string, filename: string, run: StatementRun): Promise<StatementOutcome> {
    if (this.#dead) throw this.#dead;
    if (this.#exclusive) throw new ScriptError('ERR_SCRIPT_BUSY', `${this.name} is already running a shell statement`);
    this.#exclusive = true;
    let terminated: Promise<void> | null = null;
    try {
      if (this.#inflight > 0) {
        await new Promise<void>((resolve) => {
          this.#drained = resolve;
          run.signal?.addEventListener('abort', () => resolve(), { once: true });
        });
        this.#drained = null;
      }
      if (this.#dead) throw this.#dead;
      if (run.signal?.aborted) return { kind: 'interrupted', started: false };
      const onAbort = (): void => {
        terminated ??= this.#terminate();
      };
      run.signal?.addEventListener('abort', onAbort, { once: true });
      Atomics.add(this.#progress, 0, 1);
      try {
        const value = await this.#evaluate.apply(undefined, [code, filename], {
          arguments: { copy: true },
          result: { copy: true },
          ...(run.timeoutMs > 0 ? { timeout: run.timeoutMs } : {}),
        });
        return { kind: 'done', value };
      } catch (err) {
        if (this.isolate.isDisposed || this.#dead) {
          const e = this.#classify(err as Error);
          this.#die(e);
          throw e;
        }
        // The inspector's termination rejects with null; isolated-vm's own timeout with its message.
        if (err === null && terminated) return { kind: 'interrupted', started: true };
        if (/timed out/i.test(String((err as Error)?.message ?? err))) return { kind: 'timedOut', ms: run.timeoutMs };
        throw new ScriptError('ERR_REPL_INTERNAL', `the statement's result could not be handed over: ${String((err as Error)?.message ?? err)}`);
      } finally {
        run.signal?.removeEventListener('abort', onAbort);
      }
    } finally {
      // A termination asked for is carried out (V8 answers once it has, even if the statement had ended):
      // only then may a dispatch start, so that it never hits one.
      if (terminated) await terminated;
      this.#exclusive = false;
      this.#drained = null;
      // What the statement queued before it was stopped goes out with the next dispatch.
      if (terminated && !this.#dead) this.post({ e: 'wake' });
      this.#schedulePump();
    }
  }

  /** Runtime.terminateExecution through the inspector; resolves when V8 has answered (or the isolate is gone). */
  #terminate(): Promise<void> {
    const session = this.#terminator;
    if (!session || this.isolate.isDisposed) return Promise.resolve();
    const id = ++this.#terminatorId;
    return new Promise<void>((resolve) => {
      this.#terminatorCalls.set(id, resolve);
      try {
        session.dispatchProtocolMessage(JSON.stringify({ id, method: 'Runtime.terminateExecution' }));
      } catch {
        this.#terminatorCalls.delete(id);
        resolve();
      }
    });
  }

  #classify(err: Error): ScriptError {
    if (this.#dead) return this.#dead;
    const msg = String(err?.message ?? err);
    if (/memory limit/i.test(msg) || (this.isolate.isDisposed && /disposed/i.test(msg))) {
      return new ScriptError('ERR_SCRIPT_MEMORY', `script of ${this.name} exceeded its memory limit`);
    }
    if (/timed out/i.test(msg)) {
      return new ScriptError('ERR_SCRIPT_TIMEOUT', `script of ${this.name} ran longer than its time limit`);
    }
    return new ScriptError('ERR_SCRIPT_FATAL', `script of ${this.name} failed: ${msg}`);
  }

  #startWatchdog(): void {
    if (this.#timeoutNs <= 0n || this.#watchdog) return;
    this.#lastProgress = -1;
    this.#watchdog = setInterval(() => this.#checkProgress(), WATCHDOG_MS);
    this.#watchdog.unref?.();
  }

  #stopWatchdog(): void {
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#watchdog = null;
  }

  #checkProgress(): void {
    if (this.#dead || this.isolate.isDisposed) return;
    const p = Atomics.load(this.#progress, 0);
    const cpu = this.isolate.cpuTime;
    const now = Date.now();
    if (this.#cpuShareExceeded(now, cpu)) return;
    if (p !== this.#lastProgress) {
      this.#lastProgress = p;
      this.#progressCpu = cpu;
      this.#progressWall = now;
      return;
    }
    if (cpu - this.#progressCpu > this.#timeoutNs) {
      this.#die(new ScriptError('ERR_SCRIPT_TIMEOUT', `script of ${this.name} ran longer than its time limit (${Number(this.#timeoutNs) / 1e9} s of CPU in one event)`));
      return;
    }
    // A script can also block without using CPU (Atomics.wait on a buffer of its own): a wall-clock
    // backstop, far above the CPU limit. Not while a debugger may hold it at a breakpoint.
    const wallLimitMs = Math.max(30_000, (Number(this.#timeoutNs) / 1e6) * 3);
    if (!this.#inspector && now - this.#progressWall > wallLimitMs) {
      this.#die(new ScriptError('ERR_SCRIPT_TIMEOUT', `script of ${this.name} has been blocked for ${Math.round(wallLimitMs / 1000)} s in one event`));
    }
  }

  #cpuShareExceeded(now: number, cpu: bigint): boolean {
    const samples = this.#cpuSamples;
    const last = samples[samples.length - 1];
    if (!last || now - last.wall >= 1000) samples.push({ wall: now, cpu });
    const windowMs = (Number(this.#timeoutNs) / 1e6) * 6;
    while (samples.length > 1 && now - samples[1]!.wall >= windowMs) samples.shift();
    const first = samples[0]!;
    const spanMs = now - first.wall;
    if (spanMs < windowMs - 1000) return false;
    const usedMs = Number(cpu - first.cpu) / 1e6;
    if (usedMs <= (spanMs * 5) / 6) return false;
    this.#die(
      new ScriptError(
        'ERR_SCRIPT_CPU_SHARE',
        `script of ${this.name} used ${(usedMs / 1000).toFixed(1)} s of CPU in ${(spanMs / 1000).toFixed(1)} s (at most 5/6 of a core over 6 x MaxTimeOut)`,
      ),
    );
    return true;
  }

  #processOps(ops: unknown): void {
    if (!Array.isArray(ops)) return;
    const rest: ScriptOp[] = [];
    for (const op of ops as ScriptOp[]) {
      if (op && op.op === 'results') {
        if (rest.length > 0) this.#host.processOps(rest.splice(0));
        this.#onResults(op.b as Uint8Array);
        continue;
      }
      if (op && op.op === 'done') {
        const w = this.#waiters.take(op.seq as number);
        if (w) {
          // Results are handed over after the ops that preceded them, preserving program order.
          if (rest.length > 0) this.#host.processOps(rest.splice(0));
          w(null, op.value);
        }
        continue;
      }
      rest.push(op);
    }
    if (rest.length > 0) this.#host.processOps(rest);
  }

  /** Encoded call results: records of [seq f64][length u32][AMF0 value] (sandbox/amf.js writeResult). */
  #onResults(b: Uint8Array): void {
    if (!b || typeof b.byteLength !== 'number') return;
    const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    let p = 0;
    while (p + 12 <= buf.length) {
      const seq = buf.readDoubleBE(p);
      const n = buf.readUInt32BE(p + 8);
      p += 12;
      if (p + n > buf.length) break;
      const w = this.#waiters.take(seq);
      if (w) {
        w(null, undefined, buf.subarray(p, p + n));
      }
      p += n;
    }
  }

  #onHostCall(ops: unknown, req: unknown): unknown {
    this.counters.hostCalls++;
    try {
      this.#processOps(ops);
      return { value: toIsolate(this.#host.request(req as HostRequest)) };
    } catch (err) {
      return { error: errorForScript(err) };
    }
  }

  async #onHostCallAsync(ops: unknown, req: unknown): Promise<unknown> {
    this.counters.hostCalls++;
    this.#asyncCalls++;
    let out: unknown;
    try {
      this.#processOps(ops);
      out = { value: toIsolate(await this.#host.requestAsync(req as HostRequest)) };
    } catch (err) {
      out = { error: errorForScript(err) };
    } finally {
      if (--this.#asyncCalls === 0 && this.#deferredDispose) {
        clearTimeout(this.#deferredDispose);
        this.#deferredDispose = null;
        setImmediate(() => this.#disposeIsolate());
      }
    }
    return new ivm.ExternalCopy(out).copyInto({ release: true });
  }

  /** Host calls the isolate's thread is blocked on (applySyncPromise), and a dispose that waits for them. */
  #asyncCalls = 0;
  #deferredDispose: NodeJS.Timeout | null = null;

  /**
   * Disposing an isolate whose thread waits in applySyncPromise can crash the process (isolated-vm issue
   * 333, seen here as a SIGSEGV at exit): the dispose waits until those host calls have answered, 2 s at most.
   */
  #disposeIsolate(): void {
    if (this.isolate.isDisposed) return;
    if (this.#asyncCalls > 0) {
      this.#deferredDispose ??= setTimeout(() => {
        this.#deferredDispose = null;
        if (!this.isolate.isDisposed) this.isolate.dispose();
      }, 2000);
      return;
    }
    this.isolate.dispose();
  }

  #die(err: ScriptError): void {
    if (this.#dead) return;
    this.#dead = err;
    this.#stopWatchdog();
    this.log.error(`${err.message} [${err.code}]`);
    this.#release();
    for (const w of this.#waiters.drain()) w(err);
    this.#queue = [];
    this.#packLen = this.#packSent = 0;
    try {
      this.#host.fatal(err);
    } catch (e) {
      this.log.error(`fatal handler failed: ${(e as Error).message}`);
    }
  }

  #release(): void {
    if (this.#memoryTimer) clearInterval(this.#memoryTimer);
    this.#memoryTimer = null;
    const hadInspector = this.#terminator !== null;
    if (this.#terminator) {
      try {
        this.#terminator.dispose();
      } catch {
        // gone with the isolate
      }
      this.#terminator = null;
    }
    for (const done of this.#terminatorCalls.values()) done();
    this.#terminatorCalls.clear();
    for (const r of this.#refs) r.release();
    this.#refs = [];
    try {
      this.#dispatch.release();
    } catch {
      // already gone with the isolate
    }
    // An isolate with an inspector session goes a moment after the session: disposing both in one turn
    // crashed the process now and then (SIGSEGV), as isolated-vm's issue 497 reports for the same order.
    if (hadInspector) setTimeout(() => this.#disposeIsolate(), 20);
    else this.#disposeIsolate();
  }

  /** Disposes the isolate (instance unload). Pending results are rejected. Idempotent. */
  dispose(): void {
    if (this.#dead) return;
    this.#dead = new ScriptError('ERR_SCRIPT_DISPOSED', `script of ${this.name} was unloaded`);
    this.#stopWatchdog();
    this.#release();
    for (const w of this.#waiters.drain()) w(this.#dead);
    this.#queue = [];
  }

  /** Heap use of the isolate in bytes (for getStats and memory reports). */
  heapUsed(): number {
    if (this.isolate.isDisposed) return 0;
    const h = this.isolate.getHeapStatisticsSync();
    return h.used_heap_size + h.externally_allocated_size;
  }
}

/**
 * V8's code cache of the sandbox source, produced by the first isolate and handed to every later one (all
 * isolates of the process compile the same text): instance start skips most of the parse.
 */
let sandboxCache: ivm.ExternalCopy<ArrayBuffer> | null = null;

async function compileSandbox(isolate: ivm.Isolate): Promise<ivm.Script> {
  const source = sandboxSource();
  if (sandboxCache !== null) {
    const script = await isolate.compileScript(source, { filename: 'ssas-sandbox.js', cachedData: sandboxCache });
    if (!(script as { cachedDataRejected?: boolean }).cachedDataRejected) return script;
    sandboxCache = null;
    script.release();
  }
  const script = await isolate.compileScript(source, { filename: 'ssas-sandbox.js', produceCachedData: true });
  const produced = (script as { cachedData?: ivm.ExternalCopy<ArrayBuffer> }).cachedData;
  if (produced) sandboxCache = produced;
  return script;
}

function errorForScript(err: unknown): { message: string; code?: string; name?: string } {
  if (isSsasError(err)) return { message: err.message, code: err.code, name: 'Error' };
  return { message: String((err as Error)?.message ?? err), name: 'Error' };
}
