/**
 * One client connection as FMS sees it: the NetConnection commands (connect, createStream, calls), its
 * NetStreams (publish, play, pause...) and the server-to-client calls made through Client.call. The session
 * turns RTMP messages into application events and application decisions into RTMP messages; media goes
 * straight between the publisher's session and the LiveStream without touching the script.
 *
 * Command names and status codes follow ssas-api.md sections 9 and 11; the connect reply follows FMS 3.5.
 */
import type { AmfValue } from '../amf';
import { isSsasError, RtmpError, type SsasError } from '../errors';
import { getLogger } from '../logger';
import { splitAggregate } from '../rtmp/aggregate';
import {
  commandMessage,
  dataMessage,
  completeCommand,
  decodeCommandHead,
  encodedResultMessage,
  type CommandHead,
  decodeData,
  info,
  type Command,
  type InfoObject,
} from '../rtmp/command';
import * as control from '../rtmp/control';
import { MessageType, UserControlEvent, type RtmpMessage } from '../rtmp/types';
import type { ConnectionStats, MessageConnection } from './connection';
import { Client, newClientId } from '../host/client';
import { accessAllows } from '../host/access';
import type { AppInstance } from './app-instance';
import {
  liveKey,
  splitStreamName,
  type LiveMessage,
  type LivePublisher,
  type LiveStream,
  type LiveSubscriber,
} from './live-stream';
import { Status } from './status';
import { checkBandwidth, checkbwMethods, defaultBandwidthDetection } from './bandwidth';
import { TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO } from '../media/tag-info';
import type { ServerContext } from './server-context';
import type { CallOutcome, RawCall } from './app-logic';

const log = getLogger('session');

/** Methods FMS handles natively and never dispatches to a script (ssas-api.md 3.2, dispatch rule 4). */
const RESERVED = new Set([
  'connect',
  'createStream',
  'deleteStream',
  'closeStream',
  'play',
  'play2',
  'publish',
  'pause',
  'pauseRaw',
  'seek',
  'receiveAudio',
  'receiveVideo',
  'getBandwidthLimit',
  'setBandwidthLimit',
  'getStats',
  'ping',
]);

/** Encoder/player conveniences answered by the server when the script does not define them. */
const ENCODER_CALLS = new Set(['releaseStream', 'FCPublish', 'FCUnpublish', 'FCSubscribe', 'FCUnsubscribe', 'getStreamLength']);

/** Commands the session handles itself that are not in RESERVED (they never take the raw call path). */
const NOT_RAW = new Set(['_result', '_error', 'checkBandwidth', 'setPeerInfo']);

/** Commands a pending client may send that we keep until it is accepted (bounded). */
const MAX_QUEUED_WHILE_PENDING = 256;

export type SessionState = 'new' | 'pending' | 'connected' | 'closed';

interface PendingCall {
  resolve: (outcome: { ok: true; value: AmfValue } | { ok: false; info: AmfValue }) => void;
}

export class ClientSession {
  readonly conn: MessageConnection;
  readonly ctx: ServerContext;
  state: SessionState = 'new';
  instance: AppInstance | null = null;
  client: Client | null = null;
  objectEncoding = 0;
  /** The connect transaction id, answered on accept/reject. */
  #connectTxn = 1;
  readonly streams = new Map<number, SessionStream>();
  #nextStreamId = 1;
  #nextTxn = 1;
  readonly #pendingCalls = new Map<number, PendingCall>();
  #queued: RtmpMessage[] = [];
  /** Server-to-client calls made while the connection is pending, sent once it is accepted. */
  #held: (() => void)[] = [];
  #connectTimer: NodeJS.Timeout | null = null;
  /** Called after the session closed (server bookkeeping). */
  onClosed: () => void = () => {};
  /** What the connect command asked for, from the moment it arrived (the access log reads it). */
  connectRequest: { app: string; instance: string; tcUrl: string; flashVer: string; swfUrl: string } | null = null;

