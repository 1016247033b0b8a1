/**
 * The bridge part of NetConnection, NetStream and application.registerProxy: carries out the ops of
 * sandbox/net-connection.js against the host objects of src/host/net-connection.ts, answers their
 * requests, and posts their statuses back as events.
 */
import type { AmfValue } from '../amf';
import { ServerNetConnection, ServerNetStream, type NetConnectionEvents } from '../host/net-connection';
import type { CallOutcome } from '../server/app-logic';
import type { ClientSession } from '../server/session';
import type { LivePublisher, LiveStream } from '../server/live-stream';
import { Status } from '../server/status';
import { fromIsolate, toIsolate } from './marshal';
import type { ScriptExtension, ScriptLogic } from './script-logic';
import type { HostRequest, ScriptOp } from './runtime';
import type { StreamExtension } from './stream-extension';
import { TAG_SCRIPT } from '../media/tag-info';

interface State {
  ncs: Map<number, ServerNetConnection>;
  nss: Map<number, ServerNetStream>;
  proxies: Map<string, { nc?: number; cid?: string; remote: string | null }>;
}

export class NetExtension implements ScriptExtension {
  readonly #state = new WeakMap<ScriptLogic, State>();
  readonly #streams: StreamExtension;

  constructor(streams: StreamExtension) {
    this.#streams = streams;
    streams.remoteLive = (logic, ncId, name) => this.#pullRemote(logic, ncId, name);
  }

