/**
 * Flash Remoting from a script: a server-side NetConnection to an http:// or https:// gateway (FMS 2
 * Server-Side ActionScript, NetConnection class; the Flash Remoting NetConnection protocol). Calls made
 * during one script event go to the gateway together, in one AMF packet POSTed as `application/x-amf`
 * (Flash Player batched a frame's calls the same way), with the connection's headers (addHeader; the
 * Credentials header of NetServices.setCredentials is one of them). The answer's messages "/N/onResult"
 * and "/N/onStatus" settle call N; the gateway's own headers are honoured as Flash did:
 * `AppendToGatewayUrl` (a string appended to the URL for later calls, a session id), `ReplaceGatewayUrl`
 * (a new URL) and `RequestPersistentHeader` ({name, mustUnderstand, data}: a header to send from now on).
 *
 * An HTTP failure (no answer, an error status, a body that is not an AMF packet) settles nothing: the
 * connection's onStatus gets NetConnection.Call.Failed (or Call.BadVersion for a body that is not AMF),
 * as Flash Player reported it, and the calls of that packet are dropped.
 */
import type { AmfValue } from '../amf';
import { decodeRemotingPacket, encodeRemotingPacket, type RemotingHeader } from '../amf/remoting';
import { isSsasError } from '../errors';
import type { HttpRequest, HttpResult } from '../net/http-client';
import type { InfoObject } from '../rtmp/command';

export interface RemotingEvents {
  /** Connection status: Call.Failed / Call.BadVersion for a packet whose HTTP exchange failed. */
  status(info: InfoObject): void;
  /** The HTTP client of the instance (limits, allow-list). */
  post(req: Omit<HttpRequest, 'signal'>): Promise<HttpResult>;
}

interface Pending {
  index: number;
  method: string;
  args: AmfValue[];
  settle?: (ok: boolean, value: AmfValue) => void;
}

export class RemotingConnection {
  url: string;
  readonly objectEncoding: 0 | 3;
  /** Headers sent with every packet (addHeader, RequestPersistentHeader). */
  readonly headers = new Map<string, { mustUnderstand: boolean; value: AmfValue }>();
  #events: RemotingEvents;
  #batch: Pending[] = [];
  #scheduled = false;
  #next = 1;
  #closed = false;

  constructor(url: string, objectEncoding: 0 | 3, events: RemotingEvents) {
    this.url = url;
    this.objectEncoding = objectEncoding;
    this.#events = events;
  }

  /** Queues a call for the next packet; `settle` (when given) gets the result or the status object. */
  call(method: string, args: AmfValue[], settle?: (ok: boolean, value: AmfValue) => void): void {
    if (this.#closed) return;
    this.#batch.push({ index: this.#next++, method, args, settle });
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => void this.#send());
    }
  }

  close(): void {
    this.#closed = true;
    this.#batch = [];
  }

  async #send(): Promise<void> {
    this.#scheduled = false;
    const batch = this.#batch;
    this.#batch = [];
    if (batch.length === 0 || this.#closed) return;
    const headers: RemotingHeader[] = [...this.headers].map(([name, h]) => ({ name, mustUnderstand: h.mustUnderstand, value: h.value }));
    let body: Buffer;
    try {
      body = encodeRemotingPacket({
        version: this.objectEncoding === 3 ? 3 : 0,
        headers,
        messages: batch.map((c) => ({ target: c.method, response: `/${c.index}`, value: c.args })),
      });
    } catch (err) {
      this.#fail('NetConnection.Call.Failed', `the call could not be encoded: ${isSsasError(err) ? `${err.message} [${err.code}]` : String(err)}`);
      return;
    }
    const url = this.url;
    const res = await this.#events.post({ method: 'POST', url, headers: [['Content-Type', 'application/x-amf']], body });
    if (this.#closed) return;
    if (res.error) {
      this.#fail('NetConnection.Call.Failed', `HTTP: Failed (${res.error.message})`, url);
      return;
    }
    if (res.status < 200 || res.status >= 300) {
      this.#fail('NetConnection.Call.Failed', `HTTP: Status ${res.status}`, url);
      return;
    }
    let packet;
    try {
      packet = decodeRemotingPacket(res.body);
    } catch (err) {
      this.#fail('NetConnection.Call.BadVersion', `the gateway's answer is not an AMF packet: ${isSsasError(err) ? `${err.message} [${err.code}]` : String(err)}`, url);
      return;
    }
    for (const h of packet.headers) this.#gatewayHeader(h);
    const byIndex = new Map(batch.map((c) => [c.index, c]));
    for (const m of packet.messages) {
      const match = /^\/(\d+)\/(onResult|onStatus)$/.exec(m.target);
      if (!match) continue;
      const call = byIndex.get(Number(match[1]));
      if (!call) continue;
      byIndex.delete(call.index);
      call.settle?.(match[2] === 'onResult', m.value);
    }
  }

  #gatewayHeader(h: RemotingHeader): void {
    const v = h.value;
    switch (h.name) {
      case 'AppendToGatewayUrl':
        if (typeof v === 'string') this.url += v;
        return;
      case 'ReplaceGatewayUrl':
        if (typeof v === 'string' && v !== '') this.url = v;
        return;
      case 'RequestPersistentHeader': {
        const o = v as { name?: unknown; mustUnderstand?: unknown; data?: AmfValue } | null;
        if (o && typeof o === 'object' && typeof o.name === 'string') this.headers.set(o.name, { mustUnderstand: o.mustUnderstand === true, value: o.data ?? null });
        return;
      }
    }
  }

  #fail(code: string, description: string, details?: string): void {
    this.#events.status({ level: 'error', code, description, ...(details !== undefined ? { details } : {}) });
  }
}
