/**
 * Our own RTMP client (the Flash Player side of the protocol): used by server-side NetConnection/NetStream
 * to reach remote servers, by the shell's test client, by benchmarks and by tests that need to see every
 * message a Flash client would see. It speaks commands in AMF0 or AMF3 (objectEncoding), answers server
 * calls through `handlers`, and exposes NetStreams for publishing and playing.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import type { AmfValue } from '../amf';
import { commandMessage, dataMessage, decodeCommand, decodeData, type InfoObject } from '../rtmp/command';
import * as control from '../rtmp/control';
import { MessageType, UserControlEvent, ChunkStreamId, type RtmpMessage } from '../rtmp/types';
import { splitAggregate } from '../rtmp/aggregate';
import { defaultServerConfig, type RtmpLimits } from '../config';
import { NetError, RtmpError, isSsasError, SsasError } from '../errors';
import { RtmpConnection } from './rtmp-connection';
import { dialRtmfp } from './rtmfp-connection';
import type { MessageConnection } from '../server/connection';
import { getLogger } from '../logger';

const log = getLogger('rtmp-client');

export interface RtmpUrl {
  protocol: string;
  host: string;
  port: number;
  /** "app" or "app/instance..." (no leading slash), as sent in the connect command's `app` field. */
  app: string;
  /** The URL up to and including the application path, sent as tcUrl. */
  tcUrl: string;
  /** A stream name when the URL was parsed with `streamInPath` (e.g. rtmp://h/app/stream). */
  stream?: string;
}

/**
 * Parses rtmp://host[:port]/app[/instance][?query]. With `streamInPath`, the last path segment is the stream
 * name (as ffmpeg/ffplay URLs are written) and only the first segment is the application.
 */
export function parseRtmpUrl(url: string, opts: { streamInPath?: boolean } = {}): RtmpUrl {
  const m = /^([a-z0-9+.-]+):\/\/(\[[^\]]+\]|[^/:?]+)(?::(\d+))?(\/[^?]*)?(\?.*)?$/i.exec(url.trim());
  if (!m) throw new NetError('ERR_NET_BAD_URL', `not an RTMP URL: ${url}`);
  const protocol = m[1]!.toLowerCase();
  const host = m[2]!.replace(/^\[|\]$/g, '');
  const port = m[3] ? Number(m[3]) : protocol === 'rtmpt' || protocol === 'rtmpte' ? 80 : protocol === 'rtmps' ? 443 : 1935;
  // (rtmfp:// defaults to 1935 too, on UDP.)
  if (port < 1 || port > 65535) throw new NetError('ERR_NET_BAD_URL', `bad port in ${url}`);
  const segs = (m[4] ?? '/').split('/').filter((s) => s !== '');
  if (segs.length === 0) throw new NetError('ERR_NET_BAD_URL', `no application in ${url}`);
  let stream: string | undefined;
  let appSegs = segs;
  if (opts.streamInPath && segs.length >= 2) {
    appSegs = segs.slice(0, 1);
    stream = segs.slice(1).join('/');
  }
  const query = m[5] ?? '';
  const app = appSegs.join('/') + (opts.streamInPath ? '' : query);
  const hostPart = m[2]! + (m[3] ? `:${m[3]}` : '');
  return { protocol, host, port, app, tcUrl: `${protocol}://${hostPart}/${app}`, ...(stream !== undefined ? { stream } : {}) };
}

export interface RtmpClientOptions {
  /** Extra connect arguments (arrive in the server's onConnect). */
  args?: AmfValue[];
  objectEncoding?: 0 | 3;
  flashVer?: string;
  swfUrl?: string;
  pageUrl?: string;
  /** Overrides the connect command's `app` / `tcUrl`. */
  app?: string;
  tcUrl?: string;
  /** Extra properties of the connect command object. */
  connectObject?: Record<string, AmfValue>;
  timeoutMs?: number;
  simpleHandshake?: boolean;
  limits?: Partial<RtmpLimits>;
  /** Chunk size we send with (announced after the handshake). */
  chunkSize?: number;
  /** Window acknowledgement size announced to the server. */
  windowAckSize?: number;
  /** Server-to-client calls; a handler's return value answers calls that want a result. */
  handlers?: Record<string, (...args: AmfValue[]) => AmfValue | Promise<AmfValue>>;
  /**
   * Answers calls no handler names (see RtmpClient.fallbackHandler). Given here, it is in place for calls
   * the server makes at once after accepting, which can arrive with the connect _result (one RTMFP packet).
   */
  fallbackHandler?: (name: string, args: AmfValue[]) => AmfValue | Promise<AmfValue>;
}

