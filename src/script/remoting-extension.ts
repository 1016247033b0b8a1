/**
 * Flash Remoting for script NetConnections (sandbox/net-connection.js): a NetConnection connected to an
 * http:// or https:// URL is a RemotingConnection (src/host/remoting.ts) whose packets go through the
 * instance's HTTP client (limits, allow-list). This extension sits before the NetConnection one and takes the
 * `ncConnect` ops of HTTP URIs and every later op of those connections; headers a script added before
 * connecting were kept by the NetConnection feature and are carried over.
 */
import type { AmfValue } from '../amf';
import { RemotingConnection } from '../host/remoting';
import { fromIsolate, toIsolate } from './marshal';
import type { ScriptExtension, ScriptLogic } from './script-logic';
import type { ScriptOp } from './runtime';
import type { HttpExtension } from './http-extension';
import type { NetExtension } from './net-extension';

export class RemotingExtension implements ScriptExtension {
  readonly #conns = new WeakMap<ScriptLogic, Map<number, RemotingConnection>>();
  readonly #http: HttpExtension;
  readonly #net: NetExtension;

  constructor(http: HttpExtension, net: NetExtension) {
    this.#http = http;
    this.#net = net;
  }

  #of(logic: ScriptLogic): Map<number, RemotingConnection> {
    let m = this.#conns.get(logic);
    if (!m) {
      m = new Map();
      this.#conns.set(logic, m);
    }
    return m;
  }

  op(logic: ScriptLogic, op: ScriptOp): boolean {
    const id = Number(op.id);
    const m = this.#of(logic);
    switch (op.op) {
      case 'ncConnect': {
        const uri = String(op.uri);
        m.get(id)?.close();
        m.delete(id);
        if (!/^https?:\/\//i.test(uri)) return false;
        const rc = new RemotingConnection(uri, op.objectEncoding === 3 ? 3 : 0, {
          status: (info) => logic.runtime?.post({ e: 'ncStatus', id, info: toIsolate(info) }),
          post: (req) => this.#http.fetch(logic, req),
        });
        const earlier = this.#net.netConnection(logic, id)?.headers;
        if (earlier) for (const [k, v] of earlier) rc.headers.set(k, v);
        m.set(id, rc);
        return true;
      }
      case 'ncCall': {
        const rc = m.get(id);
        if (!rc) return false;
        const rid = Number(op.rid);
        rc.call(String(op.method), (fromIsolate(op.args) as AmfValue[]) ?? [], rid > 0 ? (ok, value) => logic.runtime?.post({ e: 'ncResponse', rid, ok, value: toIsolate(value) }) : undefined);
        return true;
      }
      case 'ncAddHeader': {
        const rc = m.get(id);
        if (!rc) return false;
        const name = String(op.name);
        // addHeader(name, mustUnderstand, null) removes a header, as in Flash Remoting.
        if (op.value === null || op.value === undefined) rc.headers.delete(name);
        else rc.headers.set(name, { mustUnderstand: op.mustUnderstand === true, value: fromIsolate(op.value) });
        return true;
      }
      case 'ncClose': {
        const rc = m.get(id);
        if (!rc) return false;
        rc.close();
        m.delete(id);
        return true;
      }
    }
    return false;
  }

  dispose(logic: ScriptLogic): void {
    const m = this.#conns.get(logic);
    if (!m) return;
    for (const rc of m.values()) rc.close();
    this.#conns.delete(logic);
  }
}
