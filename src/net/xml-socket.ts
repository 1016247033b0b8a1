/**
 * TCP clients of the script classes XMLSocket and XMLStreams (FMS 2 Server-Side ActionScript; Flash's
 * XMLSocket protocol): XMLSocket sends and receives documents each ended by a zero byte; XMLStreams speaks one
 * long XML stream (XMPP-style) in fragments: the opening tag of the stream's root, then each complete element
 * inside it (or each complete top-level element when there is no wrapping root), found by saxes as the bytes
 * arrive. Text is UTF-8. Limits: the connect attempt and each message wait at most `timeoutMs` (a peer that
 * sends half a message and stalls is dropped), and a message is at most `maxMessageBytes`.
 */
import * as net from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { SaxesParser } from 'saxes';
import { hostAllowed } from './http-client';

export interface XmlSocketLimits {
  timeoutMs: number;
  maxMessageBytes: number;
  allow: string[] | null;
}

export interface XmlSocketEvents {
  /** The connect attempt ended. */
  connect(ok: boolean, error?: { code: string; message: string }): void;
  /** One document (XMLSocket) or fragment (XMLStreams). */
  message(text: string): void;
  /** The peer closed the connection, or it failed after connecting (not called after close()). */
  close(error?: { code: string; message: string }): void;
}

export type XmlSocketKind = 'socket' | 'streams';

export class XmlSocketClient {
  readonly kind: XmlSocketKind;
  #socket: net.Socket | null = null;
  #events: XmlSocketEvents;
  #limits: XmlSocketLimits;
  #decoder = new StringDecoder('utf8');
  #pending = '';
  #closedByUs = false;
  #stallTimer: NodeJS.Timeout | null = null;
  #splitter: FragmentSplitter | null = null;

  constructor(kind: XmlSocketKind, events: XmlSocketEvents, limits: XmlSocketLimits) {
    this.kind = kind;
    this.#events = events;
    this.#limits = limits;
  }

  get connected(): boolean {
    return this.#socket !== null && !this.#socket.destroyed && !this.#socket.connecting;
  }

