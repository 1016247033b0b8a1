/**
 * `ssas run --inspect`: the script isolates opened to Chrome DevTools (or any Chrome DevTools Protocol
 * client) through isolated-vm's inspector sessions.
 *
 * The endpoint is what DevTools expects of a V8 debug target (as `node --inspect` serves it): HTTP
 * `GET /json/list` (alias `/json`) and `GET /json/version` describe the targets, and each target is a
 * WebSocket at `ws://host:port/<id>` carrying protocol messages as text frames. There is no WebSocket
 * package here, so the part of RFC 6455 a debugger needs is written below: the opening handshake (section
 * 4.2), framing with client masking (5.2, 5.3), fragmented messages (5.4), ping/pong (5.5.2, 5.5.3) and the
 * closing handshake (5.5.1, 7). The frame parser is pure (bytes in, frames out); sockets are only in
 * InspectorServer.
 *
 * Only loopback peers are served and the Host header must name a loopback address, so a web page cannot
 * reach the debugger through DNS rebinding. Anyone with a debugger attached can run code in the isolate:
 * that is the point, and why it listens on 127.0.0.1 only.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { Socket } from 'node:net';
import type ivm from 'isolated-vm';
import { NetError, SsasError } from '../errors';
import { getLogger } from '../logger';

const log = getLogger('inspector');

/** RFC 6455 section 1.3: the GUID appended to Sec-WebSocket-Key. */
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const Opcode = { Continuation: 0, Text: 1, Binary: 2, Close: 8, Ping: 9, Pong: 10 } as const;

/** RFC 6455 section 7.4.1 status codes used here. */
export const CloseCode = { Normal: 1000, GoingAway: 1001, ProtocolError: 1002, Unsupported: 1003, TooBig: 1009 } as const;

export class WebSocketError extends SsasError {
  /** The close code to send for this error. */
  readonly closeCode: number;
  constructor(code: string, message: string, closeCode: number) {
    super(code, message, { closeCode });
    this.closeCode = closeCode;
  }
}

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key (section 4.2.2). */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

export interface WsMessage {
  opcode: number;
  payload: Buffer;
}

export interface FrameParserOptions {
  /** Largest message (after reassembly) accepted; larger ones fail with ERR_WS_TOO_BIG. */
  maxMessageBytes?: number;
  /** Server side: frames from the client must be masked (section 5.1). */
  requireMask?: boolean;
}

/**
 * Turns received bytes into whole messages: data messages reassembled from fragments, control frames as
 * they come (they may arrive between fragments). Throws WebSocketError on protocol violations.
 */
export class FrameParser {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #fragments: Buffer[] = [];
  #fragmentBytes = 0;
  #fragmentOpcode = -1;
  readonly #max: number;
  readonly #requireMask: boolean;

  constructor(opts: FrameParserOptions = {}) {
    this.#max = opts.maxMessageBytes ?? 64 * 1024 * 1024;
    this.#requireMask = opts.requireMask ?? true;
  }

