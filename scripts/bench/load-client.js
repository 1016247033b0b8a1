// @ts-check
'use strict';
/**
 * The player load generator of the fan-out benchmarks, run as a child process (`fork`) so that its CPU is
 * not the server's and can be measured apart. It opens N RTMP players against one URL and, once a player
 * receives media, stops parsing its bytes: it only counts them and acknowledges them.
 *
 * Protocol (Adobe RTMP specification 1.0): the plain handshake (5.2, version 3, C1 time + zeros + random,
 * C2 echoes S1); connect / createStream / play commands in AMF0 (7.2.1.1, 7.2.1.3, 7.2.2.1); Set Buffer
 * Length user control (7.1.7); Acknowledgement (5.4.3) sent whenever the bytes received since the last one
 * reach the window the server announced with Window Acknowledgement Size (5.4.4). The sequence number of an
 * Acknowledgement is a byte count, so counting mode needs no chunk framing at all: the window is learnt
 * while the setup messages are still parsed.
 *
 * Deliberately independent of the code under test: nothing here uses ssas's codecs.
 *
 * Parent protocol (IPC messages):
 *   in:  {cmd:'add', url, stream, players, concurrency, probe}   (repeatable: steps the load up)
 *        {cmd:'snap', id}   -> {type:'snap', id, bytes:number[], closedMask:number[], closed, media, failed, probe}
 *        {cmd:'stop'}       -> exits
 */
const net = require('node:net');
const crypto = require('node:crypto');

const HS = 1536;
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

const { amfValues, amfRead, chunk128, userControl } = require('./wire');

/** @param {number} seq */
function ackMessage(seq) {
  const b = Buffer.alloc(16);
  b[0] = 0x02;
  b[6] = 4;
  b[7] = 3; // Acknowledgement
  b.writeUInt32BE(seq >>> 0, 12);
  return b;
}

// ----- one player ------------------------------------------------------------------------------------------

/**
 * Chunk parser used during setup (and for the whole run of the probe player): RTMP spec 5.3, all four
 * header formats, extended timestamps, Set Chunk Size.
 */
class SetupParser {
  constructor() {
    this.chunkSize = 128;
    /** @type {Map<number, {ts:number, delta:number, len:number, type:number, sid:number, ext:boolean, parts:Buffer[], got:number}>} */
    this.streams = new Map();
    /** @type {Buffer} */
    this.pending = Buffer.alloc(0);
  }

  /**
   * @param {Buffer} data (copied by the caller if it is reused)
   * @param {(type:number, sid:number, ts:number, payload:Buffer)=>void} onMessage
   */
  push(data, onMessage) {
    let b = this.pending.length ? Buffer.concat([this.pending, data]) : data;
    let p = 0;
    for (;;) {
      const start = p;
      if (b.length - p < 1) break;
      const b0 = b[p++];
      const fmt = b0 >> 6;
      let csid = b0 & 0x3f;
      if (csid === 0) {
        if (b.length - p < 1) { p = start; break; }
        csid = 64 + b[p++];
      } else if (csid === 1) {
        if (b.length - p < 2) { p = start; break; }
        csid = 64 + b[p] + b[p + 1] * 256;
        p += 2;
      }
      const hl = [11, 7, 3, 0][fmt];
      if (b.length - p < hl) { p = start; break; }
      let s = this.streams.get(csid);
      if (!s) {
        s = { ts: 0, delta: 0, len: 0, type: 0, sid: 0, ext: false, parts: [], got: 0 };
        this.streams.set(csid, s);
      }
      let tsField = -1;
      let len = s.len;
      let type = s.type;
      let sid = s.sid;
      if (fmt <= 2) tsField = b.readUIntBE(p, 3);
      if (fmt <= 1) {
        len = b.readUIntBE(p + 3, 3);
        type = b[p + 6];
      }
      if (fmt === 0) sid = b.readUInt32LE(p + 7);
      p += hl;
      const ext = fmt <= 2 ? tsField === 0xffffff : s.ext;
      if (ext) {
        if (b.length - p < 4) { p = start; break; }
        if (fmt <= 2) tsField = b.readUInt32BE(p);
        p += 4;
      }
      const newMessage = s.got === 0;
      const dataLen = Math.min(this.chunkSize, len - s.got);
      if (b.length - p < dataLen) { p = start; break; }
      // Commit the header.
      s.len = len;
      s.type = type;
      s.sid = sid;
      s.ext = ext;
      if (fmt === 0) { s.ts = tsField; s.delta = tsField; }
      else if (fmt <= 2) { s.ts = (s.ts + tsField) >>> 0; s.delta = tsField; }
      else if (newMessage) s.ts = (s.ts + s.delta) >>> 0;
      s.parts.push(b.subarray(p, p + dataLen));
      s.got += dataLen;
      p += dataLen;
      if (s.got >= s.len) {
        const payload = s.parts.length === 1 ? s.parts[0] : Buffer.concat(s.parts);
        s.parts = [];
        s.got = 0;
        if (s.type === 1) this.chunkSize = payload.readUInt32BE(0) & 0x7fffffff;
        onMessage(s.type, s.sid, s.ts, payload);
      }
    }
    // Keep unparsed bytes (and the data the partial messages point into) alive as a copy.
    this.pending = p < b.length ? Buffer.from(b.subarray(p)) : Buffer.alloc(0);
    for (const s of this.streams.values()) s.parts = s.parts.map((x) => Buffer.from(x));
  }
}