  #of(logic: ScriptLogic): State {
    let s = this.#state.get(logic);
    if (!s) {
      s = { ncs: new Map(), nss: new Map(), proxies: new Map() };
      this.#state.set(logic, s);
    }
    return s;
  }

  #events(logic: ScriptLogic): NetConnectionEvents {
    return {
      status: (nc, info) => logic.runtime?.post({ e: 'ncStatus', id: nc.id, info: toIsolate(info) }),
      streamStatus: (ns, info) => logic.runtime?.post({ e: 'nsStatus', id: ns.id, info: toIsolate(info) }),
      remoteCall: async (nc, name, args) => {
        const rt = logic.runtime;
        if (!rt) throw new Error('Application is not running.');
        const r = (await rt.call({ e: 'ncRemoteCall', id: nc.id, name, args: toIsolate(args) })) as
          | { notFound?: boolean; value?: unknown; error?: { description?: string } }
          | undefined;
        if (!r || r.notFound) throw new Error(`Method not found (${name}).`);
        if (r.error) throw new Error(String(r.error.description ?? 'call failed'));
        return fromIsolate(r.value);
      },
    };
  }

  /** The script's NetConnection of that id (for proxied shared objects). */
  netConnection(logic: ScriptLogic, id: number): ServerNetConnection | undefined {
    return this.#nc(logic, id, true);
  }

  #nc(logic: ScriptLogic, id: number, create = false): ServerNetConnection | undefined {
    const st = this.#of(logic);
    let nc = st.ncs.get(id);
    if (!nc && create) {
      nc = new ServerNetConnection(logic.instance, id, this.#events(logic), logic.config.objectEncoding);
      st.ncs.set(id, nc);
      const created = nc;
      logic.instance.closers.add(() => created.dispose());
    }
    return nc;
  }

  op(logic: ScriptLogic, op: ScriptOp): boolean {
    const st = this.#of(logic);
    switch (op.op) {
      case 'ncConnect': {
        const nc = this.#nc(logic, Number(op.id), true)!;
        nc.objectEncoding = op.objectEncoding === 0 ? 0 : 3;
        nc.connect(String(op.uri), (fromIsolate(op.args) as AmfValue[]) ?? []);
        return true;
      }
      case 'ncCall': {
        const nc = this.#nc(logic, Number(op.id));
        const rid = Number(op.rid);
        const p = nc?.call(String(op.method), (fromIsolate(op.args) as AmfValue[]) ?? [], rid > 0);
        if (rid > 0) {
          if (!p) logic.runtime?.post({ e: 'ncResponse', rid, ok: false, value: toIsolate(Status.callFailed('NetConnection is not connected.')) });
          else void p.then((r) => logic.runtime?.post({ e: 'ncResponse', rid, ok: r.ok, value: toIsolate(r.value) }));
        }
        return true;
      }
      case 'ncClose':
        this.#nc(logic, Number(op.id))?.close();
        return true;
      case 'ncAddHeader': {
        const nc = this.#nc(logic, Number(op.id), true)!;
        nc.headers.set(String(op.name), { mustUnderstand: op.mustUnderstand === true, value: fromIsolate(op.value) });
        return true;
      }
      case 'nsCreate': {
        const ncId = Number(op.nc);
        const id = Number(op.id);
        const nc = ncId >= 0 ? this.#nc(logic, ncId, true) : undefined;
        if (!nc) {
          // Not a NetConnection: the stream exists but can do nothing (V8 cannot make `new` return null).
          setImmediate(() =>
            logic.runtime?.post({ e: 'nsStatus', id, info: toIsolate({ level: 'error', code: 'NetStream.Connect.Failed', description: 'NetStream needs a NetConnection.' }) }),
          );
          return true;
        }
        const ns = new ServerNetStream(nc, id, typeof op.groupspec === 'string' ? op.groupspec : null, this.#events(logic));
        st.nss.set(id, ns);
        return true;
      }
      case 'nsAttach': {
        const ns = st.nss.get(Number(op.id));
        if (!ns) return true;
        ns.attach(typeof op.stream === 'string' ? this.#streams.stream(logic, op.stream).live : null);
        return true;
      }
      case 'nsPublish': {
        const ns = st.nss.get(Number(op.id));
        ns?.publish(typeof op.name === 'string' ? op.name : null, String(op.how ?? 'live'));
        return true;
      }
      case 'nsIpMulticast': {
        const ns = st.nss.get(Number(op.id));
        const a = fromIsolate(op.address) as { host?: string; port?: number; family?: number } | null;
        ns?.setIpMulticast(a && typeof a.host === 'string' && typeof a.port === 'number' ? { host: a.host, port: a.port, family: a.family === 6 ? 6 : 4 } : null);
        return true;
      }
      case 'nsMulticast': {
        const ns = st.nss.get(Number(op.id));
        const v = op.value;
        if (ns && (typeof v === 'number' || typeof v === 'boolean')) ns.setMulticast(String(op.name), v);
        return true;
      }
      case 'nsBufferTime': {
        const ns = st.nss.get(Number(op.id));
        if (ns) ns.bufferTime = Number(op.value) || 0;
        return true;
      }
      case 'registerProxy': {
        const method = String(op.method);
        const t = op.target as { nc?: number; cid?: string } | null;
        if (!t) st.proxies.delete(method);
        else st.proxies.set(method, { ...t, remote: typeof op.remote === 'string' ? op.remote : null });
        return true;
      }
    }
    return false;
  }

  request(logic: ScriptLogic, req: HostRequest): { value: AmfValue } | undefined {
    const st = this.#of(logic);
    const ns = st.nss.get(Number(req.id));
    switch (req.t) {
      case 'nsTime':
        return { value: ns ? ns.time : 0 };
      case 'nsNearNonce':
        return { value: ns ? ns.nc.nearNonce : '' };
      case 'nsMulticastInfo':
        return { value: ns ? ns.multicastInfo() : {} };
      case 'nsSend':
        return { value: ns ? ns.send(String(req.handler), (fromIsolate(req.args) as AmfValue[]) ?? []) : false };
    }
    return undefined;
  }

  routesCall(logic: ScriptLogic, name: string): boolean {
    return this.#of(logic).proxies.has(name);
  }

  /** application.registerProxy: client calls of a registered name go to the NetConnection or Client. */
  clientCall(logic: ScriptLogic, session: ClientSession, name: string, args: AmfValue[]): Promise<CallOutcome> | undefined {
    const p = this.#of(logic).proxies.get(name);
    if (!p) return undefined;
    const remoteName = p.remote ?? name;
    if (p.nc !== undefined) {
      const nc = this.#nc(logic, p.nc);
      const call = nc?.call(remoteName, args, true);
      if (!call) return Promise.resolve({ kind: 'error', info: Status.callFailed('The proxy NetConnection is not connected.') });
      return call.then((r) => (r.ok ? { kind: 'result', value: r.value } : { kind: 'error', info: { ...(r.value as object), level: 'error', code: 'NetConnection.Call.Failed' } as never }));
    }
    const target = p.cid !== undefined ? logic.sessions.get(p.cid) : undefined;
    const call = target?.call(remoteName, true, args);
    if (!call) return Promise.resolve({ kind: 'error', info: Status.callFailed('The proxy client is not connected.') });
    void session;
    return call.then((r) => (r.ok ? { kind: 'result', value: r.value } : { kind: 'error', info: { level: 'error', code: 'NetConnection.Call.Failed', description: String((r.info as { description?: string })?.description ?? 'call failed') } }));
  }

  /** Stream.play(name, ..., nc): a local live stream fed by playing `name` on the remote connection. */
  #pullRemote(logic: ScriptLogic, ncId: number, name: string): LiveStream | null {
    const nc = this.#nc(logic, ncId);
    const client = nc?.client;
    if (!nc || !client) return null;
    const live = logic.instance.streams.getOrCreate(`\u0000remote:${ncId}:${name}`);
    if (live.publisher) return live;
    const publisher: LivePublisher = { kind: 'server', label: `remote ${nc.uri}/${name}` };
    live.startPublishing(publisher);
    void client.createStream().then(
      (s) => {
        s.onEvent = (ev) => {
          if (ev.kind === 'media') live.push(ev.msg.type as 8 | 9, ev.msg.timestamp, ev.msg.payload);
          else if (ev.kind === 'data') {
            const payload = ev.msg.type === 15 ? ev.msg.payload.subarray(1) : ev.msg.payload;
            if (ev.name === 'onMetaData') live.setDataFrame('onMetaData', ['onMetaData', ...ev.args], payload, ev.msg.timestamp);
            else if (ev.name !== '|RtmpSampleAccess' && ev.name !== 'onPlayStatus' && payload.length > 0) live.push(TAG_SCRIPT, ev.msg.timestamp, payload);
          }
        };
        void s.play(name, -1, -1, true);
        client.onClose = ((prev) => (err) => {
          live.stopPublishing(publisher);
          prev(err);
        })(client.onClose);
      },
      () => live.stopPublishing(publisher),
    );
    return live;
  }
}
