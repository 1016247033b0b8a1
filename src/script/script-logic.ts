/**
 * AppLogic for an application folder with a script: turns instance events into sandbox events and carries
 * out what the script does (the ops of sandbox/*.js) against sessions and the instance. This is where the
 * SSAS semantics of `application` and `Client` that need the server live (accept/reject/redirect, calls
 * with result objects, broadcastMsg, intervals, shutdown, statistics).
 */
import * as vm from 'node:vm';
import * as path from 'node:path';
import { decodeAmf0All, type AmfValue } from '../amf';
import { AmfError, ScriptError, isSsasError } from '../errors';
import { getLogger } from '../logger';
import type { AppLogic, CallOutcome, RawCall, StopReason } from '../server/app-logic';
import type { AppInstance } from '../server/app-instance';
import type { ClientSession } from '../server/session';
import type { LiveStream } from '../server/live-stream';
import { Status } from '../server/status';
import { ScriptRuntime, type HostRequest, type RuntimeHost, type ScriptOp, type StatementOutcome, type StatementRun } from './runtime';
import { fromIsolate, toIsolate } from './marshal';
import { BUNDLED_SCRIPTLIB, readScriptSource, resolveLoadPath } from './discovery';
import type { AppConfig } from './app-config';
import { checkBandwidth } from '../server/bandwidth';

const log = getLogger('script');

export interface ScriptFiles {
  main: string | null;
  secure: string | null;
}

export interface ScriptLogicOptions {
  instance: AppInstance;
  files: ScriptFiles;
  config: AppConfig;
  serverVersion: string;
  hostname: string;
  inspector?: boolean;
  /** Shell statements can be stopped on request without losing the isolate (ssas repl). */
  interruptible?: boolean;
  /** Script library folders searched by load() after the application's own ScriptLibPath. */
  scriptLibDirs: string[];
  /** Extra host request handlers and op handlers contributed by features (Stream, SharedObject...). */
  extensions?: ScriptExtension[];
}

/** A feature's part of the bridge: requests it answers and ops it carries out. */
export interface ScriptExtension {
  request?(logic: ScriptLogic, req: HostRequest): { value: AmfValue } | undefined;
  requestAsync?(logic: ScriptLogic, req: HostRequest): Promise<{ value: AmfValue }> | undefined;
  op?(logic: ScriptLogic, op: ScriptOp): boolean;
  /** A client call the extension routes itself (application.registerProxy); undefined = not its business. */
  clientCall?(logic: ScriptLogic, session: ClientSession, name: string, args: AmfValue[]): Promise<CallOutcome> | undefined;
  /** True when clientCall would route this name (then the call's arguments are decoded on the host). */
  routesCall?(logic: ScriptLogic, name: string): boolean;
  dispose?(logic: ScriptLogic): void;
}

/** Checks syntax with V8 in the host (no execution) to report file and line the way FMS logged them. */
export function checkSyntax(code: string, filename: string): ScriptError | null {
  try {
    new vm.Script(code, { filename });
    return null;
  } catch (err) {
    const e = err as Error;
    const m = /^(.*?):(\d+)\n/.exec(e.stack ?? '');
    const line = m ? Number(m[2]) : 0;
    const linebuf = line > 0 ? (code.split('\n')[line - 1] ?? '').trim() : '';
    return new ScriptError('ERR_SCRIPT_SYNTAX', `${filename}:${line}: ${e.name}: ${e.message}${linebuf ? ` (${linebuf})` : ''}`, {
      filename,
      lineno: line,
      linebuf,
    });
  }
}

export class ScriptLogic implements AppLogic, RuntimeHost {
  readonly instance: AppInstance;
  readonly files: ScriptFiles;
  readonly config: AppConfig;
  runtime: ScriptRuntime | null = null;
  readonly sessions = new Map<string, ClientSession>();
  #intervals = new Map<number, NodeJS.Timeout>();
  #intervalWarnedAt = 0;
  #opts: ScriptLogicOptions;
  #disposed = false;
  readonly extensions: ScriptExtension[];

  constructor(opts: ScriptLogicOptions) {
    this.#opts = opts;
    this.instance = opts.instance;
    this.files = opts.files;
    this.config = opts.config;
    this.extensions = opts.extensions ?? [];
  }

  /** File name shown in errors and stack traces: relative to the application folder. */
  displayName(file: string): string {
    const rel = path.relative(this.instance.app.dir, file);
    return (rel.startsWith('..') ? file : rel).split(path.sep).join('/');
  }

