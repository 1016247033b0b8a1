/**
 * The shell's hold on one application instance of a running Server: attaching (loading the instance if it
 * is not running, and keeping it loaded while attached), evaluating and completing in its sandbox, the
 * facts the dot-commands list (clients, streams, shared objects), reloading, and the instance's events
 * (trace output, status, clients and streams coming and going) as they happen.
 */
import * as path from 'node:path';
import { ScriptError, isSsasError } from '../errors';
import { addLogSink, type LogRecord } from '../logger';
import type { Server } from '../server/server';
import type { AppInstance } from '../server/app-instance';
import { SharedObjectFeature } from '../server/so-feature';
import { ScriptLogic } from '../script/script-logic';
import { readScriptSource } from '../script/discovery';
import { scriptSyntaxError } from './recoverable';
import type { EvalOutcome, ObjectNode, ValueNode } from './format';

export type ShellEventKind = 'trace' | 'status' | 'error';

export interface ShellEvent {
  kind: ShellEventKind;
  text: string;
}

export interface InstanceRow {
  name: string;
  state: string;
  clients: number;
  attached: boolean;
}

export interface AppRow {
  name: string;
  instances: InstanceRow[];
}

export interface ClientRow {
  id: string;
  ip: string;
  agent: string;
  state: string;
  address: string;
  bytesIn: number;
  bytesOut: number;
}

export interface StreamRow {
  name: string;
  state: string;
  publisher: string;
  subscribers: number;
  time: number;
  messages: number;
}

export interface SharedObjectRow {
  name: string;
  persistent: boolean;
  version: number;
  slots: number;
  subscribers: number;
}

/** How often client and stream changes are looked for (the server has no event for them). */
const WATCH_MS = 150;

export interface ShellSessionOptions {
  /** Wall-clock seconds one statement may run before it is stopped (the instance is kept); 0 = no limit. */
  statementTimeoutSec?: number;
}

/** The default of `ssas repl --statement-timeout`. */
export const DEFAULT_STATEMENT_TIMEOUT_SEC = 10;

/** Splits "app[/instance]" into its parts; the instance defaults to _definst_. */
export function parseTarget(spec: string): { app: string; instance: string } {
  const s = spec.trim().replace(/^\/+|\/+$/g, '');
  const i = s.indexOf('/');
  if (i < 0) return { app: s, instance: '_definst_' };
  return { app: s.slice(0, i), instance: s.slice(i + 1) || '_definst_' };
}

export class ShellSession {
  readonly server: Server;
  /** Called for each event of the attached instance. */
  onEvent: (ev: ShellEvent) => void = () => {};
  #target: { app: string; instance: string } | null = null;
  #instance: AppInstance | null = null;
  #release: (() => void) | null = null;
  #removeSink: () => void;
  #watch: NodeJS.Timeout;
  #seenClients = new Map<string, string>();
  #seenStreams = new Map<string, string>();
  readonly statementTimeoutSec: number;
  /** The statement being evaluated, which interrupt() stops. */
  #running: AbortController | null = null;

  constructor(server: Server, opts: ShellSessionOptions = {}) {
    this.server = server;
    this.statementTimeoutSec = opts.statementTimeoutSec ?? DEFAULT_STATEMENT_TIMEOUT_SEC;
    this.#removeSink = addLogSink((r) => this.#onLog(r));
    this.#watch = setInterval(() => this.#poll(), WATCH_MS);
    this.#watch.unref?.();
  }

  /** "app/instance" of the attached instance, or null. */
  get name(): string | null {
    return this.#target ? `${this.#target.app}/${this.#target.instance}` : null;
  }

  get instance(): AppInstance | null {
    return this.#instance;
  }