const MODE_HANDSHAKE = 0;
const MODE_SETUP = 1;
const MODE_COUNT = 2;

class Player {
  /**
   * @param {number} index
   * @param {{host:string, port:number, app:string, tcUrl:string, stream:string}} target
   * @param {boolean} probe keep parsing for the whole run (one per worker, a sanity check of the media)
   * @param {(p: Player) => void} onSettled
   */
  constructor(index, target, probe, onSettled) {
    this.index = index;
    this.target = target;
    this.probe = probe;
    this.onSettled = onSettled;
    this.mode = MODE_HANDSHAKE;
    /** Bytes received after the handshake (the Acknowledgement sequence number). */
    this.bytes = 0;
    this.hsGot = 0;
    /** @type {Buffer[]} */
    this.hsParts = [];
    this.window = 0;
    this.lastAck = 0;
    this.lastAckAt = Date.now();
    this.closed = false;
    this.failed = '';
    this.settled = false;
    this.streamId = 0;
    this.audio = 0;
    this.video = 0;
    this.lastTs = 0;
    /** @type {SetupParser | null} */
    this.parser = null;
    this.sock = net.connect({
      host: target.host,
      port: target.port,
      onread: { buffer: READ_BUFFER, callback: (n, buf) => this.onRead(n, /** @type {Buffer} */ (buf)) },
    });
    this.sock.setNoDelay(true);
    this.sock.on('connect', () => {
      const c1 = Buffer.allocUnsafe(1 + HS);
      c1[0] = 3;
      c1.writeUInt32BE(Date.now() >>> 0, 1);
      c1.writeUInt32BE(0, 5);
      crypto.randomFillSync(c1, 9);
      this.sock.write(c1);
    });
    this.sock.on('error', (e) => this.fail(`socket: ${e.message}`));
    this.sock.on('close', () => {
      this.closed = true;
      if (!this.settled) this.fail('closed during setup');
    });
  }

  /** @param {string} why */
  fail(why) {
    if (!this.failed) this.failed = why;
    this.settle();
  }

  settle() {
    if (this.settled) return;
    this.settled = true;
    this.onSettled(this);
  }

  /** @param {number} n @param {Buffer} buf @returns {boolean} */
  onRead(n, buf) {
    if (this.mode === MODE_COUNT) {
      // The hot path: count, acknowledge per window, nothing else.
      const total = (this.bytes += n);
      if (this.window > 0 && total - this.lastAck >= this.window) this.ack(total);
      if (this.probe) this.parse(Buffer.from(buf.subarray(0, n)));
      return true;
    }
    if (this.mode === MODE_HANDSHAKE) {
      const need = 1 + 2 * HS - this.hsGot;
      const take = Math.min(n, need);
      this.hsParts.push(Buffer.from(buf.subarray(0, take)));
      this.hsGot += take;
      if (this.hsGot < 1 + 2 * HS) return true;
      const all = Buffer.concat(this.hsParts);
      this.hsParts = [];
      const s1 = all.subarray(1, 1 + HS);
      this.mode = MODE_SETUP;
      this.parser = new SetupParser();
      this.sock.write(Buffer.concat([s1, this.connectMessage()]));
      if (n > take) {
        this.bytes += n - take;
        this.parse(Buffer.from(buf.subarray(take, n)));
      }
      return true;
    }
    this.bytes += n;
    this.parse(Buffer.from(buf.subarray(0, n)));
    if (this.window > 0 && this.bytes - this.lastAck >= this.window) this.ack(this.bytes);
    return true;
  }

  /** @param {number} total */
  ack(total) {
    this.lastAck = total;
    this.lastAckAt = Date.now();
    if (!this.sock.destroyed) this.sock.write(ackMessage(total));
  }

  connectMessage() {
    const t = this.target;
    return chunk128(
      3,
      20,
      0,
      amfValues([
        'connect',
        1,
        {
          app: t.app,
          flashVer: 'LNX 9,0,124,2',
          tcUrl: t.tcUrl,
          fpad: false,
          capabilities: 15,
          audioCodecs: 4071,
          videoCodecs: 252,
          videoFunction: 1,
          objectEncoding: 0,
        },
      ]),
    );
  }