  /** Hands out `n` bytes from the front of the buffered chunks, copying only across chunk boundaries. */
  #consume(n: number): Buffer {
    this.#buffered -= n;
    const first = this.#chunks[0]!;
    if (first.length === n) return this.#chunks.shift()!;
    if (first.length > n) {
      this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.#chunks[0]!;
      const take = Math.min(c.length, n - off);
      c.copy(out, off, 0, take);
      off += take;
      if (take === c.length) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(take);
    }
    return out;
  }

  #peek(n: number): Buffer {
    if (this.#chunks[0]!.length >= n) return this.#chunks[0]!.subarray(0, n);
    const out = this.#consume(n);
    this.#chunks.unshift(out);
    this.#buffered += n;
    return out;
  }

  push(data: Buffer): WsMessage[] {
    if (data.length > 0) {
      this.#chunks.push(data);
      this.#buffered += data.length;
    }
    const out: WsMessage[] = [];
    for (;;) {
      const m = this.#frame();
      if (m === null) return out;
      if (m !== undefined) out.push(m);
    }
  }

  /** One frame: a message, undefined for a fragment that completes nothing yet, null when bytes are missing. */
  #frame(): WsMessage | undefined | null {
    if (this.#buffered < 2) return null;
    const h = this.#peek(2);
    const fin = (h[0]! & 0x80) !== 0;
    if ((h[0]! & 0x70) !== 0) throw new WebSocketError('ERR_WS_RESERVED_BITS', 'reserved bits set without an extension', CloseCode.ProtocolError);
    const opcode = h[0]! & 0x0f;
    const masked = (h[1]! & 0x80) !== 0;
    let len = h[1]! & 0x7f;
    const headerLen = 2 + (len === 126 ? 2 : len === 127 ? 8 : 0) + (masked ? 4 : 0);
    if (this.#buffered < headerLen) return null;
    const header = this.#peek(headerLen);
    let off = 2;
    if (len === 126) {
      len = header.readUInt16BE(2);
      off = 4;
    } else if (len === 127) {
      const big = header.readBigUInt64BE(2);
      if (big > BigInt(this.#max)) throw new WebSocketError('ERR_WS_TOO_BIG', `frame of ${big} bytes`, CloseCode.TooBig);
      len = Number(big);
      off = 10;
    }
    const isControl = opcode >= 8;
    if (isControl && (!fin || len > 125)) throw new WebSocketError('ERR_WS_BAD_CONTROL', 'control frames must be whole and at most 125 bytes', CloseCode.ProtocolError);
    if (![0, 1, 2, 8, 9, 10].includes(opcode)) throw new WebSocketError('ERR_WS_BAD_OPCODE', `unknown opcode ${opcode}`, CloseCode.ProtocolError);
    if (this.#requireMask && !masked) throw new WebSocketError('ERR_WS_UNMASKED', 'client frames must be masked', CloseCode.ProtocolError);
    if (!isControl && this.#fragmentBytes + len > this.#max) throw new WebSocketError('ERR_WS_TOO_BIG', `message larger than ${this.#max} bytes`, CloseCode.TooBig);
    if (this.#buffered < headerLen + len) return null;
    this.#consume(headerLen);
    const mask = masked ? header.subarray(off, off + 4) : null;
    let payload = len > 0 ? this.#consume(len) : Buffer.alloc(0);
    if (mask) {
      payload = Buffer.from(payload);
      for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
    }
    if (isControl) return { opcode, payload };
    if (opcode === Opcode.Continuation) {
      if (this.#fragmentOpcode < 0) throw new WebSocketError('ERR_WS_BAD_CONTINUATION', 'continuation without a message', CloseCode.ProtocolError);
    } else {
      if (this.#fragmentOpcode >= 0) throw new WebSocketError('ERR_WS_BAD_CONTINUATION', 'new message inside a fragmented one', CloseCode.ProtocolError);
      this.#fragmentOpcode = opcode;
    }
    this.#fragments.push(payload);
    this.#fragmentBytes += payload.length;
    if (!fin) return undefined;
    const whole = this.#fragments.length === 1 ? this.#fragments[0]! : Buffer.concat(this.#fragments);
    const m = { opcode: this.#fragmentOpcode, payload: whole };
    this.#fragments = [];
    this.#fragmentBytes = 0;
    this.#fragmentOpcode = -1;
    return m;
  }
}

/** One frame (FIN set). `mask` is for the client side (tests); servers send unmasked frames. */
export function encodeFrame(opcode: number, payload: Buffer, mask?: Buffer): Buffer {
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 0x10000 ? 2 : 8;
  const head = Buffer.alloc(2 + ext + (mask ? 4 : 0));
  head[0] = 0x80 | opcode;
  head[1] = (mask ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(len, 2);
  else if (ext === 8) head.writeBigUInt64BE(BigInt(len), 2);
  if (!mask) return Buffer.concat([head, payload]);
  mask.copy(head, 2 + ext);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i & 3]!;
  return Buffer.concat([head, body]);
}

export function closePayload(code: number, reason = ''): Buffer {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code, 0);
  b.write(reason, 2);
  return b;
}

// ----- the server ---------------------------------------------------------------------------------------

/** Something DevTools can debug: one instance's isolate. */
export interface InspectorTarget {
  /** Stable id (the WebSocket path), so a reloaded instance is found at the same address. */
  id: string;
  title: string;
  /** The main script, as DevTools shows the target. */
  url: string;
  isolate: ivm.Isolate;
}

export interface InspectorServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** The targets now (called per request: instances come and go). */
  targets: () => InspectorTarget[];
}

const LOOPBACK_HOST = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/i;

/** A stable target id for a name: the shape of a UUID, as DevTools expects, derived from the name. */
export function targetId(name: string): string {
  const h = createHash('sha1').update(`ssas:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

interface Connection {
  socket: Socket;
  target: InspectorTarget;
  session: ivm.InspectorSession | null;
  closed: boolean;
}

export class InspectorServer {
  readonly #opts: InspectorServerOptions;
  #http: http.Server | null = null;
  #conns = new Set<Connection>();
  #sweep: NodeJS.Timeout | null = null;
  #address: { host: string; port: number } | null = null;

  constructor(opts: InspectorServerOptions) {
    this.#opts = opts;
  }

  get address(): { host: string; port: number } | null {
    return this.#address;
  }

  /** The DevTools front-end URL for a target. */
  devtoolsUrl(id: string): string {
    const a = this.#address!;
    return `devtools://devtools/bundled/js_app.html?experiments=true&v8only=true&ws=${a.host}:${a.port}/${id}`;
  }

  listen(): Promise<{ host: string; port: number }> {
    const host = this.#opts.host ?? '127.0.0.1';
    return new Promise((resolve, reject) => {
      const srv = http.createServer((req, res) => this.#onRequest(req, res));
      srv.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => this.#onUpgrade(req, socket, head));
      srv.once('error', (err: NodeJS.ErrnoException) => {
        reject(new NetError(err.code === 'EADDRINUSE' ? 'ERR_NET_ADDRESS_IN_USE' : 'ERR_NET_LISTEN', `inspector: ${err.message}`));
      });
      srv.listen(this.#opts.port, host, () => {
        const a = srv.address() as { port: number };
        this.#http = srv;
        this.#address = { host, port: a.port };
        // Instances unload (idle, time limit, reload): their debuggers are told by a close frame.
        this.#sweep = setInterval(() => this.#closeDisposed(), 250);
        this.#sweep.unref?.();
        resolve(this.#address);
      });
    });
  }

  #targetList(): Record<string, string>[] {
    const a = this.#address!;
    return this.#opts.targets().map((t) => ({
      description: 'ssas application instance',
      devtoolsFrontendUrl: this.devtoolsUrl(t.id),
      devtoolsFrontendUrlCompat: `devtools://devtools/bundled/inspector.html?experiments=true&v8only=true&ws=${a.host}:${a.port}/${t.id}`,
      id: t.id,
      title: t.title,
      type: 'node',
      url: t.url,
      webSocketDebuggerUrl: `ws://${a.host}:${a.port}/${t.id}`,
    }));
  }

  #onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const send = (status: number, body: unknown): void => {
      const text = typeof body === 'string' ? body : JSON.stringify(body, null, 2);
      res.writeHead(status, { 'Content-Type': typeof body === 'string' ? 'text/plain; charset=UTF-8' : 'application/json; charset=UTF-8', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (!LOOPBACK_HOST.test(req.headers.host ?? '')) {
      send(403, 'Host header must name a loopback address\n');
      return;
    }
    const url = (req.url ?? '/').replace(/\?.*$/, '').replace(/\/+$/, '') || '/';
    if (req.method !== 'GET') send(405, 'GET only\n');
    else if (url === '/json' || url === '/json/list') send(200, this.#targetList());
    else if (url === '/json/version') send(200, { Browser: `ssas/${version()}`, 'Protocol-Version': '1.3' });
    else send(404, 'Unknown path: try /json/list\n');
  }

  #onUpgrade(req: http.IncomingMessage, socket: Socket, head: Buffer): void {
    const reject = (status: string): void => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    const key = req.headers['sec-websocket-key'];
    if (!LOOPBACK_HOST.test(req.headers.host ?? '')) return reject('403 Forbidden');
    if (String(req.headers.upgrade).toLowerCase() !== 'websocket' || typeof key !== 'string' || req.headers['sec-websocket-version'] !== '13') {
      return reject('400 Bad Request');
    }
    if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) return reject('400 Bad Request');
    const id = (req.url ?? '').replace(/^\/+/, '').replace(/\?.*$/, '');
    const target = this.#opts.targets().find((t) => t.id === id);
    if (!target || target.isolate.isDisposed) return reject('404 Not Found');
    socket.write(['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${acceptKey(key)}`, '', ''].join('\r\n'));
    socket.setNoDelay(true);
    this.#attach(socket, target, head);
  }

  #attach(socket: Socket, target: InspectorTarget, head: Buffer): void {
    const conn: Connection = { socket, target, session: null, closed: false };
    this.#conns.add(conn);
    const parser = new FrameParser({ requireMask: true, maxMessageBytes: 16 * 1024 * 1024 });
    try {
      const session = target.isolate.createInspectorSession();
      conn.session = session;
      session.onResponse = (_id: number, message: string) => this.#send(conn, Opcode.Text, Buffer.from(message));
      session.onNotification = (message: string) => this.#send(conn, Opcode.Text, Buffer.from(message));
    } catch (err) {
      this.#close(conn, CloseCode.GoingAway, 'target is gone');
      return;
    }
    log.info(`debugger attached to ${target.title}`);
    const onData = (data: Buffer): void => {
      let messages: WsMessage[];
      try {
        messages = parser.push(data);
      } catch (err) {
        const e = err as WebSocketError;
        log.warn(`debugger connection: ${e.message}`);
        this.#close(conn, e.closeCode ?? CloseCode.ProtocolError, e.code ?? 'error');
        return;
      }
      for (const m of messages) this.#onMessage(conn, m);
    };
    socket.on('data', onData);
    socket.on('error', () => this.#close(conn));
    socket.on('close', () => this.#close(conn));
    if (head.length > 0) onData(head);
  }

  #onMessage(conn: Connection, m: WsMessage): void {
    if (conn.closed) return;
    switch (m.opcode) {
      case Opcode.Text:
        try {
          conn.session?.dispatchProtocolMessage(m.payload.toString('utf8'));
        } catch {
          // The isolate was disposed under the session.
          this.#close(conn, CloseCode.GoingAway, 'target is gone');
        }
        return;
      case Opcode.Binary:
        this.#close(conn, CloseCode.Unsupported, 'text frames only');
        return;
      case Opcode.Ping:
        this.#send(conn, Opcode.Pong, m.payload);
        return;
      case Opcode.Pong:
        return;
      case Opcode.Close: {
        const code = m.payload.length >= 2 ? m.payload.readUInt16BE(0) : CloseCode.Normal;
        this.#close(conn, code);
        return;
      }
    }
  }

  #send(conn: Connection, opcode: number, payload: Buffer): void {
    if (conn.closed || conn.socket.destroyed) return;
    conn.socket.write(encodeFrame(opcode, payload));
  }

  /** Sends a close frame (when a code is given), ends the socket and the inspector session. Idempotent. */
  #close(conn: Connection, code?: number, reason = ''): void {
    if (conn.closed) return;
    if (code !== undefined && !conn.socket.destroyed) conn.socket.write(encodeFrame(Opcode.Close, closePayload(code, reason)));
    conn.closed = true;
    this.#conns.delete(conn);
    try {
      conn.session?.dispose();
    } catch {
      // already gone with its isolate
    }
    conn.session = null;
    conn.socket.end();
    setTimeout(() => conn.socket.destroy(), 1000).unref?.();
  }

  #closeDisposed(): void {
    for (const c of Array.from(this.#conns)) if (c.target.isolate.isDisposed) this.#close(c, CloseCode.GoingAway, 'instance unloaded');
  }

  async close(): Promise<void> {
    if (this.#sweep) clearInterval(this.#sweep);
    this.#sweep = null;
    for (const c of Array.from(this.#conns)) this.#close(c, CloseCode.GoingAway, 'server shutting down');
    const srv = this.#http;
    this.#http = null;
    if (srv) await new Promise<void>((r) => srv.close(() => r()));
  }
}

/** A random 16-byte Sec-WebSocket-Key (for clients, e.g. tests). */
export function newWebSocketKey(): string {
  return randomBytes(16).toString('base64');
}

function version(): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return String(require('../../package.json').version);
  } catch {
    return '0';
  }
}