/** The connect attempt ended without success: `info` is what the server said (Rejected, InvalidApp...). */
export class ConnectError extends SsasError {
  constructor(
    public readonly info: InfoObject | null,
    message: string,
    code = 'ERR_NET_CONNECT_FAILED',
  ) {
    super(code, message, info ? { info: info as unknown as Record<string, unknown> } : undefined);
  }
}

type Pending = { resolve: (v: AmfValue) => void; reject: (e: CallError) => void };

/** A call answered with _error: `info` is the error object. */
export class CallError extends SsasError {
  constructor(public readonly info: AmfValue) {
    super('ERR_RTMP_CALL_FAILED', `call failed: ${describe(info)}`);
  }
}

function describe(v: AmfValue): string {
  if (v && typeof v === 'object' && 'code' in (v as object)) {
    const o = v as Record<string, AmfValue>;
    return `${o.code}${o.description ? ` (${o.description})` : ''}`;
  }
  return String(v);
}

export class RtmpClient {
  readonly conn: MessageConnection;
  readonly url: RtmpUrl;
  objectEncoding: 0 | 3;
  /** The connect _result: [properties, info]. */
  connectResult: { properties: AmfValue; info: InfoObject } | null = null;
  readonly handlers: Record<string, (...args: AmfValue[]) => AmfValue | Promise<AmfValue>>;
  /** Status events on the NetConnection after connect (AppShutdown, Closed...). */
  onStatus: (info: InfoObject) => void = () => {};
  /** Every command the server sends on stream 0 that is not a response (for tests that record traffic). */
  onCommand: (name: string, args: AmfValue[], txn: number) => void = () => {};
  onClose: (err?: SsasError) => void = () => {};
  /**
   * Answers server calls no entry of `handlers` names (a server-side NetConnection looks methods up on the
   * script object). Throwing (or rejecting) answers _error.
   */
  fallbackHandler: ((name: string, args: AmfValue[]) => AmfValue | Promise<AmfValue>) | null = null;
  /** Shared object messages (types 19/16). */
  onSharedObjectMessage: (msg: RtmpMessage) => void = () => {};
  readonly streams = new Map<number, ClientStream>();
  #nextTxn = 2;
  #pending = new Map<number, Pending>();
  #closed = false;

  private constructor(conn: MessageConnection, url: RtmpUrl, opts: RtmpClientOptions) {
    this.conn = conn;
    this.url = url;
    this.objectEncoding = opts.objectEncoding ?? 0;
    this.handlers = { ...(opts.handlers ?? {}) };
    this.fallbackHandler = opts.fallbackHandler ?? null;
  }