  constructor(conn: MessageConnection, ctx: ServerContext) {
    this.conn = conn;
    this.ctx = ctx;
    conn.onMessage = (msg) => this.#onMessage(msg);
    conn.onClose = (err) => this.#onClose(err);
    this.#connectTimer = setTimeout(() => {
      if (this.state === 'new') {
        log.info(`${this.label}: no connect within ${ctx.config.limits.connectTimeoutSec}s, closing`);
        this.conn.destroy(new RtmpError('ERR_RTMP_CONNECT_TIMEOUT', 'no connect command in time'));
      }
    }, ctx.config.limits.connectTimeoutSec * 1000);
    this.#connectTimer.unref?.();
  }

  get label(): string {
    return `${this.conn.remoteAddress}:${this.conn.remotePort}${this.client ? ` (${this.client.id})` : ''}`;
  }

  get clientId(): string | undefined {
    return this.client?.id;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Incoming messages

  #onMessage(msg: RtmpMessage): void {
    if (this.#isClosed()) return;
    try {
      this.#dispatch(msg);
    } catch (err) {
      this.#protocolError(err);
    }
  }

  #protocolError(err: unknown): void {
    const e: SsasError = isSsasError(err)
      ? err
      : new RtmpError('ERR_RTMP_INTERNAL', `internal error: ${(err as Error)?.stack ?? err}`);
    log.warn(`${this.label}: closing on ${e.code}: ${e.message}`);
    this.conn.destroy(e);
  }

  #dispatch(msg: RtmpMessage): void {
    if (this.state === 'pending' && msg.type !== MessageType.UserControl) {
      // FMS: a pending client can neither send nor receive until accepted. Keep its requests for later.
      if (this.#queued.length >= MAX_QUEUED_WHILE_PENDING) {
        throw new RtmpError('ERR_RTMP_PENDING_OVERFLOW', 'too many messages from a client whose connection is pending');
      }
      this.#queued.push(msg);
      return;
    }
    switch (msg.type) {
      case MessageType.CommandAmf0:
      case MessageType.CommandAmf3: {
        const head = decodeCommandHead(msg);
        if (head.rawArgs !== null && msg.streamId === 0 && this.state === 'connected' && this.#rawCallable(head)) return;
        this.#onCommand(msg, completeCommand(head));
        return;
      }
      case MessageType.DataAmf0:
      case MessageType.DataAmf3:
        this.#requireConnected();
        this.#onData(msg);
        return;
      case MessageType.Audio:
      case MessageType.Video:
        this.#requireConnected();
        this.streams.get(msg.streamId)?.onMedia(msg);
        return;
      case MessageType.Aggregate:
        this.#requireConnected();
        for (const sub of splitAggregate(msg)) this.#dispatch(sub);
        return;
      case MessageType.UserControl: {
        const ev = control.parseUserControl(msg);
        if (ev.event === UserControlEvent.SetBufferLength) {
          this.streams.get(ev.value)?.setClientBufferLength(ev.extra ?? 0);
        }
        return;
      }
      case MessageType.SharedObjectAmf0:
      case MessageType.SharedObjectAmf3:
        this.#requireConnected();
        this.ctx.onSharedObjectMessage(this, msg);
        return;
      default:
        log.debug(`${this.label}: ignoring message type ${msg.type}`);
    }
  }

  /** Re-reads the state after an await (TypeScript narrows `state` across awaits otherwise). */
  #isClosed(): boolean {
    return this.state === 'closed';
  }

  #requireConnected(): void {
    if (this.state !== 'connected') throw new RtmpError('ERR_RTMP_NOT_CONNECTED', 'message before a successful connect');
  }

  #onCommand(msg: RtmpMessage, cmd: Command): void {
    if (cmd.name === 'connect') {
      if (this.state !== 'new') throw new RtmpError('ERR_RTMP_DUPLICATE_CONNECT', 'connect sent twice');
      void this.#onConnect(cmd);
      return;
    }
    this.#requireConnected();
    if (msg.streamId !== 0) {
      const stream = this.streams.get(msg.streamId);
      if (!stream) {
        log.debug(`${this.label}: ${cmd.name} on unknown stream ${msg.streamId}`);
        return;
      }
      this.#onStreamCommand(stream, cmd);
      return;
    }
    switch (cmd.name) {
      case '_result':
      case '_error':
        this.#onCallResponse(cmd);
        return;
      case 'setPeerInfo': {
        // Flash Player over RTMFP reports its own addresses (FMS 4 handled it natively, for introductions).
        // librtmfp sends them without the null command object, rtmfp-cpp with it: take every string.
        const addrs = [cmd.commandObject, ...cmd.args].filter((v): v is string => typeof v === 'string');
        if (this.conn.setPeerInfo) {
          this.conn.setPeerInfo(addrs);
          if (this.client) this.client.reportedAddresses = addrs;
          if (cmd.transactionId > 0) this.sendResult(cmd.transactionId, null, null);
          return;
        }
        this.#onCall(cmd);
        return;
      }
      case 'createStream': {
        const id = this.#allocateStreamId();
        this.streams.set(id, new SessionStream(this, id));
        this.sendResult(cmd.transactionId, null, id);
        return;
      }
      case 'deleteStream':
      case 'closeStream': {
        const id = typeof cmd.args[0] === 'number' ? cmd.args[0] : -1;
        const stream = this.streams.get(id);
        if (stream) {
          stream.close();
          if (cmd.name === 'deleteStream') this.streams.delete(id);
        }
        return;
      }
      case 'publish':
      case 'play':
      case 'play2':
        // Some clients (old librtmp) send these on stream 0 after createStream returned 1.
        if (this.streams.size > 0) this.#onStreamCommand(Array.from(this.streams.values()).pop()!, cmd);
        return;
      default:
        if (RESERVED.has(cmd.name)) {
          this.#answerError(cmd.transactionId, Status.callFailed(`Method not found (${cmd.name}).`));
          return;
        }
        this.#onCall(cmd);
    }
  }

  #allocateStreamId(): number {
    while (this.streams.has(this.#nextStreamId)) this.#nextStreamId++;
    return this.#nextStreamId++;
  }

  /**
   * The fast path of a client call to an application whose logic takes encoded arguments (the sandbox),
   * except for what the session answers itself. Returns false to take the general path.
   */
  #rawCallable(head: CommandHead): boolean {
    const logic = this.instance?.logic;
    const name = head.name;
    if (!logic?.onRawCall || name.length > 1024 || RESERVED.has(name) || ENCODER_CALLS.has(name) || NOT_RAW.has(name)) return false;
    const raw = head.rawArgs!;
    const cmd = { name, transactionId: head.transactionId } as Command;
    const call: RawCall = { name, args: raw, decodeArgs: () => completeCommand(head).args };
    const done = this.#callStarted();
    try {
      logic.onRawCall(this, call, (outcome) => {
        done();
        this.#finishCall(cmd, outcome);
      });
    } catch (err) {
      done();
      if (isSsasError(err) && err.code.startsWith('ERR_AMF_')) throw err;
      this.#finishCall(cmd, { kind: 'error', info: Status.callFailed((err as Error).message) });
    }
    return true;
  }

  #onCall(cmd: Command): void {
    const instance = this.instance!;
    const done = this.#callStarted();
    try {
      instance.logic.onCall(this, cmd.name, cmd.args, (outcome) => {
        done();
        this.#finishCall(cmd, outcome);
      });
    } catch (err) {
      done();
      this.#finishCall(cmd, { kind: 'error', info: Status.callFailed((err as Error).message) });
    }
  }

  /** Calls of this client handed to its application and not answered yet (limits.maxPendingCalls). */
  callsInFlight = 0;
  #inputHeld = false;

  /**
   * Counts a call handed to the application; the function returned uncounts it (once). At
   * limits.maxPendingCalls the connection stops reading until half of them are answered: the client
   * waits (TCP pushes back), nothing it sent is lost, and its calls no longer crowd out other clients'.
   */
  #callStarted(): () => void {
    const max = this.ctx.config.limits.maxPendingCalls;
    if (++this.callsInFlight >= max && !this.#inputHeld) {
      this.#inputHeld = true;
      log.debug(`${this.label}: ${this.callsInFlight} calls waiting for the application: reading paused`);
      this.conn.holdInput(true);
    }
    let counted = true;
    return () => {
      if (!counted) return;
      counted = false;
      this.callsInFlight--;
      if (this.#inputHeld && this.callsInFlight <= max >> 1) {
        this.#inputHeld = false;
        this.conn.holdInput(false);
      }
    };
  }

  #finishCall(cmd: Command, outcome: CallOutcome): void {
    if (this.state !== 'connected') return;
    if (outcome.kind === 'notFound' && ENCODER_CALLS.has(cmd.name) && this.ctx.config.autoAnswerEncoderCalls) {
      void this.#answerEncoderCall(cmd).then((o) => {
        if (this.state === 'connected') this.#sendOutcome(cmd, o);
      });
      return;
    }
    if (outcome.kind === 'notFound' && (cmd.name === 'checkBandwidth' || cmd.name === '_checkbw')) {
      // FMS 3 native bandwidth detection, unless the application disabled it in Application.xml. `_checkbw`
      // (librtmp, ffmpeg) is answered by the check's _onbwdone alone (see bandwidth.ts).
      const cfg = this.instance?.appConfig?.bandwidthDetection ?? defaultBandwidthDetection;
      if (cfg.enabled) {
        if (cmd.name === '_checkbw') {
          log.debug(`${this.label}: _checkbw: native bandwidth check (_onbwcheck, _onbwdone)`);
          void checkBandwidth(this, cfg, checkbwMethods);
          return;
        }
        void checkBandwidth(this, cfg);
        outcome = { kind: 'result', value: null };
      }
    }
    this.#sendOutcome(cmd, outcome);
  }

  #sendOutcome(cmd: Command, outcome: CallOutcome): void {
    if (outcome.kind === 'encoded') {
      if (cmd.transactionId > 0 && !this.conn.closed) this.conn.send(encodedResultMessage(cmd.transactionId, outcome.bytes));
    } else if (outcome.kind === 'badInput') {
      this.#protocolError(outcome.error);
    } else if (outcome.kind === 'result') {
      if (cmd.transactionId > 0 && !this.#trySendResult(cmd.transactionId, outcome.value)) {
        this.#answerError(cmd.transactionId, Status.callFailed('The result could not be encoded.'));
      }
    } else if (outcome.kind === 'error') {
      this.#answerError(cmd.transactionId, outcome.info);
    } else {
      this.#answerError(cmd.transactionId, Status.callFailed(`Method not found (${cmd.name}).`));
    }
  }

  /** What FMS's sample live/vod main.asc did for encoders; used when the script has no such method. */
  async #answerEncoderCall(cmd: Command): Promise<{ kind: 'result'; value: AmfValue }> {
    const name = typeof cmd.args[0] === 'string' ? cmd.args[0] : '';
    switch (cmd.name) {
      case 'FCPublish':
        this.call('onFCPublish', null, [info('status', 'NetStream.Publish.Start', name)]);
        break;
      case 'FCUnpublish': {
        this.call('onFCUnpublish', null, [info('status', 'NetStream.Unpublish.Success', name)]);
        const key = liveKey(splitStreamName(name).name);
        for (const s of this.streams.values()) if (s.publishingKey === key) s.stopPublishing();
        break;
      }
      case 'FCSubscribe':
        this.call('onFCSubscribe', null, [info('status', 'NetStream.Play.Start', name)]);
        break;
      case 'getStreamLength':
        return { kind: 'result', value: await this.ctx.streamLength(this.instance!, name, this.client?.virtualKey) };
    }
    return { kind: 'result', value: null };
  }

  #onCallResponse(cmd: Command): void {
    const pending = this.#pendingCalls.get(cmd.transactionId);
    if (!pending) return;
    this.#pendingCalls.delete(cmd.transactionId);
    const value = cmd.args.length > 0 ? cmd.args[0] : cmd.commandObject;
    pending.resolve(cmd.name === '_result' ? { ok: true, value: value ?? null } : { ok: false, info: value ?? null });
  }

  #onStreamCommand(stream: SessionStream, cmd: Command): void {
    const a = cmd.args;
    switch (cmd.name) {
      case 'publish':
        stream.publish(a[0], typeof a[1] === 'string' ? a[1] : 'live');
        return;
      case 'play':
        stream.play(a[0], num(a[1], -2), num(a[2], -1), a.length > 3 ? a[3] : true);
        return;
      case 'play2':
        stream.play2(a[0]);
        return;
      case 'pause':
      case 'pauseRaw':
        stream.pause(a[0] === true, num(a[1], 0));
        return;
      case 'seek':
        stream.seek(num(a[0], 0));
        return;
      case 'receiveAudio':
        stream.receiveAudio = a[0] !== false;
        return;
      case 'receiveVideo':
        stream.setReceiveVideo(a[0] !== false);
        return;
      case 'closeStream':
        stream.close();
        return;
      case 'deleteStream':
        stream.close();
        this.streams.delete(stream.id);
        return;
      default:
        // Stream-level calls other than these are not defined by FMS; answer politely.
        this.#answerError(cmd.transactionId, Status.callFailed(`Method not found (${cmd.name}).`));
    }
  }

  #onData(msg: RtmpMessage): void {
    const stream = this.streams.get(msg.streamId);
    if (!stream) return;
    stream.onData(msg, decodeData(msg));
  }

  // ---------------------------------------------------------------------------------------------------------
  // connect

  async #onConnect(cmd: Command): Promise<void> {
    if (this.#connectTimer) clearTimeout(this.#connectTimer);
    this.#connectTimer = null;
    this.#connectTxn = cmd.transactionId || 1;
    const obj = (typeof cmd.commandObject === 'object' && cmd.commandObject !== null ? cmd.commandObject : {}) as Record<
      string,
      AmfValue
    >;
    const str = (k: string): string => (typeof obj[k] === 'string' ? (obj[k] as string) : '');
    const encoding = typeof obj.objectEncoding === 'number' ? obj.objectEncoding : 0;
    this.state = 'pending';
    const cfg = this.ctx.config;
    this.conn.beginSession(cfg);

    if (encoding !== 0 && encoding !== 3) {
      this.#rejectRaw(Status.connectRejected(`[ Server.Reject ] : Unsupported objectEncoding ${encoding}.`), 400);
      return;
    }
    this.objectEncoding = encoding;
    const target = parseAppPath(str('app'));
    this.connectRequest = { app: target?.app ?? str('app'), instance: target?.instance ?? '', tcUrl: str('tcUrl'), flashVer: str('flashVer'), swfUrl: str('swfUrl') };
    if (!target) {
      this.#rejectRaw(Status.connectInvalidApp('[ Server.Reject ] : Application name is missing.'), 400);
      return;
    }
    const def = await this.ctx.findApplication(target.app);
    if (this.#isClosed()) return;
    if (!def) {
      this.#rejectRaw(
        Status.connectInvalidApp(
          `[ Server.Reject ] : (_defaultRoot_, _defaultVHost_) : Application (${target.app}) is not defined.`,
        ),
        404,
      );
      return;
    }
    this.client = new Client({
      id: newClientId(),
      ip: this.conn.remoteAddress,
      agent: str('flashVer'),
      referrer: str('swfUrl'),
      pageUrl: str('pageUrl'),
      uri: str('tcUrl'),
      protocol: this.conn.protocol,
      objectEncoding: encoding,
      farAddress: `${this.conn.remoteAddress}:${this.conn.remotePort}`,
      nearAddress: `${this.conn.localAddress}:${this.conn.localPort}`,
      secure: false,
      connectObject: obj,
      identity: this.conn.identity,
    });
    this.client.virtualKey = this.ctx.virtualKeyFor(this.client.agent);
    let instance: AppInstance;
    try {
      instance = await this.ctx.getInstance(def, target.instance);
      if (this.#isClosed()) return;
      instance.attach(this);
      this.instance = instance;
      await instance.load();
    } catch (err) {
      if (this.instance) this.instance.detach(this);
      this.instance = null;
      const why = isSsasError(err) ? err.message : String(err);
      log.warn(`${this.label}: application ${target.app}/${target.instance} failed to start: ${why}`);
      this.#rejectRaw(Status.connectRejected(`[ Server.Reject ] : Application (${target.app}) failed to start: ${why}`), 500);
      return;
    }
    if (this.#isClosed()) return;
    // Application.xml Client/Bandwidth: the initial per-client limits (0 = none).
    const bw = instance.appConfig?.bandwidth;
    if (bw?.down) this.client.bandwidthLimitDown = bw.down;
    if (bw?.up) {
      this.client.bandwidthLimitUp = bw.up;
      this.conn.setInboundLimit(bw.up);
    }
    try {
      instance.logic.onConnect(this, cmd.args);
    } catch (err) {
      log.warn(`${this.label}: onConnect failed: ${(err as Error).message}`);
      this.reject({ message: (err as Error).message });
    }
    // Still undecided: the script's onConnect has it (FMS logged connect-pending).
    if (this.state === 'pending') this.ctx.access?.('connect-pending', this, 100);
  }

  /** Accepts a pending connection (application.acceptConnection). Returns false when not pending. */
  accept(): boolean {
    if (this.state !== 'pending' || !this.client || !this.instance) return false;
    this.state = 'connected';
    this.instance.accepted(this);
    this.ctx.access?.('connect', this, 200);
    const cfg = this.ctx.config;
    this.sendCommand(
      0,
      '_result',
      this.#connectTxn,
      { fmsVer: `FMS/${cfg.fmsVersion}`, capabilities: cfg.capabilities, mode: 1 },
      [Status.connectSuccess(this.objectEncoding, cfg.fmsVersion, this.client.id)],
    );
    const held = this.#held;
    this.#held = [];
    for (const send of held) send();
    const queued = this.#queued;
    this.#queued = [];
    for (const m of queued) this.#onMessage(m);
    return true;
  }

  /** Rejects a pending connection; `application` reaches the client as info.application. */
  reject(application?: AmfValue, description = 'Connection failed.'): boolean {
    if (this.state !== 'pending') return false;
    this.instance?.rejected();
    this.#rejectRaw(Status.connectRejected(description, application === undefined ? undefined : application), 401);
    return true;
  }

  /** Rejects with a redirect (FMS 3+): `ex.code` 302 and `ex.redirect`. */
  redirect(url: string, description?: string, application?: AmfValue): boolean {
    if (this.state !== 'pending') return false;
    this.instance?.rejected();
    const inf = Status.connectRejected(description ?? 'Connection failed.', application);
    inf.ex = { code: 302, redirect: url };
    this.#rejectRaw(inf, 302);
    return true;
  }

  /** Refuses the connect; `status` is the access log's x-status (401 rejected by the script, 404 no such app...). */
  #rejectRaw(inf: InfoObject, status: number): void {
    this.ctx.access?.('connect', this, status, { reason: typeof inf.description === 'string' ? inf.description.replace(/^\[ Server\.Reject \] : /, '') : undefined });
    this.sendCommand(0, '_error', this.#connectTxn, null, [inf]);
    this.state = 'closed';
    this.#queued = [];
    this.#held = [];
    this.conn.close();
    this.#teardown();
  }

  // ---------------------------------------------------------------------------------------------------------
  // Sending

  sendCommand(streamId: number, name: string, txn: number, cmdObj: AmfValue, args: readonly AmfValue[]): boolean {
    if (this.conn.closed) return false;
    let msg: RtmpMessage;
    try {
      msg = commandMessage(streamId, name, txn, cmdObj, args, { objectEncoding: this.objectEncoding });
    } catch (err) {
      this.#encodeFailure(err, name);
      return false;
    }
    this.conn.send(msg);
    return true;
  }

  sendData(streamId: number, timestamp: number, values: readonly AmfValue[]): boolean {
    if (this.conn.closed) return false;
    let msg: RtmpMessage;
    try {
      msg = dataMessage(streamId, timestamp, values, { objectEncoding: this.objectEncoding });
    } catch (err) {
      this.#encodeFailure(err, String(values[0]));
      return false;
    }
    this.conn.send(msg);
    return true;
  }

  #encodeFailure(err: unknown, what: string): void {
    if (isSsasError(err) && err.code === 'ERR_AMF_AMF3_ONLY') {
      // FMS 3 blended mode: an AMF0 client that would need AMF3-only data is disconnected (and it is logged).
      log.warn(`${this.label}: disconnecting AMF0 client: ${what} needs AMF3 (${err.message})`);
      this.conn.destroy(err);
      return;
    }
    throw err;
  }

  /**
   * A call's result; false when AMF cannot carry it (an object key over 65535 bytes...), so the caller
   * answers _error instead of leaving the call unanswered. AMF3-only values for an AMF0 client still
   * disconnect it (#encodeFailure), as FMS did.
   */
  #trySendResult(txn: number, value: AmfValue): boolean {
    try {
      this.sendResult(txn, null, value);
      return true;
    } catch (err) {
      log.warn(`${this.label}: result of transaction ${txn} not sent: ${isSsasError(err) ? `${err.code}: ` : ''}${(err as Error).message}`);
      return false;
    }
  }

  sendResult(txn: number, cmdObj: AmfValue, value: AmfValue): void {
    this.sendCommand(0, '_result', txn, cmdObj, [value]);
  }

  #answerError(txn: number, inf: InfoObject): void {
    if (txn > 0) this.sendCommand(0, '_error', txn, null, [inf]);
  }

  sendStatus(streamId: number, inf: InfoObject): void {
    this.sendCommand(streamId, 'onStatus', 0, null, [inf]);
  }

  #bwMark = { t: performance.now(), bytesIn: 0, bytesOut: 0 };
  #bwRate: { in: number; out: number } | null = null;

  /**
   * Bytes per second received from (`in`) and sent to (`out`) the client, measured over the last second or
   * more (Client.getStats bw_in / bw_out); before a first second has passed, over the time so far.
   */
  bandwidth(): { in: number; out: number } {
    const now = performance.now();
    const st = this.conn.stats;
    const dt = (now - this.#bwMark.t) / 1000;
    if (dt >= 1 || (this.#bwRate === null && dt > 0)) {
      this.#bwRate = { in: Math.round((st.bytesIn - this.#bwMark.bytesIn) / dt), out: Math.round((st.bytesOut - this.#bwMark.bytesOut) / dt) };
      if (dt >= 1) this.#bwMark = { t: now, bytesIn: st.bytesIn, bytesOut: st.bytesOut };
    }
    return this.#bwRate ?? { in: 0, out: 0 };
  }

  /**
   * Calls a method on the client's NetConnection (Client.call). Returns a promise of the outcome when a
   * result is wanted, else null. `method` may be "path/method" as FMS allows; it is sent as is.
   */
  call(
    method: string,
    wantResult: boolean | null,
    args: readonly AmfValue[],
  ): Promise<{ ok: true; value: AmfValue } | { ok: false; info: AmfValue }> | null {
    if (this.state !== 'connected' && this.state !== 'pending') return null;
    // FMS: a pending client "can neither send nor receive" until accepted: the call waits for the accept
    // (after NetConnection.Connect.Success), and fails if the client is rejected or leaves first.
    const hold = this.state === 'pending';
    if (hold && this.#held.length >= MAX_QUEUED_WHILE_PENDING) {
      return wantResult ? Promise.resolve({ ok: false, info: Status.callFailed('Too many calls to a client whose connection is pending.') }) : null;
    }
    if (!wantResult) {
      if (hold) this.#held.push(() => void this.sendCommand(0, method, 0, null, args));
      else this.sendCommand(0, method, 0, null, args);
      return null;
    }
    const txn = this.#nextTxn++;
    return new Promise((resolve) => {
      this.#pendingCalls.set(txn, { resolve });
      const send = (): void => {
        if (!this.sendCommand(0, method, txn, null, args)) {
          this.#pendingCalls.delete(txn);
          resolve({ ok: false, info: Status.callFailed('Connection closed.') });
        }
      };
      if (hold) this.#held.push(send);
      else send();
    });
  }

  // ---------------------------------------------------------------------------------------------------------
  // Closing

  /** application.disconnect(): closes the connection; the client sees NetConnection.Connect.Closed. */
  disconnect(): void {
    this.conn.close();
  }

  /**
   * The instance is unloading: tell the client (NetConnection.Connect.AppShutdown) and close. With
   * `notifyApp` the application still hears of it (onDisconnect, as FMS calls it for each client after
   * shutdown()); not when the script itself is gone (out of memory, time limit).
   */
  appShutdown(description?: string, notifyApp = false): void {
    if (this.#isClosed()) return;
    if (this.state === 'pending' || this.state === 'new') {
      this.#rejectRaw(Status.connectRejected(`[ Server.Reject ] : ${description ?? 'The application instance was shut down.'}`), 503);
      return;
    }
    this.sendStatus(0, Status.connectAppShutdown(description));
    this.conn.close();
    this.#teardown(notifyApp ? 'unloading' : false);
  }

  #onClose(err?: SsasError): void {
    if (err) log.debug(`${this.label}: connection closed: ${err.code}`);
    this.#teardown();
  }

  #tornDown = false;

  #teardown(notifyApp: boolean | 'unloading' = true): void {
    if (this.#tornDown) return;
    this.#tornDown = true;
    if (this.#connectTimer) clearTimeout(this.#connectTimer);
    this.#connectTimer = null;
    const wasConnected = this.state === 'connected';
    this.state = 'closed';
    for (const s of this.streams.values()) s.close(false);
    if (wasConnected) this.ctx.access?.('disconnect', this, 200);
    this.streams.clear();
    this.#held = [];
    for (const p of this.#pendingCalls.values()) p.resolve({ ok: false, info: Status.callFailed('Connection closed.') });
    this.#pendingCalls.clear();
    const instance = this.instance;
    if (instance && instance.sessions.has(this)) {
      // Every session the logic saw connecting, accepted or not, so it can forget it; the script's
      // application.onDisconnect runs only for accepted clients (sandbox/application.js).
      if (this.client && notifyApp && (instance.running || notifyApp === 'unloading')) {
        try {
          instance.logic.onDisconnect(this);
        } catch (err) {
          log.warn(`onDisconnect failed: ${(err as Error).message}`);
        }
      }
      instance.detach(this);
    }
    this.onClosed();
  }
}

function num(v: AmfValue, dflt: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : dflt;
}

/**
 * FMS URI rules: "app[/instance...]" with optional query string; the instance may have several levels;
 * no instance means "_definst_".
 */
export function parseAppPath(raw: string): { app: string; instance: string; query: string } | null {
  const q = raw.indexOf('?');
  const query = q >= 0 ? raw.slice(q + 1) : '';
  const path = (q >= 0 ? raw.slice(0, q) : raw).replace(/\\/g, '/');
  const parts = path.split('/').filter((p) => p !== '');
  if (parts.length === 0) return null;
  const app = parts[0]!;
  if (app === '.' || app === '..') return null;
  const inst = parts.slice(1).filter((p) => p !== '.' && p !== '..');
  return { app, instance: inst.length > 0 ? inst.join('/') : '_definst_', query };
}

// ===========================================================================================================

/** A NetStream of the client (an id given by createStream): publishing, playing live, or playing a file. */
export class SessionStream implements LiveSubscriber, LivePublisher {
  readonly session: ClientSession;
  readonly id: number;
  readonly kind = 'client' as const;
  receiveAudio = true;
  receiveVideo = true;
  /** Milliseconds the client asked to buffer (UserControl SetBufferLength). */
  clientBufferMs = 0;

  // Publishing
  #publishing: LiveStream | null = null;
  #publishName = '';
  publishMode = 'live';

  // Playing (live)
  #playing: LiveStream | null = null;
  #playName = '';
  #paused = false;
  /** Dropping media until the next key frame (after a pause, a backlog, or receiveVideo(true)). */
  #waitKeyframe = false;
  #vod: { close(): void; pause(p: boolean): void; seek(ms: number): void } | null = null;

  constructor(session: ClientSession, id: number) {
    this.session = session;
    this.id = id;
  }

  get label(): string {
    return `${this.session.label} stream ${this.id} (${this.#publishName || this.#playName})`;
  }

  /** The name given to publish (with prefix, without query string). */
  get publishName(): string {
    return this.#publishName;
  }

  get publishingKey(): string | null {
    return this.#publishing ? this.#publishing.name : null;
  }

  setClientBufferLength(ms: number): void {
    this.clientBufferMs = ms;
  }

  // ----- publish -----------------------------------------------------------------------------------------

  publish(rawName: AmfValue, mode: string): void {
    const s = this.session;
    if (rawName === false || rawName === null || rawName === undefined || rawName === '') {
      this.stopPublishing();
      return;
    }
    const { name, query } = splitStreamName(String(rawName));
    const client = s.client!;
    if (this.#publishing) this.stopPublishing(false);
    if (!client.canWrite(name)) {
      s.ctx.access?.('publish', s, 401, { stream: this, name, query });
      s.sendStatus(this.id, Status.publishFailed(name, `No permission to publish ${name}.`, client.id));
      return;
    }
    const key = liveKey(name);
    const live = s.instance!.streams.getOrCreate(key);
    if (live.publisher !== null) {
      s.ctx.access?.('publish', s, 409, { stream: this, name, query });
      s.sendStatus(this.id, Status.publishBadName(name, client.id));
      s.instance!.streams.release(live);
      return;
    }
    this.#publishing = live;
    this.#publishName = name;
    this.publishMode = mode;
    live.startPublishing(this, query);
    s.conn.sendUserControl(UserControlEvent.StreamBegin, this.id);
    s.sendStatus(this.id, Status.publishStart(name, client.id));
    s.ctx.access?.('publish', s, 200, { stream: this, name, query });
    try {
      s.ctx.onPublishStarted(s, this, live, mode);
    } catch (err) {
      log.warn(`${this.label}: publish hook failed: ${(err as Error).message}`);
    }
  }

  /** Stops publishing; `notify` sends Unpublish.Success to the client. */
  stopPublishing(notify = true): void {
    const live = this.#publishing;
    if (!live) return;
    this.#publishing = null;
    const s = this.session;
    live.stopPublishing(this);
    try {
      s.ctx.onPublishStopped(s, this, live);
    } catch (err) {
      log.warn(`${this.label}: unpublish hook failed: ${(err as Error).message}`);
    }
    if (notify) s.sendStatus(this.id, Status.unpublishSuccess(this.#publishName, s.clientId));
    s.ctx.access?.('unpublish', s, s.state === 'closed' ? 408 : 200, { stream: this, name: this.#publishName, query: live.publishQueryString });
    s.instance?.streams.release(live);
  }

  /** The server took the name over (Stream.play on the server outranks clients). */
  forceUnpublish(reason: string): void {
    log.info(`${this.label}: forced to unpublish: ${reason}`);
    this.stopPublishing(true);
  }

  onMedia(msg: RtmpMessage): void {
    const live = this.#publishing;
    if (!live) return;
    live.push(msg.type as 8 | 9, msg.timestamp, msg.payload);
  }

  onData(msg: RtmpMessage, data: { name: string; args: AmfValue[] }): void {
    const live = this.#publishing;
    if (!live) return;
    if (data.name === '@setDataFrame' || data.name === '@clearDataFrame') {
      const handler = typeof data.args[0] === 'string' ? data.args[0] : '';
      if (handler === '') return;
      if (data.name === '@clearDataFrame') {
        live.setDataFrame(handler, null, null, msg.timestamp);
        return;
      }
      const values = [handler, ...data.args.slice(1)];
      // Re-encode without the @setDataFrame wrapper: players receive a plain onMetaData data message.
      const payload = dataMessage(0, 0, values, { objectEncoding: 0 }).payload;
      live.setDataFrame(handler, values, payload, msg.timestamp);
      return;
    }
    // Any other data message (NetStream.send of the publisher) goes to players as it came, AMF0-framed.
    const payload = msg.type === MessageType.DataAmf3 ? msg.payload.subarray(1) : msg.payload;
    live.push(TAG_SCRIPT, msg.timestamp, payload);
  }

  // ----- play ---------------------------------------------------------------------------------------------

  play(rawName: AmfValue, start: number, len: number, reset: AmfValue): void {
    const s = this.session;
    const client = s.client!;
    if (rawName === false || rawName === null || rawName === undefined || rawName === '') {
      this.stopPlaying(true);
      return;
    }
    const { name } = splitStreamName(String(rawName));
    const doReset = reset !== false && reset !== 0;
    if (!client.canRead(name)) {
      s.ctx.access?.('play', s, 401, { stream: this, name });
      s.sendStatus(this.id, Status.playFailed(name, `No permission to play ${name}.`, client.id));
      return;
    }
    this.stopPlaying(false);
    this.#playName = name;
    const key = liveKey(name);
    const live = s.instance!.streams.get(key);
    const liveNow = live?.isPublishing === true;
    // "Other negatives = -2": live if it exists, else recorded.
    if (start < -2 || (start < 0 && start > -1) || Number.isNaN(start)) start = -2;
    if (start >= 0 || (start === -2 && !liveNow)) {
      // Recorded playback is tried first for start >= 0, and for -2 when nobody publishes the name.
      const handled = s.ctx.playFile(s, this, name, start, len, doReset);
      if (handled) {
        s.ctx.access?.('play', s, 200, { stream: this, name, position: start, file: this.playingFile ?? undefined });
        return;
      }
      if (start >= 0) {
        s.ctx.access?.('play', s, 404, { stream: this, name, position: start });
        s.sendStatus(this.id, Status.playStreamNotFound(name, client.id));
        return;
      }
    }
    this.#startLive(s.instance!.streams.getOrCreate(key), name, doReset);
  }

  play2(params: AmfValue): void {
    // play2 transitions (dynamic streaming): switch to params.streamName, resetting when asked.
    if (typeof params !== 'object' || params === null) return;
    const p = params as Record<string, AmfValue>;
    const name = typeof p.streamName === 'string' ? p.streamName : '';
    if (name === '') return;
    const start = typeof p.start === 'number' ? p.start : -2;
    const len = typeof p.len === 'number' ? p.len : -1;
    const transition = typeof p.transition === 'string' ? p.transition : 'switch';
    if (transition === 'stop') {
      this.stopPlaying(true);
      return;
    }
    this.play(name, start, len, transition !== 'append' && transition !== 'appendAndWait');
    if (transition === 'switch' || transition === 'swap') {
      this.session.sendStatus(this.id, info('status', 'NetStream.Play.Switch', `Switched to ${name}.`, { details: name }));
      this.session.sendData(this.id, 0, [
        'onPlayStatus',
        info('status', 'NetStream.Play.TransitionComplete', undefined, { details: name }),
      ]);
    }
  }

  #startLive(live: LiveStream, name: string, reset: boolean): void {
    const s = this.session;
    const cid = s.clientId;
    this.#playing = live;
    this.#paused = false;
    this.#waitKeyframe = false;
    s.conn.sendUserControl(UserControlEvent.StreamBegin, this.id);
    if (reset) s.sendStatus(this.id, Status.playReset(name, cid));
    s.sendStatus(this.id, Status.playStart(name, cid));
    this.#sendSampleAccess(name);
    if (live.isPublishing) this.#sendStartup(live);
    live.subscribe(this);
    s.ctx.access?.('play', s, 200, { stream: this, name });
  }

  #sendSampleAccess(name: string): void {
    const c = this.session.client!;
    this.session.sendData(this.id, 0, ['|RtmpSampleAccess', accessAllows(c.audioSampleAccess, name), accessAllows(c.videoSampleAccess, name)]);
  }

  #sendStartup(live: LiveStream): void {
    const startup = live.startupMessages();
    // Without cached video the player starts at the next key frame.
    this.#waitKeyframe = live.videoSequenceHeader !== null && !startup.some((m) => m.keyframe);
    for (const m of startup) this.#deliver(m, true);
  }

  stopPlaying(notify: boolean): void {
    const s = this.session;
    if (this.#vod || this.#playing) s.ctx.access?.('stop', s, s.state === 'closed' ? 408 : 200, { stream: this, name: this.#playName, file: this.playingFile ?? undefined });
    if (this.#vod) {
      const v = this.#vod;
      this.#vod = null;
      v.close();
    }
    if (this.#playing) {
      const live = this.#playing;
      this.#playing = null;
      live.unsubscribe(this);
      s.instance?.streams.release(live);
    }
    if (notify && this.#playName !== '') s.sendStatus(this.id, Status.playStop(this.#playName, s.clientId));
    this.playingFile = null;
  }

  /** Playback of a recorded file took over this stream (set by the VOD player), and the file it starts with. */
  attachVod(vod: { close(): void; pause(p: boolean): void; seek(ms: number): void }, file?: string): void {
    this.#vod = vod;
    this.playingFile = file ?? null;
  }

  /** The recorded file being played (access log), or null. */
  playingFile: string | null = null;

  pause(paused: boolean, ms: number): void {
    const s = this.session;
    if (this.#vod) {
      this.#vod.pause(paused);
    } else {
      this.#paused = paused;
      if (!paused) this.#waitKeyframe = true;
    }
    s.sendStatus(this.id, paused ? Status.pauseNotify(this.#playName, s.clientId) : Status.unpauseNotify(this.#playName, s.clientId));
    void ms;
  }

  seek(ms: number): void {
    const s = this.session;
    if (this.#vod) {
      this.#vod.seek(ms);
      return;
    }
    // Live streams cannot seek (FMS answers Seek.Failed? It sends Seek.Notify and carries on).
    s.sendStatus(this.id, info('error', 'NetStream.Seek.Failed', `Seeking is not possible in live stream ${this.#playName}.`, { details: this.#playName }));
  }

  setReceiveVideo(on: boolean): void {
    if (on && !this.receiveVideo) this.#waitKeyframe = true;
    this.receiveVideo = on;
  }

  // LiveSubscriber
  onLiveMessage(msg: LiveMessage): void {
    this.#deliver(msg, false);
  }

  onPublishNotify(live: LiveStream): void {
    const s = this.session;
    s.conn.sendUserControl(UserControlEvent.StreamBegin, this.id);
    s.sendStatus(this.id, Status.playPublishNotify(this.#playName || live.name, s.clientId));
    this.#waitKeyframe = false;
  }

  onUnpublishNotify(live: LiveStream): void {
    const s = this.session;
    s.sendStatus(this.id, Status.playUnpublishNotify(this.#playName || live.name, s.clientId));
  }

  #deliver(msg: LiveMessage, startup: boolean): void {
    const conn = this.session.conn;
    if (conn.closed) return;
    if (msg.type === TAG_AUDIO && !this.receiveAudio) return;
    if (msg.type === TAG_VIDEO && !this.receiveVideo) return;
    if (!msg.essential) {
      if (this.#paused) return;
      const cfg = this.session.ctx.config;
      if (this.#waitKeyframe) {
        const resume =
          conn.backlog < cfg.playerLowWaterBytes &&
          (msg.keyframe || (msg.type === TAG_AUDIO && (this.#playing?.videoSequenceHeader == null || !this.receiveVideo))) &&
          !this.#overBandwidth(msg);
        if (!resume) {
          countDrop(conn.stats, msg);
          return;
        }
        this.#waitKeyframe = false;
      } else if (!startup && (conn.backlog > cfg.playerHighWaterBytes || this.#overBandwidth(msg))) {
        this.#waitKeyframe = true;
        countDrop(conn.stats, msg);
        // The player learns why media skips (FMS sent InsufficientBW when a subscriber fell behind).
        this.session.sendStatus(this.id, Status.playInsufficientBW(this.#playName, this.session.clientId));
        return;
      }
    }
    conn.sendLive(msg, this.id);
  }

  /** Client.setBandwidthLimit(serverToClient, ...): this second's budget for the client is spent. */
  #overBandwidth(msg: LiveMessage): boolean {
    const limit = this.session.client?.bandwidthLimitDown ?? 0;
    return limit > 0 && !this.session.conn.takeOutbound(msg.payload.length, limit);
  }

  /** Closes whatever the stream does (closeStream/deleteStream/disconnect). */
  close(notify = true): void {
    this.stopPublishing(notify);
    this.stopPlaying(false);
  }
}

/** A live message a player skipped: Client.getStats() msg_dropped and dropped_audio/video_msgs/bytes. */
function countDrop(stats: ConnectionStats, msg: LiveMessage): void {
  stats.msgDropped++;
  if (msg.type === TAG_AUDIO) {
    stats.droppedAudioMsgs++;
    stats.droppedAudioBytes += msg.payload.length;
  } else if (msg.type === TAG_VIDEO) {
    stats.droppedVideoMsgs++;
    stats.droppedVideoBytes += msg.payload.length;
  }
}