  /** Attaches to app[/instance], creating and loading it when it is not running. */
  async attach(spec: string): Promise<AppInstance> {
    const target = parseTarget(spec);
    const app = await this.server.findApplication(target.app);
    if (!app) throw new ScriptError('ERR_REPL_NO_APP', `no application "${target.app}" in ${this.server.config.appsDir}`);
    const before = { target: this.#target, instance: this.#instance, release: this.#release };
    this.#target = target;
    this.#instance = null;
    this.#release = null;
    try {
      const inst = await this.#ensure();
      before.release?.();
      return inst;
    } catch (err) {
      // Stay where we were: the instance that failed to load is already gone (#ensure may have held it).
      (this.#release as (() => void) | null)?.();
      this.#target = before.target;
      this.#instance = before.instance;
      this.#release = before.release;
      if (before.instance) this.#watchInstance(before.instance);
      throw err;
    }
  }

  /** The attached instance, loaded again when it stopped (time limit, shutdown, idle unload). */
  async #ensure(): Promise<AppInstance> {
    const t = this.#target;
    if (!t) throw new ScriptError('ERR_REPL_NOT_ATTACHED', 'no application instance selected (.use APP/INSTANCE)');
    let inst = this.#instance;
    if (inst && (inst.state === 'stopping' || inst.state === 'stopped')) inst = null;
    if (!inst) {
      const app = await this.server.findApplication(t.app);
      if (!app) throw new ScriptError('ERR_REPL_NO_APP', `application "${t.app}" is gone`);
      inst = await this.server.getInstance(app, t.instance);
      const hadOne = this.#instance !== null;
      this.#instance = inst;
      this.#release?.();
      this.#release = inst.hold();
      this.#watchInstance(inst);
      if (hadOne) this.onEvent({ kind: 'status', text: `${inst.name} loaded again` });
    }
    await inst.load();
    return inst;
  }

  #logic(inst: AppInstance): ScriptLogic {
    if (!(inst.logic instanceof ScriptLogic)) {
      throw new ScriptError('ERR_REPL_NO_SCRIPT', `${inst.name} has no script (no main.asc): there is nothing to evaluate`);
    }
    return inst.logic;
  }

  /**
   * True when Ctrl-C can stop a running statement of the attached instance without losing it (its isolate
   * was made interruptible: ssas repl); null when no script instance is attached.
   */
  get interruptible(): boolean | null {
    const logic = this.#instance?.logic;
    return logic instanceof ScriptLogic && logic.runtime ? logic.interruptible : null;
  }