  /** @param {Buffer} data */
  parse(data) {
    const parser = /** @type {SetupParser} */ (this.parser);
    parser.push(data, (type, sid, ts, payload) => this.onMessage(type, sid, ts, payload));
  }

  /** @param {number} type @param {number} sid @param {number} ts @param {Buffer} payload */
  onMessage(type, sid, ts, payload) {
    void sid;
    switch (type) {
      case 5:
        this.window = payload.readUInt32BE(0);
        return;
      case 4: {
        const ev = payload.readUInt16BE(0);
        if (ev === 6) this.sock.write(userControl(7, payload.readUInt32BE(2)));
        return;
      }
      case 20: {
        const v = amfRead(payload);
        const name = v[0];
        const txn = v[1];
        if (name === '_result' && txn === 1) {
          this.sock.write(chunk128(3, 20, 0, amfValues(['createStream', 2, null])));
        } else if (name === '_result' && txn === 2) {
          this.streamId = typeof v[3] === 'number' ? v[3] : 1;
          this.sock.write(
            Buffer.concat([
              chunk128(8, 20, this.streamId, amfValues(['play', 3, null, this.target.stream, -1])),
              userControl(3, this.streamId, 3000),
            ]),
          );
        } else if (name === '_error') {
          this.fail(`_error for transaction ${txn}: ${JSON.stringify(v[3] ?? null)}`);
          this.sock.destroy();
        } else if (name === 'onStatus') {
          const info = /** @type {Record<string, unknown>} */ (v[3] ?? {});
          if (info && info.level === 'error') {
            this.fail(`onStatus ${String(info.code)}`);
            this.sock.destroy();
          }
        }
        return;
      }
      case 8:
      case 9:
        if (type === 8) this.audio++;
        else this.video++;
        this.lastTs = ts;
        if (this.mode === MODE_SETUP) {
          this.mode = MODE_COUNT;
          if (!this.probe) this.parser = null;
          this.settle();
        }
        return;
      default:
    }
  }
}

// ----- the worker --------------------------------------------------------------------------------------------

/** @type {Player[]} */
const players = [];
let keepAlive = false;

/**
 * Adds players (may be called again to step the load up).
 * @param {{url:string, stream:string, players:number, concurrency?:number, probe?:boolean}} opts
 */
function add(opts) {
  const u = new URL(opts.url);
  const target = {
    host: u.hostname,
    port: Number(u.port || 1935),
    app: u.pathname.replace(/^\/+/, ''),
    tcUrl: opts.url,
    stream: opts.stream,
  };
  const concurrency = opts.concurrency ?? 50;
  let left = opts.players;
  let inFlight = 0;
  let first = true;
  const launch = () => {
    while (inFlight < concurrency && left > 0) {
      left--;
      inFlight++;
      const probe = opts.probe === true && first;
      first = false;
      players.push(
        new Player(players.length, target, probe, () => {
          inFlight--;
          setImmediate(launch);
        }),
      );
    }
  };
  launch();
  if (!keepAlive) {
    keepAlive = true;
    // Servers may drop a peer that stays silent for long (nginx-rtmp pings after 60 s of silence and closes
    // 30 s later): a player that has not acknowledged for 20 s acknowledges what it has (harmless, valid).
    setInterval(() => {
      const now = Date.now();
      for (const p of players) {
        if (p.mode === MODE_COUNT && !p.closed && now - p.lastAckAt > 20000) p.ack(p.bytes);
      }
    }, 5000).unref();
  }
}

function summary() {
  let media = 0;
  let failed = 0;
  let closed = 0;
  for (const p of players) {
    if (p.failed) failed++;
    else if (p.mode === MODE_COUNT) media++;
    if (p.closed) closed++;
  }
  return { media, failed, closed };
}

/** @param {unknown} m */
function send(m) {
  if (process.send) process.send(m);
}

process.on('message', (/** @type {any} */ m) => {
  if (m.cmd === 'add') {
    add(m);
  } else if (m.cmd === 'snap') {
    const probe = players.find((p) => p.probe);
    send({
      type: 'snap',
      id: m.id,
      at: Date.now(),
      bytes: players.map((p) => p.bytes),
      closedMask: players.map((p) => (p.closed ? 1 : 0)),
      failures: players.filter((p) => p.failed).slice(0, 5).map((p) => p.failed),
      ...summary(),
      probe: probe ? { audio: probe.audio, video: probe.video, lastTs: probe.lastTs } : null,
    });
  } else if (m.cmd === 'stop') {
    for (const p of players) p.sock.destroy();
    setTimeout(() => process.exit(0), 50);
  }
});
process.on('disconnect', () => process.exit(0));
