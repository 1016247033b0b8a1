/**
 * One application instance ("app/instance", `_definst_` by default): its clients, its live streams and the
 * logic (script or default) that decides what happens. Created on first connect, unloaded when idle.
 */
import type { AppLogic, StopReason } from './app-logic';
import { LiveStreamRegistry } from './live-stream';
import type { ClientSession } from './session';
import { getLogger, type Logger } from '../logger';
import type { AppConfig } from '../script/app-config';
import type { VhostConfig } from './vhost-config';

export interface AppDefinition {
  /** Folder name = application name. */
  name: string;
  /** Absolute path of the application folder. */
  dir: string;
  /**
   * Set when nothing may be written inside the folder (the bundled samples, inside the installed package):
   * why, for the client and the log. Recordings are refused, persistent shared objects kept in memory only.
   */
  readOnly?: string;
}

export interface InstanceStats {
  bytes_in: number;
  bytes_out: number;
  msg_in: number;
  msg_out: number;
  msg_dropped: number;
  total_connects: number;
  total_disconnects: number;
  accepted: number;
  rejected: number;
  launch_time: Date;
}

export interface InstanceHost {
  /** Seconds an instance stays loaded after its last client left (MaxAppIdleTime). */
  idleTimeoutSec(instance: AppInstance): number;
  /** The server forgets the instance (after unload). */
  instanceUnloaded(instance: AppInstance): void;
  /** Server-wide settings from Vhost.xml (virtual keys and stream folders). */
  readonly vhost: VhostConfig;
  /** trace() lines an instance may log per second (the rest are dropped and counted). */
  readonly traceLinesPerSecond: number;
}

export class AppInstance {
  readonly app: AppDefinition;
  readonly instanceName: string;
  /** "app/instance", as application.name. */
  readonly name: string;
  readonly streams = new LiveStreamRegistry();
  /** Every session attached to this instance, pending or accepted. */
  readonly sessions = new Set<ClientSession>();
  /** Accepted clients in the order they were accepted (application.clients). */
  readonly clients: ClientSession[] = [];
  readonly log: Logger;
  readonly stats: InstanceStats;
  logic: AppLogic;
  /** The application's Application.xml settings (defaults when it has none). */
  appConfig: AppConfig | null = null;
  state: 'loading' | 'running' | 'stopping' | 'stopped' = 'loading';
  #host: InstanceHost;
  #idleTimer: NodeJS.Timeout | null = null;
  #loaded: Promise<void> | null = null;
  /** Resources (server streams, connections, shared objects) to close when the instance unloads; may be async. */
  readonly closers = new Set<() => void | Promise<void>>();
  /** Things other than clients that keep an idle instance alive (server-side streams, outgoing connections). */
  #holds = 0;

  /** Server-wide settings from Vhost.xml. */
  get traceLinesPerSecond(): number {
    return this.#host.traceLinesPerSecond;
  }

  get vhost(): VhostConfig {
    return this.#host.vhost;
  }

  constructor(host: InstanceHost, app: AppDefinition, instanceName: string, logic: AppLogic) {
    this.#host = host;
    this.app = app;
    this.instanceName = instanceName;
    this.name = `${app.name}/${instanceName}`;
    this.logic = logic;
    this.log = getLogger(`app:${this.name}`);
    this.stats = {
      bytes_in: 0,
      bytes_out: 0,
      msg_in: 0,
      msg_out: 0,
      msg_dropped: 0,
      total_connects: 0,
      total_disconnects: 0,
      accepted: 0,
      rejected: 0,
      launch_time: new Date(),
    };
  }

  /** Loads the logic once; every connect waits for it. */
  load(): Promise<void> {
    if (!this.#loaded) {
      this.#loaded = this.logic.load().then(
        () => {
          if (this.state === 'loading') this.state = 'running';
          this.#scheduleIdle();
        },
        (err) => {
          this.state = 'stopped';
          this.logic.dispose();
          this.#host.instanceUnloaded(this);
          throw err;
        },
      );
    }
    return this.#loaded;
  }

  get running(): boolean {
    return this.state === 'running';
  }

  attach(session: ClientSession): void {
    this.sessions.add(session);
    this.stats.total_connects++;
    this.#cancelIdle();
  }

  accepted(session: ClientSession): void {
    this.stats.accepted++;
    if (!this.clients.includes(session)) this.clients.push(session);
  }

  rejected(): void {
    this.stats.rejected++;
  }

  detach(session: ClientSession): void {
    if (!this.sessions.delete(session)) return;
    const i = this.clients.indexOf(session);
    if (i >= 0) this.clients.splice(i, 1);
    this.stats.total_disconnects++;
    const s = session.conn.stats;
    this.stats.bytes_in += s.bytesIn;
    this.stats.bytes_out += s.bytesOut;
    this.stats.msg_in += s.msgIn;
    this.stats.msg_out += s.msgOut;
    this.stats.msg_dropped += s.msgDropped;
    this.#scheduleIdle();
  }

  /** Keeps the instance loaded while something server-side needs it; returns the release function. */
  hold(): () => void {
    this.#holds++;
    this.#cancelIdle();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds--;
      this.#scheduleIdle();
    };
  }

  get idle(): boolean {
    return this.sessions.size === 0 && this.#holds === 0;
  }

  #cancelIdle(): void {
    if (this.#idleTimer) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = null;
    }
  }

  #scheduleIdle(): void {
    this.#cancelIdle();
    if (!this.idle || this.state !== 'running') return;
    const sec = this.#host.idleTimeoutSec(this);
    if (sec < 0) return;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = null;
      if (this.idle && this.state === 'running') void this.unload('Application.GC');
    }, sec * 1000);
    this.#idleTimer.unref?.();
  }

  /**
   * Unloads the instance. For Application.GC the logic may refuse (onAppStop returned false): the instance
   * stays and is checked again after the idle time. Returns true when it unloaded.
   */
  async unload(reason: StopReason, opts: { callOnStop?: boolean; description?: string } = {}): Promise<boolean> {
    if (this.state === 'stopping' || this.state === 'stopped') return this.state === 'stopped';
    const wasLoading = this.state === 'loading';
    if (opts.callOnStop !== false && !wasLoading) {
      let go = true;
      try {
        go = await this.logic.onStop(reason);
      } catch (err) {
        this.log.warn(`onAppStop failed: ${(err as Error).message}`);
      }
      if (!go && reason === 'Application.GC') {
        this.log.info('onAppStop returned false: staying loaded');
        this.#scheduleIdle();
        return false;
      }
    }
    this.state = 'stopping';
    this.#cancelIdle();
    // FMS (shutdown()): onAppStop, then clients are disconnected and onDisconnect runs for each; not when
    // the script is being stopped for running out of memory or time (callOnStop false).
    const notify = opts.callOnStop !== false && !wasLoading;
    for (const session of Array.from(this.sessions)) session.appShutdown(opts.description, notify);
    if (notify) {
      try {
        await this.logic.settle?.();
      } catch (err) {
        this.log.warn(`onDisconnect at unload failed: ${(err as Error).message}`);
      }
    }
    await Promise.all(
      Array.from(this.closers, async (close) => {
        try {
          await close();
        } catch (err) {
          this.log.warn(`closing a resource failed: ${(err as Error).message}`);
        }
      }),
    );
    this.closers.clear();
    this.logic.dispose();
    this.state = 'stopped';
    this.log.info(`unloaded (${reason})`);
    this.#host.instanceUnloaded(this);
    return true;
  }
}