  /** Stops the statement being evaluated, if any (Ctrl-C). Returns false when none runs. */
  interrupt(): boolean {
    if (!this.#running) return false;
    this.#running.abort();
    return true;
  }

  /**
   * Runs code at global scope in the instance, alone, for at most statementTimeoutSec. A statement stopped by
   * interrupt() or by its time limit rejects with ERR_REPL_INTERRUPTED / ERR_REPL_STATEMENT_TIMEOUT and leaves
   * the instance and its clients as they were; other host-side failures reject with their coded error.
   */
  async evaluate(code: string, filename: string): Promise<EvalOutcome> {
    const inst = await this.#ensure();
    const logic = this.#logic(inst);
    const ctl = new AbortController();
    this.#running = ctl;
    let outcome;
    try {
      outcome = await logic.evaluate(code, filename, { timeoutMs: Math.round(this.statementTimeoutSec * 1000), signal: ctl.signal });
    } finally {
      if (this.#running === ctl) this.#running = null;
    }
    if (outcome.kind === 'interrupted') {
      throw new ScriptError(
        'ERR_REPL_INTERRUPTED',
        outcome.started ? `interrupted: the statement was stopped; ${inst.name} and its clients are as they were` : 'interrupted before it started',
      );
    }
    if (outcome.kind === 'timedOut') {
      throw new ScriptError(
        'ERR_REPL_STATEMENT_TIMEOUT',
        `the statement ran for ${outcome.ms / 1000} s and was stopped (ssas repl --statement-timeout); ${inst.name} and its clients are as they were`,
      );
    }
    const out = outcome.value as EvalOutcome | { internalError?: string } | undefined;
    if (!out || !('ok' in out) || typeof out.ok !== 'boolean') {
      const why = out && 'internalError' in out ? String(out.internalError).split('\n')[0] : 'no answer';
      throw new ScriptError('ERR_REPL_INTERNAL', `the sandbox could not evaluate this: ${why}`);
    }
    if (out.ok) this.#annotate(out.value, inst);
    else if (out.thrown) this.#annotate(out.thrown, inst);
    return out;
  }

  /** Property names along `path` (global names when empty) that start with `prefix`. */
  async complete(pathNames: string[], prefix: string): Promise<string[]> {
    const inst = this.#instance;
    if (!inst || !inst.running || !(inst.logic instanceof ScriptLogic)) return [];
    try {
      const r = (await inst.logic.sandboxCall({ e: 'complete', path: pathNames, prefix })) as { names?: string[] } | undefined;
      return Array.isArray(r?.names) ? r!.names : [];
    } catch {
      return [];
    }
  }

  /** Runs a script file in the instance (`.load`); its file name appears in errors and stack traces. */
  async loadFile(file: string, cwd: string): Promise<EvalOutcome> {
    const abs = path.resolve(cwd, file);
    const code = await readScriptSource(abs);
    const rel = path.relative(cwd, abs).split(path.sep).join('/');
    const name = rel.startsWith('..') ? abs : rel;
    const error = scriptSyntaxError(code, name);
    if (error) return { ok: false, error };
    return this.evaluate(code, name);
  }

  /** Restarts the instance with its script as it is now on disk (Application.Shutdown, then a new load). */
  async reload(): Promise<AppInstance> {
    const inst = this.#instance;
    if (!this.#target) throw new ScriptError('ERR_REPL_NOT_ATTACHED', 'no application instance selected (.use APP/INSTANCE)');
    this.#release?.();
    this.#release = null;
    this.#instance = null;
    if (inst && inst.state !== 'stopped') await inst.unload('Application.Shutdown');
    return this.#ensure();
  }

  async listApps(): Promise<AppRow[]> {
    const rows: AppRow[] = [];
    for (const app of await this.server.listApplications()) {
      const instances: InstanceRow[] = [];
      for (const inst of this.server.instances.values()) {
        if (inst.app.name !== app.name) continue;
        instances.push({ name: inst.name, state: inst.state, clients: inst.clients.length, attached: inst === this.#instance });
      }
      instances.sort((a, b) => a.name.localeCompare(b.name));
      rows.push({ name: app.name, instances });
    }
    return rows;
  }

  clients(): ClientRow[] {
    const inst = this.#instance;
    if (!inst) return [];
    return Array.from(inst.sessions, (s) => ({
      id: s.client?.id ?? '?',
      ip: s.client?.ip ?? '',
      agent: s.client?.agent ?? '',
      state: inst.clients.includes(s) ? 'connected' : s.state,
      address: s.label,
      bytesIn: s.conn.stats.bytesIn,
      bytesOut: s.conn.stats.bytesOut,
    }));
  }

  streams(): StreamRow[] {
    const inst = this.#instance;
    if (!inst) return [];
    return Array.from(inst.streams.streams.values(), (s) => ({
      name: s.name,
      state: s.isPublishing ? 'publishing' : 'idle',
      publisher: s.publisher?.label ?? '',
      subscribers: s.subscribers.size,
      time: s.time,
      messages: s.messagesIn,
    })).sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * The instance's shared objects; null when this server has no shared-object support at all. An instance
   * whose manager was never needed has none yet.
   */
  sharedObjects(): SharedObjectRow[] | null {
    const feature = this.server.features.find((f): f is SharedObjectFeature => f instanceof SharedObjectFeature);
    if (!feature) return null;
    const inst = this.#instance;
    const mgr = inst ? feature.existing(inst) : undefined;
    if (!mgr) return [];
    return mgr
      .objects()
      .map((so) => ({ name: so.name, persistent: so.persistent, version: so.version, slots: so.size(), subscribers: so.subscriberCount }))
      .sort((a, b) => a.name.localeCompare(b.name) || Number(a.persistent) - Number(b.persistent));
  }

  /** Lets go of the instance (it may unload when idle) and stops listening to events. */
  dispose(): void {
    this.#removeSink();
    clearInterval(this.#watch);
    this.#release?.();
    this.#release = null;
  }

  // ----- events -------------------------------------------------------------------------------------------

  #onLog(r: LogRecord): void {
    const name = this.name;
    if (!name) return;
    if (r.namespace === `app:${name}`) {
      if (r.level === 'trace') this.onEvent({ kind: 'trace', text: r.message });
      else if (r.level !== 'debug') this.onEvent({ kind: r.level === 'error' ? 'error' : 'status', text: `${name}: ${r.message}` });
      return;
    }
    // The runtime's own report of a fatal stop repeats what the instance logs; warnings elsewhere matter.
    if (r.namespace === `script:${name}`) return;
    if ((r.level === 'warn' || r.level === 'error') && !r.namespace.startsWith('app:') && !r.namespace.startsWith('script:')) {
      this.onEvent({ kind: 'error', text: `${r.namespace}: ${r.message}` });
    }
  }

  #watchInstance(inst: AppInstance): void {
    this.#seenClients = new Map(inst.clients.map((s) => [s.client?.id ?? '', s.label]));
    this.#seenStreams = new Map(Array.from(inst.streams.streams.values(), (s) => [s.name, s.publisher?.label ?? '']));
  }

  #poll(): void {
    const t = this.#target;
    if (!t) return;
    // A client may have loaded the instance again after it stopped: follow the one the server has now.
    const live = this.server.instances.get(`${t.app}/${t.instance}`);
    if (live && live !== this.#instance && (live.state === 'running' || live.state === 'loading')) {
      this.#instance = live;
      this.#release?.();
      this.#release = live.hold();
      this.#watchInstance(live);
    }
    const inst = this.#instance;
    if (!inst || inst.state === 'stopped') return;
    const clients = new Map(inst.clients.map((s) => [s.client?.id ?? '', s]));
    for (const [id, s] of clients) {
      if (!this.#seenClients.has(id)) {
        const c = s.client;
        this.onEvent({ kind: 'status', text: `client ${id} connected from ${c?.ip ?? '?'}${c?.agent ? ` (${c.agent})` : ''}` });
      }
    }
    for (const id of this.#seenClients.keys()) if (!clients.has(id)) this.onEvent({ kind: 'status', text: `client ${id} disconnected` });
    this.#seenClients = new Map(Array.from(clients, ([id, s]) => [id, s.label]));
    const streams = new Map<string, string>();
    for (const s of inst.streams.streams.values()) if (s.publisher) streams.set(s.name, s.publisher.label);
    for (const [name, who] of streams) if (!this.#seenStreams.has(name)) this.onEvent({ kind: 'status', text: `stream ${name} published by ${who}` });
    for (const name of this.#seenStreams.keys()) if (!streams.has(name)) this.onEvent({ kind: 'status', text: `stream ${name} unpublished` });
    this.#seenStreams = streams;
  }

  /** Adds what only the host knows to host-object descriptions: a Stream's live state. */
  #annotate(node: ValueNode, inst: AppInstance, depth = 0): void {
    if (depth > 8 || node.t !== 'object') {
      if (node.t === 'function' && node.entries) for (const [, v] of node.entries) this.#annotate(v, inst, depth + 1);
      return;
    }
    const o = node as ObjectNode;
    if (o.kind === 'host' && o.cls === 'Stream' && typeof o.name === 'string') {
      const live = inst.streams.get(o.name.startsWith('flv:') ? o.name.slice(4) : o.name);
      const state = live?.publisher ? `publishing (${live.publisher.label})` : 'idle';
      (o.entries ??= []).push(['state', { t: 'string', v: state }]);
      if (live && live.subscribers.size > 0) o.entries.push(['subscribers', { t: 'number', v: String(live.subscribers.size) }]);
    }
    for (const it of o.items ?? []) this.#annotate(it, inst, depth + 1);
    for (const [, v] of o.entries ?? []) this.#annotate(v, inst, depth + 1);
  }
}

export function describeError(err: unknown): string {
  return isSsasError(err) ? `${err.message} [${err.code}]` : String((err as Error)?.message ?? err);
}
