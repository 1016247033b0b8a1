/**
 * The bridge part of XMLSocket and XMLStreams (sandbox/xml-socket.js): `xmlSockConnect`, `xmlSockSend` and
 * `xmlSockClose` ops drive src/net/xml-socket.ts clients, whose events come back as `xmlSockConnect`,
 * `xmlSockData` and `xmlSockClose` events. Limits and the allow-list are the instance's Application.xml
 * NetworkAccess ones; at most MAX_SOCKETS per instance; an unloading instance closes its sockets.
 */
import { XmlSocketClient } from '../net/xml-socket';
import type { ScriptExtension, ScriptLogic } from './script-logic';
import type { ScriptOp } from './runtime';

const MAX_SOCKETS = 64;

export class SocketExtension implements ScriptExtension {
  readonly #sockets = new WeakMap<ScriptLogic, Map<number, XmlSocketClient>>();

  #of(logic: ScriptLogic): Map<number, XmlSocketClient> {
    let m = this.#sockets.get(logic);
    if (!m) {
      m = new Map();
      this.#sockets.set(logic, m);
    }
    return m;
  }

  op(logic: ScriptLogic, op: ScriptOp): boolean {
    const id = Number(op.id);
    const m = this.#of(logic);
    switch (op.op) {
      case 'xmlSockConnect': {
        m.get(id)?.close();
        m.delete(id);
        const post = (ev: Record<string, unknown>): void => logic.runtime?.post({ ...ev, e: String(ev.e), id });
        if (m.size >= MAX_SOCKETS) {
          setImmediate(() => post({ e: 'xmlSockConnect', ok: false }));
          logic.instance.log.info(`XMLSocket: more than ${MAX_SOCKETS} sockets in this instance [ERR_SOCKET_TOO_MANY]`);
          return true;
        }
        const net = logic.config.network;
        const client = new XmlSocketClient(
          op.kind === 'streams' ? 'streams' : 'socket',
          {
            connect: (ok, error) => {
              if (!ok) {
                m.delete(id);
                if (error) logic.instance.log.info(`XMLSocket connect to ${String(op.host)}:${String(op.port)} failed: ${error.message} [${error.code}]`);
              }
              post({ e: 'xmlSockConnect', ok });
            },
            message: (text) => post({ e: 'xmlSockData', text }),
            close: (error) => {
              m.delete(id);
              if (error) logic.instance.log.info(`XMLSocket ${String(op.host)}:${String(op.port)} closed: ${error.message} [${error.code}]`);
              post({ e: 'xmlSockClose' });
            },
          },
          { timeoutMs: net.timeoutMs, maxMessageBytes: net.maxResponseBytes, allow: net.allow },
        );
        m.set(id, client);
        client.connect(String(op.host), Number(op.port));
        return true;
      }
      case 'xmlSockSend':
        m.get(id)?.send(String(op.text));
        return true;
      case 'xmlSockClose':
        m.get(id)?.close();
        m.delete(id);
        return true;
    }
    return false;
  }

  dispose(logic: ScriptLogic): void {
    const m = this.#sockets.get(logic);
    if (!m) return;
    for (const c of m.values()) c.close();
    m.clear();
    this.#sockets.delete(logic);
  }
}