  /**
   * Connects and resolves once the server accepted (NetConnection.Connect.Success). rtmp:// travels over
   * TCP (RtmpConnection), rtmfp:// over UDP (RtmfpConnection, RFC 7425); everything after the transport
   * is the same.
   */
  static connect(url: string | RtmpUrl, opts: RtmpClientOptions = {}): Promise<RtmpClient> {
    const u = typeof url === 'string' ? parseRtmpUrl(url) : url;
    if (u.protocol !== 'rtmp' && u.protocol !== 'rtmfp') {
      return Promise.reject(new NetError('ERR_NET_PROTOCOL_UNSUPPORTED', `${u.protocol}: is not supported, only rtmp: and rtmfp:`));
    }
    const limits = { ...defaultServerConfig.limits, ...(opts.limits ?? {}) };
    const timeoutMs = opts.timeoutMs ?? 10000;
    return new Promise<RtmpClient>((resolve, reject) => {
      let settled = false;
      let conn: MessageConnection | null = null;
      let client: RtmpClient | null = null;
      const fail = (err: SsasError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        conn?.destroy();
        reject(err);
      };
      const timer = setTimeout(() => fail(new NetError('ERR_NET_TIMEOUT', `connect to ${u.tcUrl} timed out after ${timeoutMs} ms`)), timeoutMs);
      timer.unref?.();
      const start = (c: MessageConnection): void => {
        conn = c;
        const cl = new RtmpClient(c, u, opts);
        client = cl;
        c.onClose = (err) => {
          cl.#shutdown(err);
          fail(new ConnectError(null, `connection to ${u.tcUrl} closed before connect finished${err ? `: ${err.message}` : ''}`, err?.code ?? 'ERR_NET_CLOSED'));
        };
        c.onMessage = (msg) => cl.#onMessage(msg);
      };
      const ready = (): void => {
        const c = conn!;
        const cl = client!;
        if (settled) return;
        if (c instanceof RtmpConnection) {
          if (opts.windowAckSize) c.setWindowAckSize(opts.windowAckSize);
          if (opts.chunkSize && opts.chunkSize !== 128) c.setChunkSize(opts.chunkSize);
        }
        const cmdObj: Record<string, AmfValue> = {
          app: opts.app ?? u.app,
          flashVer: opts.flashVer ?? 'WIN 10,0,32,18',
          swfUrl: opts.swfUrl ?? '',
          tcUrl: opts.tcUrl ?? u.tcUrl,
          fpad: false,
          capabilities: 15,
          audioCodecs: 3575,
          videoCodecs: 252,
          videoFunction: 1,
          pageUrl: opts.pageUrl ?? '',
          objectEncoding: cl.objectEncoding,
          ...(opts.connectObject ?? {}),
        };
        cl.#sendCommand(0, 'connect', 1, cmdObj, opts.args ?? []);
        cl.#pending.set(1, {
          resolve: (v) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            c.onClose = (err) => cl.#shutdown(err);
            const inf = v as unknown as { properties: AmfValue; info: InfoObject };
            cl.connectResult = inf;
            resolve(cl);
          },
          reject: (e) => {
            const inf = (e.info ?? null) as InfoObject | null;
            fail(new ConnectError(inf, `connect to ${u.tcUrl} refused: ${describe(e.info)}`, 'ERR_NET_CONNECT_REJECTED'));
          },
        });
      };
      if (u.protocol === 'rtmfp') {
        dialRtmfp(u.tcUrl, u.host, u.port, { timeoutMs }).then(
          (c) => {
            if (settled) {
              c.destroy();
              return;
            }
            start(c);
            ready();
          },
          (err: SsasError) => fail(isSsasError(err) && err.code === 'ERR_RTMFP_CONNECT_TIMEOUT' ? new NetError('ERR_NET_TIMEOUT', `${u.tcUrl}: ${err.message}`) : err),
        );
        return;
      }
      const socket: Socket = tcpConnect({ host: u.host, port: u.port });
      const c = new RtmpConnection(socket, { role: 'client', limits, simpleHandshake: opts.simpleHandshake === true });
      start(c);
      socket.once('error', (err: NodeJS.ErrnoException) => {
        fail(new NetError(err.code === 'ECONNREFUSED' ? 'ERR_NET_REFUSED' : err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN' ? 'ERR_NET_DNS' : 'ERR_NET_SOCKET', `${u.tcUrl}: ${err.message}`));
      });
      c.onReady = ready;
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Calls a server method and resolves with its result (rejects with CallError on _error). */
  call(method: string, ...args: AmfValue[]): Promise<AmfValue> {
    if (this.#closed) return Promise.reject(new NetError('ERR_NET_CLOSED', 'connection is closed'));
    const txn = this.#nextTxn++;
    return new Promise((resolve, reject) => {
      this.#pending.set(txn, { resolve, reject });
      this.#sendCommand(0, method, txn, null, args);
    });
  }

  /**
   * Calls a server method whose arguments are already encoded (AMF0 values, possibly behind the 0x11 AMF3
   * switch, as Flash Player sends them): tests of the server's decoding, and of bytes our encoder never
   * writes. Sent as a type 20 command.
   */
  callEncoded(method: string, encodedArgs: Uint8Array): Promise<AmfValue> {
    if (this.#closed) return Promise.reject(new NetError('ERR_NET_CLOSED', 'connection is closed'));
    const txn = this.#nextTxn++;
    return new Promise((resolve, reject) => {
      this.#pending.set(txn, { resolve, reject });
      const head = commandMessage(0, method, txn, null, [], { objectEncoding: this.objectEncoding });
      head.payload = Buffer.concat([head.payload, encodedArgs]);
      this.conn.send(head);
    });
  }

  /** Calls a server method without asking for a result (transaction 0). */
  send(method: string, ...args: AmfValue[]): void {
    this.#sendCommand(0, method, 0, null, args);
  }

  /** Sends a raw message (tests of malformed input, shared object messages). */
  sendRaw(msg: RtmpMessage): void {
    this.conn.send(msg);
  }

  async createStream(): Promise<ClientStream> {
    const id = await this.call('createStream');
    if (typeof id !== 'number') throw new RtmpError('ERR_RTMP_BAD_RESPONSE', `createStream returned ${String(id)}`);
    const s = new ClientStream(this, id);
    this.streams.set(id, s);
    return s;
  }

  close(): void {
    if (this.#closed) return;
    this.conn.close();
    this.#shutdown();
  }

  /** Internal: encode and send a command on a stream. */
  sendCommandOn(streamId: number, name: string, txn: number, args: readonly AmfValue[]): void {
    this.#sendCommand(streamId, name, txn, null, args);
  }

  sendDataOn(streamId: number, timestamp: number, values: readonly AmfValue[]): void {
    if (this.#closed) return;
    this.conn.send(dataMessage(streamId, timestamp, values, { objectEncoding: this.objectEncoding }));
  }

  #sendCommand(streamId: number, name: string, txn: number, cmdObj: AmfValue, args: readonly AmfValue[]): void {
    if (this.#closed) return;
    const msg = commandMessage(streamId, name, txn, cmdObj, args, { objectEncoding: this.objectEncoding });
    if (this.objectEncoding === 3) {
      // Flash Player with objectEncoding 3 sends type 17: a 0 format byte, then AMF0 values.
      msg.type = MessageType.CommandAmf3;
      msg.payload = Buffer.concat([Buffer.alloc(1), msg.payload]);
    }
    msg.csid = streamId === 0 ? ChunkStreamId.Command : 8;
    this.conn.send(msg);
  }

  #onMessage(msg: RtmpMessage): void {
    try {
      this.#handle(msg);
    } catch (err) {
      const e = isSsasError(err) ? err : new RtmpError('ERR_RTMP_INTERNAL', String((err as Error)?.stack ?? err));
      log.warn(`client ${this.url.tcUrl}: ${e.code}: ${e.message}`);
      this.conn.destroy(e);
    }
  }

  #handle(msg: RtmpMessage): void {
    switch (msg.type) {
      case MessageType.CommandAmf0:
      case MessageType.CommandAmf3: {
        const cmd = decodeCommand(msg);
        if (msg.streamId !== 0) {
          this.streams.get(msg.streamId)?.handleCommand(cmd.name, cmd.args);
          return;
        }
        if (cmd.name === '_result' || cmd.name === '_error') {
          const p = this.#pending.get(cmd.transactionId);
          if (!p) return;
          this.#pending.delete(cmd.transactionId);
          if (cmd.transactionId === 1 && this.connectResult === null) {
            if (cmd.name === '_result') p.resolve({ properties: cmd.commandObject, info: cmd.args[0] } as unknown as AmfValue);
            else p.reject(new CallError(cmd.args[0] ?? null));
            return;
          }
          const v = cmd.args.length > 0 ? cmd.args[0]! : null;
          if (cmd.name === '_result') p.resolve(v);
          else p.reject(new CallError(v));
          return;
        }
        if (cmd.name === 'onStatus') {
          this.onStatus((cmd.args[0] ?? {}) as InfoObject);
          return;
        }
        this.onCommand(cmd.name, cmd.args, cmd.transactionId);
        void this.#answer(cmd.name, cmd.args, cmd.transactionId);
        return;
      }
      case MessageType.Audio:
      case MessageType.Video:
      case MessageType.DataAmf0:
      case MessageType.DataAmf3:
        this.streams.get(msg.streamId)?.handleMessage(msg);
        return;
      case MessageType.Aggregate:
        for (const m of splitAggregate(msg)) this.#handle(m);
        return;
      case MessageType.UserControl: {
        const ev = control.parseUserControl(msg);
        const s = this.streams.get(ev.value);
        if (s) s.handleUserControl(ev.event);
        return;
      }
      case MessageType.SharedObjectAmf0:
      case MessageType.SharedObjectAmf3:
        this.onSharedObjectMessage(msg);
        return;
    }
  }

  async #answer(name: string, args: AmfValue[], txn: number): Promise<void> {
    const fallback = this.fallbackHandler;
    const h = this.handlers[name] ?? (fallback ? (...a: AmfValue[]) => fallback(name, a) : undefined);
    if (!h) {
      if (txn > 0) this.#sendCommand(0, '_error', txn, null, [{ level: 'error', code: 'NetConnection.Call.Failed', description: `Method not found (${name}).` }]);
      return;
    }
    try {
      const v = await h(...args);
      if (txn > 0) this.#sendCommand(0, '_result', txn, null, [v === undefined ? null : v]);
    } catch (err) {
      if (txn > 0) this.#sendCommand(0, '_error', txn, null, [{ level: 'error', code: 'NetConnection.Call.Failed', description: String((err as Error)?.message ?? err) }]);
    }
  }

  #shutdown(err?: SsasError): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#pending.values()) p.reject(new CallError({ level: 'error', code: 'NetConnection.Call.Failed', description: 'Connection closed.' }));
    this.#pending.clear();
    for (const s of this.streams.values()) s.handleClosed();
    try {
      this.onClose(err);
    } catch (e) {
      log.warn(`onClose handler threw: ${(e as Error).message}`);
    }
  }
}

export type StreamEvent =
  | { kind: 'status'; info: InfoObject }
  | { kind: 'media'; msg: RtmpMessage }
  | { kind: 'data'; name: string; args: AmfValue[]; msg: RtmpMessage }
  | { kind: 'userControl'; event: number };

/** A NetStream of our client. */
export class ClientStream {
  readonly client: RtmpClient;
  readonly id: number;
  /** Every status event (onStatus infos), media message and data message, for those who want it all. */
  onEvent: (ev: StreamEvent) => void = () => {};
  readonly statusLog: InfoObject[] = [];
  #waiters: { codes: Set<string>; resolve: (i: InfoObject) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  #startTime = Date.now();

  constructor(client: RtmpClient, id: number) {
    this.client = client;
    this.id = id;
  }

  handleCommand(name: string, args: AmfValue[]): void {
    if (name !== 'onStatus') {
      this.onEvent({ kind: 'data', name, args, msg: { type: MessageType.CommandAmf0, streamId: this.id, timestamp: 0, csid: 0, payload: Buffer.alloc(0) } });
      return;
    }
    const inf = (args[0] ?? {}) as InfoObject;
    this.statusLog.push(inf);
    this.onEvent({ kind: 'status', info: inf });
    for (const w of this.#waiters.slice()) {
      if (w.codes.has(inf.code)) {
        clearTimeout(w.timer);
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve(inf);
      }
    }
  }

  handleMessage(msg: RtmpMessage): void {
    if (msg.type === MessageType.DataAmf0 || msg.type === MessageType.DataAmf3) {
      const d = decodeData(msg);
      if (d.name === 'onPlayStatus' || d.name === 'onStatus') {
        const inf = (d.args[0] ?? {}) as InfoObject;
        this.statusLog.push(inf);
        for (const w of this.#waiters.slice()) {
          if (w.codes.has(inf.code)) {
            clearTimeout(w.timer);
            this.#waiters.splice(this.#waiters.indexOf(w), 1);
            w.resolve(inf);
          }
        }
      }
      this.onEvent({ kind: 'data', name: d.name, args: d.args, msg });
      return;
    }
    this.onEvent({ kind: 'media', msg });
  }

  handleUserControl(event: number): void {
    this.onEvent({ kind: 'userControl', event });
  }

  handleClosed(): void {
    for (const w of this.#waiters) {
      clearTimeout(w.timer);
      w.reject(new NetError('ERR_NET_CLOSED', 'connection closed while waiting for a status'));
    }
    this.#waiters = [];
  }

  /** Resolves with the first status whose code is in `codes` (already received ones count when `past`). */
  waitFor(codes: string | string[], timeoutMs = 10000, past = false): Promise<InfoObject> {
    const set = new Set(Array.isArray(codes) ? codes : [codes]);
    if (past) {
      const hit = this.statusLog.find((i) => set.has(i.code));
      if (hit) return Promise.resolve(hit);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.timer !== timer);
        reject(new NetError('ERR_NET_TIMEOUT', `no ${[...set].join('/')} within ${timeoutMs} ms (got ${this.statusLog.map((i) => i.code).join(', ') || 'nothing'})`));
      }, timeoutMs);
      timer.unref?.();
      this.#waiters.push({ codes: set, resolve, reject, timer });
    });
  }

  /** Publishes and resolves with NetStream.Publish.Start (rejects with the error status otherwise). */
  async publish(name: string, type = 'live', timeoutMs = 10000): Promise<InfoObject> {
    this.#startTime = Date.now();
    const wait = this.waitFor(['NetStream.Publish.Start', 'NetStream.Publish.BadName', 'NetStream.Publish.Failed', 'NetStream.Record.NoAccess'], timeoutMs);
    this.client.sendCommandOn(this.id, 'publish', 0, [name, type]);
    const inf = await wait;
    if (inf.code !== 'NetStream.Publish.Start') throw new CallError(inf);
    return inf;
  }

  /** Starts playing; resolves with Play.Start (or the error status, without throwing). */
  play(name: string | false, start = -2, len = -1, reset: boolean | number = true, timeoutMs = 10000): Promise<InfoObject> {
    const wait = this.waitFor(['NetStream.Play.Start', 'NetStream.Play.StreamNotFound', 'NetStream.Play.Failed', 'NetStream.Play.Stop'], timeoutMs);
    this.client.sendCommandOn(this.id, 'play', 0, [name, start, len, reset]);
    return wait;
  }

  pause(paused: boolean, ms = 0): void {
    this.client.sendCommandOn(this.id, 'pause', 0, [paused, ms]);
  }

  seek(ms: number): void {
    this.client.sendCommandOn(this.id, 'seek', 0, [ms]);
  }

  receiveAudio(on: boolean): void {
    this.client.sendCommandOn(this.id, 'receiveAudio', 0, [on]);
  }

  receiveVideo(on: boolean): void {
    this.client.sendCommandOn(this.id, 'receiveVideo', 0, [on]);
  }

  setBufferLength(ms: number): void {
    this.client.conn.sendUserControl(UserControlEvent.SetBufferLength, this.id, ms);
  }

  /** Sends one audio/video message (timestamps in ms). */
  sendMedia(type: 8 | 9, timestamp: number, payload: Buffer): void {
    this.client.conn.send({ type, streamId: this.id, timestamp, csid: type === 8 ? ChunkStreamId.Audio : ChunkStreamId.Video, payload });
  }

  /** NetStream.send(handler, ...args): a data message on this stream. */
  send(handler: string, ...args: AmfValue[]): void {
    this.client.sendDataOn(this.id, Date.now() - this.#startTime, [handler, ...args]);
  }

  closeStream(): void {
    this.client.sendCommandOn(this.id, 'closeStream', 0, []);
  }

  deleteStream(): void {
    this.client.sendCommandOn(0, 'deleteStream', 0, [this.id]);
    this.client.streams.delete(this.id);
  }
}