  async #readChecked(file: string): Promise<{ code: string; filename: string }> {
    const code = await readScriptSource(file);
    const filename = this.displayName(file);
    const err = checkSyntax(code, filename);
    if (err) throw err;
    return { code, filename };
  }

  async load(): Promise<void> {
    const secure = this.files.secure ? await this.#readChecked(this.files.secure) : null;
    const main = this.files.main ? await this.#readChecked(this.files.main) : null;
    const rt = await ScriptRuntime.create({
      name: this.instance.name,
      memoryMB: this.config.scriptMemoryMB,
      timeoutSec: this.config.scriptTimeoutSec,
      inspector: this.#opts.inspector,
      interruptible: this.#opts.interruptible,
      boot: {
        name: this.instance.name,
        server: `Flash Media Server/${this.#opts.serverVersion} (ssas)`,
        hostname: this.#opts.hostname,
        config: this.config.config,
        allowDebug: this.config.allowDebugDefault,
        ncObjectEncoding: this.config.objectEncoding,
      },
      host: this,
    });
    if (this.#disposed) {
      rt.dispose();
      throw new ScriptError('ERR_SCRIPT_DISPOSED', 'instance unloaded while loading');
    }
    this.runtime = rt;
    await rt.call({ e: 'start', secure, main });
  }

  // --- AppLogic --------------------------------------------------------------------------------------------

  /**
   * Runs code at global scope in the instance (the shell), on its own and with its own limits (see
   * ScriptRuntime.evaluateStatement). A finished statement's value is the sandbox's description of the
   * result, or of the error it threw.
   */
  async evaluate(code: string, filename = 'repl', run: StatementRun = { timeoutMs: 0 }): Promise<StatementOutcome> {
    const rt = this.runtime;
    if (!rt) throw new ScriptError('ERR_SCRIPT_NOT_RUNNING', `${this.instance.name} is not running`);
    return rt.evaluateStatement(code, filename, run);
  }

  /** True when a running statement can be stopped on request without losing the instance. */
  get interruptible(): boolean {
    return this.runtime?.interruptible === true;
  }

  /** Sends any event to the sandbox and resolves with its handler's result (shell completion, inspection). */
  async sandboxCall(event: { e: string; [k: string]: unknown }): Promise<unknown> {
    const rt = this.runtime;
    if (!rt) throw new ScriptError('ERR_SCRIPT_NOT_RUNNING', `${this.instance.name} is not running`);
    return rt.call(event);
  }

  onConnect(session: ClientSession, args: AmfValue[]): void {
    const rt = this.runtime;
    const client = session.client!;
    if (!rt) {
      session.reject({ message: 'application is not running' });
      return;
    }
    this.sessions.set(client.id, session);
    rt.call({ e: 'connect', cid: client.id, client: toIsolate(client.snapshot()), args: toIsolate(args) }).catch((err) => {
      // The instance died during onConnect; the unload already told the client.
      log.debug(`connect of ${client.id} failed: ${(err as Error).message}`);
    });
  }

  onDisconnect(session: ClientSession): void {
    const id = session.client?.id;
    if (!id || !this.runtime) return;
    this.runtime.post({ e: 'disconnect', cid: id });
    this.sessions.delete(id);
  }


  onCall(session: ClientSession, name: string, args: AmfValue[], respond: (outcome: CallOutcome) => void): void {
    const rt = this.runtime;
    if (!rt) {
      respond({ kind: 'error', info: Status.callFailed('Application is not running.') });
      return;
    }
    for (const ext of this.extensions) {
      const routed = ext.clientCall?.(this, session, name, args);
      if (routed) {
        routed.then(respond, (err) => respond({ kind: 'error', info: Status.callFailed(String((err as Error)?.message ?? err)) }));
        return;
      }
    }
    rt.callback({ e: 'call', cid: session.client!.id, name, args: toIsolate(args) }, (err, value) => {
      if (err) respond({ kind: 'error', info: Status.callFailed(err.message) });
      else this.#respondWith(value, respond);
    });
  }

  /**
   * The fast path of client calls: the arguments stay the AMF0 bytes the client sent until the sandbox
   * decodes them, and a plain-data result comes back encoded (see ScriptRuntime.rawCall).
   */
  onRawCall(session: ClientSession, call: RawCall, respond: (outcome: CallOutcome) => void): void {
    const rt = this.runtime;
    if (!rt || this.extensions.some((ext) => ext.routesCall?.(this, call.name))) {
      this.onCall(session, call.name, call.decodeArgs(), respond);
      return;
    }
    rt.rawCall(session.client!.id, call.name, call.args, (err, value, encoded) => {
      if (encoded) respond({ kind: 'encoded', bytes: encoded });
      else if (err) respond({ kind: 'error', info: Status.callFailed(err.message) });
      else {
        const bad = (value as { badArgs?: { code: string; message: string } } | undefined)?.badArgs;
        if (bad) respond({ kind: 'badInput', error: new AmfError(bad.code as never, bad.message) });
        else this.#respondWith(value, respond);
      }
    });
  }

  #respondWith(value: unknown, respond: (outcome: CallOutcome) => void): void {
    const r = value as { notFound?: boolean; value?: unknown; error?: Record<string, AmfValue>; internalError?: string } | undefined;
    if (!r || r.notFound) respond({ kind: 'notFound' });
    else if (r.error) respond({ kind: 'error', info: { level: 'error', code: 'NetConnection.Call.Failed', ...(r.error as object) } });
    else if (r.internalError) respond({ kind: 'error', info: Status.callFailed('Internal error.') });
    else respond({ kind: 'result', value: fromIsolate(r.value) });
  }

  onPublish(session: ClientSession, stream: LiveStream): void {
    this.runtime?.post({ e: 'publish', cid: session.client!.id, stream: stream.name, query: stream.publishQueryString });
  }

  onUnpublish(session: ClientSession, stream: LiveStream): void {
    this.runtime?.post({ e: 'unpublish', cid: session.client!.id, stream: stream.name });
  }

  async onStop(reason: StopReason): Promise<boolean> {
    const rt = this.runtime;
    if (!rt || rt.dead) return true;
    try {
      return (await rt.call({ e: 'stop', code: reason })) !== false;
    } catch {
      return true;
    }
  }

  async settle(): Promise<void> {
    const rt = this.runtime;
    if (!rt || rt.dead) return;
    // Events run in order: when this one answers, every event posted before it has run.
    await rt.call({ e: 'settle' }).catch(() => undefined);
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const t of this.#intervals.values()) clearInterval(t);
    this.#intervals.clear();
    for (const ext of this.extensions) ext.dispose?.(this);
    this.runtime?.dispose();
    this.sessions.clear();
  }

  // --- RuntimeHost -----------------------------------------------------------------------------------------

  processOps(ops: ScriptOp[]): void {
    for (const op of ops) {
      try {
        this.#op(op);
      } catch (err) {
        log.warn(`${this.instance.name}: op ${op.op} failed: ${isSsasError(err) ? `${err.code}: ${err.message}` : (err as Error).message}`);
      }
    }
  }

  session(cid: unknown): ClientSession | undefined {
    return typeof cid === 'string' ? this.sessions.get(cid) : undefined;
  }

  /** trace() rate: lines in the current second, and lines dropped since the last report. */
  #traceSecond = 0;
  #traceLines = 0;
  #traceDropped = 0;
  #traceReport: NodeJS.Timeout | null = null;

  #trace(msg: string): void {
    const now = Math.floor(Date.now() / 1000);
    if (now !== this.#traceSecond) {
      this.#traceSecond = now;
      this.#traceLines = 0;
    }
    if (++this.#traceLines <= this.instance.traceLinesPerSecond) {
      // A line longer than 64 KB is cut (the rest would only fill the log).
      this.instance.log.trace(msg.length > 65_536 ? `${msg.slice(0, 65_536)}... (${msg.length} characters)` : msg);
      return;
    }
    this.#traceDropped++;
    if (this.#traceReport) return;
    this.#traceReport = setTimeout(() => {
      this.#traceReport = null;
      const n = this.#traceDropped;
      this.#traceDropped = 0;
      if (n > 0) this.instance.log.warn(`${n} trace() lines dropped: more than ${this.instance.traceLinesPerSecond} per second [ERR_TRACE_RATE]`);
    }, 1000);
    this.#traceReport.unref?.();
  }

  #op(op: ScriptOp): void {
    switch (op.op) {
      case 'trace':
        this.#trace(String(op.msg));
        return;
      case 'scriptError': {
        const i = op.info as Record<string, unknown>;
        this.instance.log.error(`Application.Script.Error: ${i.description}${i.filename ? ` (${i.filename}:${i.lineno})` : ''}`);
        return;
      }
      case 'internalError':
        this.instance.log.error(`sandbox internal error: ${op.message}`);
        return;
      case 'unhandledStatus': {
        const i = fromIsolate(op.info) as Record<string, AmfValue>;
        this.instance.log.info(`unhandled status ${i?.code} (${i?.level})${i?.description ? `: ${i.description}` : ''}`);
        return;
      }
      case 'accept':
        this.session(op.cid)?.accept();
        return;
      case 'reject':
        this.session(op.cid)?.reject(op.application === undefined ? undefined : fromIsolate(op.application));
        return;
      case 'redirect':
        this.session(op.cid)?.redirect(
          String(op.url),
          typeof op.description === 'string' ? op.description : undefined,
          op.application === undefined ? undefined : fromIsolate(op.application),
        );
        return;
      case 'call': {
        const s = this.session(op.cid);
        const rid = Number(op.rid);
        const args = (fromIsolate(op.args) as AmfValue[]) ?? [];
        if (!s) {
          if (rid > 0) this.runtime?.post({ e: 'response', rid, ok: false, value: toIsolate(Status.callFailed('Client is not connected.')) });
          return;
        }
        const p = s.call(String(op.method), rid > 0, args);
        if (p && rid > 0) {
          void p.then((outcome) => {
            this.runtime?.post({ e: 'response', rid, ok: outcome.ok, value: toIsolate(outcome.ok ? outcome.value : outcome.info) });
          });
        }
        return;
      }
      case 'broadcast': {
        const args = (fromIsolate(op.args) as AmfValue[]) ?? [];
        for (const s of this.instance.clients) s.call(String(op.method), false, args);
        return;
      }
      case 'disconnect':
        this.session(op.cid)?.disconnect();
        return;
      case 'clientSet': {
        const c = this.session(op.cid)?.client;
        const key = String(op.key);
        if (c && (key === 'readAccess' || key === 'writeAccess' || key === 'audioSampleAccess' || key === 'videoSampleAccess' || key === 'virtualKey')) {
          c[key] = String(op.value);
        }
        return;
      }
      case 'setBandwidthLimit': {
        const s = this.session(op.cid);
        const c = s?.client;
        if (!s || !c) return;
        // 0 leaves a direction unchanged; Application.xml Client/BandwidthCap bounds what a script may grant.
        const cap = this.config.bandwidthCap;
        const bound = (v: number, max: number | undefined): number => (max !== undefined && max > 0 ? Math.min(v, max) : v);
        if (Number(op.down) > 0) c.bandwidthLimitDown = bound(Number(op.down), cap.down);
        if (Number(op.up) > 0) {
          c.bandwidthLimitUp = bound(Number(op.up), cap.up);
          s.conn.setInboundLimit(c.bandwidthLimitUp);
        }
        return;
      }
      case 'checkBandwidth': {
        const s = this.session(op.cid);
        if (s) void checkBandwidth(s, this.config.bandwidthDetection);
        return;
      }
      case 'setInterval': {
        const id = Number(op.id);
        const ms = Math.max(1, Number(op.ms) || 0);
        const old = this.#intervals.get(id);
        if (old) clearInterval(old);
        const t = setInterval(() => this.runtime?.postUnique({ e: 'interval', id }, `interval:${id}`), ms);
        t.unref?.();
        this.#intervals.set(id, t);
        return;
      }
      case 'intervalRefused': {
        const now = Date.now();
        if (now - this.#intervalWarnedAt >= 1000) {
          this.#intervalWarnedAt = now;
          this.instance.log.warn(`setInterval refused: the instance has ${Number(op.limit)} intervals, its limit [ERR_INTERVAL_LIMIT]`);
        }
        return;
      }
      case 'clearInterval': {
        const t = this.#intervals.get(Number(op.id));
        if (t) clearInterval(t);
        this.#intervals.delete(Number(op.id));
        return;
      }
      case 'wake':
        // The sandbox has events of its own waiting (S.later): a dispatch runs them.
        this.runtime?.post({ e: 'wake' });
        return;
      case 'shutdown':
        // application.shutdown(): asynchronous, after the current event finished.
        setImmediate(() => void this.instance.unload('Application.Shutdown'));
        return;
      default:
        for (const ext of this.extensions) if (ext.op?.(this, op)) return;
        log.warn(`${this.instance.name}: unknown script op ${op.op}`);
    }
  }

  request(req: HostRequest): AmfValue {
    switch (req.t) {
      case 'appStats':
        return this.#appStats();
      case 'bandwidthLimit': {
        const c = this.session(req.cid)?.client;
        return c ? (req.direction === 0 ? c.bandwidthLimitUp : c.bandwidthLimitDown) : 0;
      }
      case 'clientStats': {
        const s = this.session(req.cid);
        return s ? clientStats(s) : null;
      }
      case 'decodeArgs': {
        // A fast-path call whose arguments sandbox/amf.js does not decode itself (AMF3, XML, odd UTF-8...);
        // malformed bytes throw the codec's coded error, which closes the caller's connection.
        const b = req.b as Uint8Array;
        return decodeAmf0All(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
      }
    }
    for (const ext of this.extensions) {
      const r = ext.request?.(this, req);
      if (r) return r.value;
    }
    throw new ScriptError('ERR_SCRIPT_UNKNOWN_REQUEST', `unknown host request ${req.t}`);
  }

  async requestAsync(req: HostRequest): Promise<AmfValue> {
    if (req.t === 'load') return (await this.#load(String(req.path))) as unknown as AmfValue;
    if (req.t === 'ping') {
      const s = this.session(req.cid);
      if (!s || s.state !== 'connected') return false;
      return (await s.conn.ping(5000)) >= 0;
    }
    for (const ext of this.extensions) {
      const r = ext.requestAsync?.(this, req);
      if (r) return (await r).value;
    }
    throw new ScriptError('ERR_SCRIPT_UNKNOWN_REQUEST', `unknown host request ${req.t}`);
  }

  fatal(err: ScriptError): void {
    // FMS: out of memory unloads the instance without onDisconnect/onAppStop; clients get AppShutdown.
    this.instance.log.error(`instance stopped: ${err.message}`);
    void this.instance.unload('Application.Shutdown', { callOnStop: false, description: `The application instance was shut down: ${err.message}` });
  }

  /** load(): resolve (app folder, then the script libraries), read and syntax-check a script file. */
  async #load(requested: string): Promise<{ code: string; filename: string }> {
    const mainDir = this.files.main ? path.dirname(this.files.main) : this.instance.app.dir;
    const file = await resolveLoadPath(mainDir, requested, [...this.config.scriptLibPath, ...this.#opts.scriptLibDirs, BUNDLED_SCRIPTLIB], {
      appDir: this.instance.app.dir,
    });
    return this.#readChecked(file);
  }

  #appStats(): AmfValue {
    const st = this.instance.stats;
    let bytesIn = st.bytes_in;
    let bytesOut = st.bytes_out;
    let msgIn = st.msg_in;
    let msgOut = st.msg_out;
    let dropped = st.msg_dropped;
    for (const s of this.instance.sessions) {
      bytesIn += s.conn.stats.bytesIn;
      bytesOut += s.conn.stats.bytesOut;
      msgIn += s.conn.stats.msgIn;
      msgOut += s.conn.stats.msgOut;
      dropped += s.conn.stats.msgDropped;
    }
    return {
      bytes_in: bytesIn,
      bytes_out: bytesOut,
      msg_in: msgIn,
      msg_out: msgOut,
      msg_dropped: dropped,
      total_connects: st.total_connects,
      total_disconnects: st.total_disconnects,
      accepted: st.accepted,
      rejected: st.rejected,
      connected: this.instance.clients.length,
      launch_time: st.launch_time,
      normal_connects: st.total_connects,
      virtual_connects: 0,
      group_connects: 0,
      service_connects: 0,
      service_requests: 0,
      admin_connects: 0,
      debug_connects: 0,
      total_instances_loaded: 1,
    };
  }
}

export function clientStats(s: ClientSession): AmfValue {
  const c = s.conn.stats;
  const bw = s.bandwidth();
  return {
    bytes_in: c.bytesIn,
    bytes_out: c.bytesOut,
    msg_in: c.msgIn,
    msg_out: c.msgOut,
    msg_dropped: c.msgDropped,
    ping_rtt: s.conn.pingRtt,
    audio_queue_msgs: 0,
    video_queue_msgs: 0,
    so_queue_msgs: 0,
    data_queue_msgs: 0,
    dropped_audio_msgs: c.droppedAudioMsgs,
    dropped_video_msgs: c.droppedVideoMsgs,
    // ssas keeps no queue per message type: what waits to be written to the client is reported as video.
    audio_queue_bytes: 0,
    video_queue_bytes: s.conn.backlog,
    so_queue_bytes: 0,
    data_queue_bytes: 0,
    dropped_audio_bytes: c.droppedAudioBytes,
    dropped_video_bytes: c.droppedVideoBytes,
    bw_out: bw.out,
    bw_in: bw.in,
    client_id: s.client?.id ?? '',
  };
}

