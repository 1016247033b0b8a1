/**
 * The ssas server: listens for RTMP, maps connect requests onto application folders and their instances,
 * and shuts everything down cleanly. Every sub-folder of the apps folder is an application, as on FMS.
 */
import { createServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { resolveServerConfig, type PartialServerConfig, type ServerConfig } from '../config';
import { getLogger } from '../logger';
import { RtmpConnection } from '../net/rtmp-connection';
import { RtmfpServer } from '../net/rtmfp-server';
import type { MessageConnection } from './connection';
import { configureWriteScheduler } from '../net/write-scheduler';
import { configurePendingBudget } from '../net/rtmp-connection';
import { repairInterruptedRecordings } from './crash-repair';
import { DefaultLogic, type AppLogic } from './app-logic';
import { AppInstance, type AppDefinition, type InstanceHost } from './app-instance';
import type { ServerContext } from './server-context';
import { ClientSession, type SessionStream } from './session';
import type { LiveStream } from './live-stream';
import type { RtmpMessage } from '../rtmp/types';
import { NetError, SsasError } from '../errors';
import { defaultVhostConfig, loadVhostConfig, virtualKeyFor, type VhostConfig } from './vhost-config';
import { AccessEvents, type AccessEventName, type AccessFacts } from './access-log';

const log = getLogger('server');

/** Builds the logic of a new instance (script runtime or default). */
export type LogicFactory = (instance: AppInstance, server: Server) => AppLogic | Promise<AppLogic>;

/** Optional features layered on the core (recording/VOD, shared objects); each may leave a hook undefined. */
export interface ServerFeature {
  streamLength?(instance: AppInstance, name: string, virtualKey?: string): Promise<number | null>;
  playFile?(session: ClientSession, stream: SessionStream, name: string, start: number, len: number, reset: boolean): boolean;
  onPublishStarted?(session: ClientSession, stream: SessionStream, live: LiveStream, mode: string): void;
  onPublishStopped?(session: ClientSession, stream: SessionStream, live: LiveStream): void;
  onSharedObjectMessage?(session: ClientSession, msg: RtmpMessage): boolean;
  onInstanceCreated?(instance: AppInstance): void;
  /** A session is gone (after its instance's onDisconnect). */
  onSessionClosed?(session: ClientSession): void;
  /** Server shutdown, after every session closed: finish what is still being written. */
  close?(): Promise<void>;
}

export interface ServerOptions extends PartialServerConfig {
  logicFactory?: LogicFactory;
  /** Seconds an idle instance stays loaded, when its Application.xml does not say (MaxAppIdleTime). */
  defaultIdleTimeoutSec?: number;
  /** Nothing may be written in the applications folder (the bundled samples): why (see AppDefinition.readOnly). */
  appsReadOnly?: string;
}

export class Server implements ServerContext, InstanceHost {
  readonly config: ServerConfig;
  readonly instances = new Map<string, AppInstance>();
  readonly sessions = new Set<ClientSession>();
  readonly features: ServerFeature[] = [];
  #net: NetServer | null = null;
  #rtmfp: RtmfpServer | null = null;
  #logicFactory: LogicFactory;
  #creating = new Map<string, Promise<AppInstance>>();
  #closing = false;
  defaultIdleTimeoutSec: number;
  readonly appsReadOnly: string | undefined;
  /** `<appsDir>/Vhost.xml`, read by listen(); Stream.setVirtualPath changes its mappings in memory, as on FMS. */
  vhost: VhostConfig = defaultVhostConfig();
  /** Client events (connect, publish, play...): each is a console line, and a line of the access log when one listens. */
  readonly accessEvents = new AccessEvents();

  constructor(opts: ServerOptions = {}) {
    const { logicFactory, defaultIdleTimeoutSec, appsReadOnly, ...cfg } = opts;
    this.appsReadOnly = appsReadOnly;
    this.config = resolveServerConfig(cfg);
    this.config.appsDir = path.resolve(this.config.appsDir);
    configureWriteScheduler({ batchMs: this.config.writeBatchMs, threshold: this.config.writeBatchThreshold });
    configurePendingBudget(this.config.limits.maxServerPendingBytes);
    this.#logicFactory = logicFactory ?? (() => new DefaultLogic());
    this.defaultIdleTimeoutSec = defaultIdleTimeoutSec ?? 60;
  }

  /**
   * Reads `<appsDir>/Vhost.xml` and starts listening; resolves with the bound address (port 0 picks a free
   * port). A malformed Vhost.xml rejects with its ConfigError.
   */
  async listen(): Promise<{ host: string; port: number; url: string; rtmfpUrl: string | null }> {
    this.vhost = await loadVhostConfig(this.config.appsDir);
    this.vhost.extraRoots = this.config.virtualPathRoots.map((d) => path.resolve(d));
    if (this.vhost.file) log.info(`virtual keys and directories from ${this.vhost.file}`);
    if (this.vhost.appDefaults) log.info(`settings for every application from ${this.vhost.appDefaults.config.file}`);
    if (!this.appsReadOnly) {
      // Recordings a crash interrupted are completed before anyone can play them.
      const roots = (await this.listApplications()).map((a) => path.join(a.dir, 'streams'));
      for (const m of this.vhost.virtualDirectories) roots.push(m.dir);
      await repairInterruptedRecordings(roots);
    }
    const tcp = await new Promise<{ host: string; port: number; url: string }>((resolve, reject) => {
      const srv = createServer((socket) => this.#accept(socket));
      srv.on('error', (err: NodeJS.ErrnoException) => {
        reject(new NetError(err.code === 'EADDRINUSE' ? 'ERR_NET_ADDRESS_IN_USE' : 'ERR_NET_LISTEN', err.message));
      });
      srv.listen(this.config.port, this.config.host, () => {
        const addr = srv.address() as AddressInfo;
        this.#net = srv;
        resolve({ host: this.config.host, port: addr.port, url: `rtmp://${hostForUrl(this.config.host)}:${addr.port}` });
      });
    });
    const rtmfpUrl = await this.#listenRtmfp(tcp.port);
    return { ...tcp, rtmfpUrl };
  }

  /** RTMFP on UDP (RFC 7016/7425): same port number as RTMP unless configured otherwise. */
  async #listenRtmfp(tcpPort: number): Promise<string | null> {
    const configured = this.config.rtmfpPort;
    if (configured === 0) return null;
    const port = configured ?? tcpPort;
    try {
      this.#rtmfp = await RtmfpServer.listen({
        host: this.config.host,
        port,
        negotiation: { requireHmac: this.config.rtmfpRequireHmac, requireSequence: this.config.rtmfpRequireSequence, hmacLength: 10 },
        limits: this.config.rtmfpLimits,
        sessionLimits: this.config.rtmfpSessionLimits,
        onConnection: (conn) => this.#acceptConnection(conn),
      });
    } catch (err) {
      if (configured !== null) {
        this.#net?.close();
        this.#net = null;
        throw err;
      }
      log.warn(`RTMFP not started: UDP port ${port} is not free (${(err as Error).message}); use --rtmfp-port`);
      return null;
    }
    return `rtmfp://${hostForUrl(this.config.host)}:${this.#rtmfp.port}`;
  }

  /** The RTMFP listener, when it runs (tests, stats). */
  get rtmfp(): RtmfpServer | null {
    return this.#rtmfp;
  }

  get rtmfpPort(): number {
    return this.#rtmfp?.port ?? 0;
  }

  get port(): number {
    const a = this.#net?.address();
    return a && typeof a === 'object' ? a.port : 0;
  }

  get url(): string {
    return `rtmp://${hostForUrl(this.config.host)}:${this.port}`;
  }

  #accept(socket: Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    this.#acceptConnection(new RtmpConnection(socket, { role: 'server', limits: this.config.limits }));
  }

  /** Connections per remote address, and refusals (for the log line). */
  readonly #perAddress = new Map<string, number>();
  #refusedConnections = 0;
  #refusedLoggedAt = 0;

  /** Why a new connection from `address` is over a limit, or null. */
  #overConnectionLimit(address: string): string | null {
    const max = this.vhost.maxConnections ?? this.config.maxConnections;
    if (this.sessions.size >= max) return `the server has ${this.sessions.size} connections, its limit (MaxConnections ${max})`;
    const perAddress = this.config.maxConnectionsPerAddress;
    const here = this.#perAddress.get(address) ?? 0;
    if (perAddress > 0 && here >= perAddress) return `${address} has ${here} connections, the limit per address`;
    return null;
  }

  /** Every transport's new connection becomes a client session here. */
  #acceptConnection(conn: MessageConnection): void {
    if (this.#closing) {
      conn.destroy();
      return;
    }
    const refused = this.#overConnectionLimit(conn.remoteAddress);
    if (refused) {
      this.#refusedConnections++;
      const now = Date.now();
      if (now - this.#refusedLoggedAt >= 1000) {
        this.#refusedLoggedAt = now;
        log.warn(`connection from ${conn.remoteAddress} refused: ${refused} (${this.#refusedConnections} refused so far) [ERR_CONNECTION_LIMIT]`);
      }
      conn.destroy(new NetError('ERR_CONNECTION_LIMIT', refused));
      return;
    }
    const addr = conn.remoteAddress;
    this.#perAddress.set(addr, (this.#perAddress.get(addr) ?? 0) + 1);
    const session = new ClientSession(conn, this);
    this.sessions.add(session);
    session.onClosed = () => {
      const n = (this.#perAddress.get(addr) ?? 1) - 1;
      if (n > 0) this.#perAddress.set(addr, n);
      else this.#perAddress.delete(addr);
      this.sessions.delete(session);
      for (const f of this.features) f.onSessionClosed?.(session);
    };
  }

  // ----- applications -------------------------------------------------------------------------------------

  async findApplication(name: string): Promise<AppDefinition | null> {
    if (!/^[^/\\:*?"<>|]+$/.test(name) || name.startsWith('.')) return null;
    const dir = path.join(this.config.appsDir, name);
    try {
      const st = await fsp.stat(dir);
      return st.isDirectory() ? this.#definition(name, dir) : null;
    } catch {
      return null;
    }
  }

  /** Lists the applications (sub-folders) of the apps folder. */
  async listApplications(): Promise<AppDefinition[]> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fsp.readdir(this.config.appsDir, { withFileTypes: true });
    } catch {
      return [];
    }
    return entries
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => this.#definition(e.name, path.join(this.config.appsDir, e.name)))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  #definition(name: string, dir: string): AppDefinition {
    return this.appsReadOnly ? { name, dir, readOnly: this.appsReadOnly } : { name, dir };
  }

  async getInstance(app: AppDefinition, instanceName: string): Promise<AppInstance> {
    const key = `${app.name}/${instanceName}`;
    const existing = this.instances.get(key);
    if (existing && existing.state !== 'stopping' && existing.state !== 'stopped') return existing;
    let creating = this.#creating.get(key);
    if (!creating) {
      const max = this.vhost.maxAppInstances ?? this.config.maxAppInstances;
      let loaded = this.#creating.size;
      for (const i of this.instances.values()) if (i.state !== 'stopped') loaded++;
      if (loaded >= max) {
        log.warn(`instance ${key} refused: ${loaded} application instances are loaded (MaxAppInstances ${max})`);
        throw new SsasError('ERR_INSTANCE_LIMIT', `the server has ${loaded} application instances loaded, its limit (MaxAppInstances ${max})`);
      }
      creating = (async () => {
        const instance = new AppInstance(this, app, instanceName, new DefaultLogic());
        instance.logic = await this.#logicFactory(instance, this);
        this.instances.set(key, instance);
        for (const f of this.features) f.onInstanceCreated?.(instance);
        log.info(`instance ${key} created`);
        return instance;
      })().finally(() => this.#creating.delete(key));
      this.#creating.set(key, creating);
    }
    return creating;
  }

  get traceLinesPerSecond(): number {
    return this.config.traceLinesPerSecond;
  }

  virtualKeyFor(agent: string): string {
    return virtualKeyFor(this.vhost, agent);
  }

  idleTimeoutSec(instance: AppInstance): number {
    return instance.appConfig?.maxAppIdleTimeSec ?? this.defaultIdleTimeoutSec;
  }

  instanceUnloaded(instance: AppInstance): void {
    if (this.instances.get(instance.name) === instance) this.instances.delete(instance.name);
  }

  // ----- feature hooks ------------------------------------------------------------------------------------

  async streamLength(instance: AppInstance, name: string, virtualKey = ''): Promise<number> {
    for (const f of this.features) {
      const v = await f.streamLength?.(instance, name, virtualKey);
      if (typeof v === 'number') return v;
    }
    return 0;
  }

  playFile(session: ClientSession, stream: SessionStream, name: string, start: number, len: number, reset: boolean): boolean {
    for (const f of this.features) if (f.playFile?.(session, stream, name, start, len, reset)) return true;
    return false;
  }

  onPublishStarted(session: ClientSession, stream: SessionStream, live: LiveStream, mode: string): void {
    for (const f of this.features) f.onPublishStarted?.(session, stream, live, mode);
    session.instance?.logic.onPublish(session, live);
  }

  onPublishStopped(session: ClientSession, stream: SessionStream, live: LiveStream): void {
    for (const f of this.features) f.onPublishStopped?.(session, stream, live);
    if (session.instance?.running) session.instance.logic.onUnpublish(session, live);
  }

  access(event: AccessEventName, session: ClientSession, status: number, facts?: AccessFacts): void {
    this.accessEvents.emit(event, session, status, facts);
  }

  onSharedObjectMessage(session: ClientSession, msg: RtmpMessage): void {
    for (const f of this.features) if (f.onSharedObjectMessage?.(session, msg)) return;
    log.debug(`${session.label}: shared object message ignored (no shared object support loaded)`);
  }

  // ----- shutdown -----------------------------------------------------------------------------------------

  /**
   * Stops accepting, unloads every instance with Application.Shutdown (clients get
   * NetConnection.Connect.AppShutdown, recordings are closed), closes remaining sockets.
   */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const net = this.#net;
    this.#net = null;
    const closed = net ? new Promise<void>((r) => net.close(() => r())) : Promise.resolve();
    await Promise.all(Array.from(this.instances.values()).map((i) => i.unload('Application.Shutdown').catch(() => false)));
    for (const s of Array.from(this.sessions)) s.disconnect();
    // Give sockets a moment to flush their last messages before the listener is gone.
    const deadline = Date.now() + 2000;
    while (this.sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const s of Array.from(this.sessions)) s.conn.destroy();
    // Recordings still being finished (FLV metadata, MP4 moov) complete before close() resolves.
    for (const f of this.features) await f.close?.();
    await this.#rtmfp?.close();
    this.#rtmfp = null;
    await closed;
  }
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