  /** Starts connecting; the outcome arrives as events.connect. */
  connect(host: string, port: number): void {
    let url: URL;
    try {
      url = new URL(`tcp://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`);
    } catch {
      queueMicrotask(() => this.#events.connect(false, { code: 'ERR_SOCKET_BAD_ADDRESS', message: `not a host: ${host}` }));
      return;
    }
    if (!hostAllowed(url, this.#limits.allow)) {
      queueMicrotask(() =>
        this.#events.connect(false, { code: 'ERR_SOCKET_NOT_ALLOWED', message: `${host}:${port} is not in the network allow-list (Application.xml JSEngine/NetworkAccess)` }),
      );
      return;
    }
    const socket = net.connect({ host, port });
    this.#socket = socket;
    socket.setNoDelay(true);
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      socket.destroy();
      this.#events.connect(false, { code: 'ERR_SOCKET_TIMEOUT', message: `no connection to ${host}:${port} within ${this.#limits.timeoutMs} ms` });
    }, this.#limits.timeoutMs);
    timer.unref?.();
    socket.once('connect', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.#events.connect(true);
    });
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        this.#events.connect(false, { code: 'ERR_SOCKET_FAILED', message: `${host}:${port}: ${err.code ?? ''} ${err.message}`.trim() });
      }
    });
    socket.on('close', () => {
      this.#clearStall();
      if (!settled) return;
      if (!this.#closedByUs) this.#events.close();
      this.#socket = null;
    });
  }

  /** Sends a document (with its zero byte for XMLSocket); false when not connected. */
  send(text: string): boolean {
    const s = this.#socket;
    if (!s || !this.connected) return false;
    s.write(this.kind === 'socket' ? `${text}\u0000` : text, 'utf8');
    return true;
  }

  close(): void {
    this.#closedByUs = true;
    this.#clearStall();
    this.#socket?.destroy();
    this.#socket = null;
  }

  #fail(code: string, message: string): void {
    const s = this.#socket;
    this.#closedByUs = true;
    this.#socket = null;
    s?.destroy();
    this.#clearStall();
    this.#events.close({ code, message });
  }

  #clearStall(): void {
    if (this.#stallTimer) clearTimeout(this.#stallTimer);
    this.#stallTimer = null;
  }

  #onData(chunk: Buffer): void {
    const text = this.#decoder.write(chunk);
    if (this.kind === 'socket') {
      this.#pending += text;
      let zero: number;
      while ((zero = this.#pending.indexOf('\u0000')) >= 0) {
        const doc = this.#pending.slice(0, zero);
        this.#pending = this.#pending.slice(zero + 1);
        this.#events.message(doc);
        if (!this.#socket) return;
      }
    } else {
      this.#splitter ??= new FragmentSplitter((f) => this.#events.message(f));
      const err = this.#splitter.write(text);
      if (err) {
        this.#fail('ERR_SOCKET_MALFORMED', `the XML stream is malformed: ${err}`);
        return;
      }
      this.#pending = this.#splitter.pendingText();
    }
    if (Buffer.byteLength(this.#pending) > this.#limits.maxMessageBytes) {
      this.#fail('ERR_SOCKET_TOO_LARGE', `a message longer than ${this.#limits.maxMessageBytes} bytes`);
      return;
    }
    // Half a message waits at most timeoutMs for the rest.
    this.#clearStall();
    if (this.#pending.length > 0) {
      this.#stallTimer = setTimeout(() => this.#fail('ERR_SOCKET_TIMEOUT', `a message was not completed within ${this.#limits.timeoutMs} ms`), this.#limits.timeoutMs);
      this.#stallTimer.unref?.();
    }
  }
}

/**
 * Cuts an XML stream into fragments with saxes: the root's opening tag, then every complete element at
 * depth 1 (or at depth 0 when elements arrive without a root). Text between fragments is dropped.
 */
export class FragmentSplitter {
  #parser = new SaxesParser({ fragment: true, xmlns: false, position: true });
  #text = '';
  /** Absolute offset of #text[0] in the stream. */
  #base = 0;
  #depth = 0;
  #start = -1;
  /** Depth whose elements are fragments: 0 until a root stays open, then 1. */
  #fragmentDepth = 0;
  #error: string | null = null;
  #emit: (fragment: string) => void;

  constructor(emit: (fragment: string) => void) {
    this.#emit = emit;
    const p = this.#parser;
    p.on('error', (e) => {
      const msg = String(e.message);
      // Entities and stray text are the fragment parser's business (the XML class is lenient).
      if (/undefined entity|entity name|character entity|text data outside|disallowed character\.|"\]\]>"|XML declaration/.test(msg)) return;
      this.#error ??= msg.replace(/^\d+:\d+: /, '');
    });
    p.on('opentagstart', () => {
      if (this.#depth === this.#fragmentDepth && this.#start < 0) this.#start = this.#lastLt(p.position);
    });
    p.on('opentag', (tag) => {
      if (tag.isSelfClosing) {
        if (this.#depth === this.#fragmentDepth) this.#cut(p.position);
        return;
      }
      if (this.#depth === 0 && this.#fragmentDepth === 0) {
        // An element at the top that does not close at once: the stream's root. Its opening tag is a
        // fragment of its own; its children are the next ones.
        this.#cut(p.position);
        this.#fragmentDepth = 1;
      }
      this.#depth++;
    });
    p.on('closetag', (tag) => {
      if (tag.isSelfClosing) return;
      this.#depth--;
      if (this.#depth === this.#fragmentDepth && this.#start >= 0) this.#cut(p.position);
      else if (this.#depth === 0 && this.#fragmentDepth === 1) {
        // The root closed: what follows are top-level elements again.
        this.#fragmentDepth = 0;
        this.#start = -1;
        this.#drop(p.position);
      }
    });
  }

  #lastLt(pos: number): number {
    const i = this.#text.lastIndexOf('<', pos - this.#base);
    return i < 0 ? pos : this.#base + i;
  }

  #cut(end: number): void {
    const from = this.#start >= 0 ? this.#start : this.#base;
    this.#emit(this.#text.slice(from - this.#base, end - this.#base));
    this.#start = -1;
    this.#drop(end);
  }

  #drop(upTo: number): void {
    this.#text = this.#text.slice(upTo - this.#base);
    this.#base = upTo;
  }

  /** Feeds text; returns a message when the stream is malformed (it cannot be resynchronised). */
  write(text: string): string | null {
    this.#text += text;
    try {
      this.#parser.write(text);
    } catch (err) {
      this.#error ??= String((err as Error).message);
    }
    if (this.#start < 0) {
      // Nothing open at fragment depth: whitespace or text between fragments is not kept.
      const lt = this.#text.indexOf('<');
      this.#drop(this.#base + (lt < 0 ? this.#text.length : lt));
    }
    return this.#error;
  }

  pendingText(): string {
    return this.#text;
  }
}
