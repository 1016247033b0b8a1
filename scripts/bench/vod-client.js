// @ts-check
'use strict';
/**
 * The VOD player load generator, a forked child process: N players of one recorded stream, each following
 * the chunk framing of what it receives without copying media payloads, so that it knows the timestamp of
 * every audio and video message at the cost of reading chunk headers only. A player "falls behind" when the
 * media timestamps it has received lag the wall clock (both counted from its first media message) by more
 * than `lagLimitMs`.
 *
 * Protocol (Adobe RTMP specification 1.0): plain handshake (5.2), chunk headers of all four formats with
 * extended timestamps (5.3.1), Set Chunk Size (5.4.1), Acknowledgement whenever the bytes since the last one
 * reach the announced window (5.4.3, 5.4.4), Ping Request answered with Ping Response (7.1.7), connect /
 * createStream / play in AMF0 (7.2.1.1, 7.2.1.3, 7.2.2.1), Set Buffer Length (7.1.7). Independent of ssas's
 * codecs, like load-client.js.
 *
 * Parent protocol (IPC):
 *   in:  {cmd:'add', url, stream, players, concurrency, bufferMs, durationMs, lagLimitMs}
 *        {cmd:'snap', id, reset?}  -> {type:'snap', id, players, playing, waiting, failed, closed, ended, behind,
 *                                      maxLagMs, lagP50Ms, bytes, failures}   (reset: forget the worst lags)
 *        behind: failed, closed, no media yet, or lagging more than lagLimitMs since the last reset
 *        {cmd:'stop'}              -> closes every player (the process stays for the next step)
 *        {cmd:'exit'}
 */
const net = require('node:net');
const crypto = require('node:crypto');

const HS = 1536;
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

const { amfValues: amf, amfRead: amfGet, chunk128: chunked, userControl } = require('./wire');

// ----- chunk framing without payload copies -----------------------------------------------------------------

const COLLECT = new Set([1, 4, 5, 20]);

class Player {
  /**
   * @param {{host:string, port:number, app:string, tcUrl:string, stream:string, bufferMs:number, durationMs:number}} t
   * @param {() => void} onSettled
   */
  constructor(t, onSettled) {
    this.t = t;
    this.onSettled = onSettled;
    this.settled = false;
    this.hs = 0;
    /** @type {Buffer[]} */
    this.hsParts = [];
    this.bytes = 0;
    this.window = 0;
    this.lastAck = 0;
    this.chunkSize = 128;
    /** @type {Map<number, {ts:number, delta:number, len:number, type:number, ext:boolean, got:number, parts:Buffer[] | null}>} */
    this.cs = new Map();
    this.hb = Buffer.alloc(18);
    this.hbLen = 0;
    /** Payload bytes left in the current chunk, and its chunk stream. */
    this.inPayload = 0;
    /** @type {any} */
    this.cur = null;
    this.firstWall = 0;
    this.firstTs = 0;
    this.lastTs = 0;
    this.media = 0;
    this.maxLag = -Infinity;
    this.ended = false;
    this.closed = false;
    this.failed = '';
    this.sock = net.connect({
      host: t.host,
      port: t.port,
      onread: { buffer: READ_BUFFER, callback: (n, buf) => this.onRead(n, /** @type {Buffer} */ (buf)) },
    });
    this.sock.setNoDelay(true);
    this.sock.on('connect', () => {
      const c1 = Buffer.allocUnsafe(1 + HS);
      c1[0] = 3;
      c1.writeUInt32BE(0, 1);
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
    this.onSettled();
  }

  /** @param {number} n @param {Buffer} buf */
  onRead(n, buf) {
    let p = 0;
    if (this.hs < 1 + 2 * HS) {
      const take = Math.min(n, 1 + 2 * HS - this.hs);
      this.hsParts.push(Buffer.from(buf.subarray(0, take)));
      this.hs += take;
      p = take;
      if (this.hs < 1 + 2 * HS) return true;
      const all = Buffer.concat(this.hsParts);
      this.hsParts = [];
      this.sock.write(Buffer.concat([all.subarray(1, 1 + HS), this.connectMessage()]));
    }
    this.bytes += n - p;
    this.feed(buf, p, n);
    if (this.window > 0 && this.bytes - this.lastAck >= this.window) {
      this.lastAck = this.bytes;
      const a = Buffer.alloc(16);
      a[0] = 0x02;
      a[6] = 4;
      a[7] = 3;
      a.writeUInt32BE(this.bytes >>> 0, 12);
      if (!this.sock.destroyed) this.sock.write(a);
    }
    return true;
  }

  connectMessage() {
    const t = this.t;
    return chunked(3, 20, 0, amf(['connect', 1, { app: t.app, flashVer: 'LNX 9,0,124,2', tcUrl: t.tcUrl, fpad: false, capabilities: 15, audioCodecs: 4071, videoCodecs: 252, videoFunction: 1, objectEncoding: 0 }]));
  }

  /** Header length once enough bytes of it are known, else the bytes needed to tell. */
  headerLength() {
    const hb = this.hb;
    if (this.hbLen < 1) return 1;
    const fmt = hb[0] >> 6;
    const m = hb[0] & 0x3f;
    const bh = m === 0 ? 2 : m === 1 ? 3 : 1;
    if (this.hbLen < bh) return bh;
    const base = bh + [11, 7, 3, 0][fmt];
    if (this.hbLen < base) return base;
    let ext;
    if (fmt <= 2) ext = hb.readUIntBE(bh, 3) === 0xffffff;
    else ext = this.stream(this.csid(bh)).ext;
    return base + (ext ? 4 : 0);
  }

  /** @param {number} bh */
  csid(bh) {
    const m = this.hb[0] & 0x3f;
    return bh === 1 ? m : bh === 2 ? 64 + this.hb[1] : 64 + this.hb[1] + this.hb[2] * 256;
  }

  /** @param {number} id */
  stream(id) {
    let s = this.cs.get(id);
    if (!s) {
      s = { ts: 0, delta: 0, len: 0, type: 0, ext: false, got: 0, parts: null };
      this.cs.set(id, s);
    }
    return s;
  }

  /** @param {Buffer} buf @param {number} p @param {number} end */
  feed(buf, p, end) {
    while (p < end) {
      if (this.inPayload > 0) {
        const k = Math.min(this.inPayload, end - p);
        const s = this.cur;
        if (s.parts) s.parts.push(Buffer.from(buf.subarray(p, p + k)));
        p += k;
        this.inPayload -= k;
        s.got += k;
        if (this.inPayload === 0 && s.got >= s.len) this.complete(s);
        continue;
      }
      // Gather a header (it may straddle reads), a few bytes at a time.
      let need = this.headerLength();
      while (this.hbLen < need && p < end) {
        const k = Math.min(need - this.hbLen, end - p);
        buf.copy(this.hb, this.hbLen, p, p + k);
        this.hbLen += k;
        p += k;
        need = this.headerLength();
      }
      if (this.hbLen < need) return;
      this.commitHeader();
    }
  }

  commitHeader() {
    const hb = this.hb;
    const fmt = hb[0] >> 6;
    const m = hb[0] & 0x3f;
    const bh = m === 0 ? 2 : m === 1 ? 3 : 1;
    const s = this.stream(this.csid(bh));
    const fresh = s.got === 0;
    let tsField = 0;
    if (fmt <= 2) tsField = hb.readUIntBE(bh, 3);
    if (fmt <= 1) {
      s.len = hb.readUIntBE(bh + 3, 3);
      s.type = hb[bh + 6];
    }
    const base = bh + [11, 7, 3, 0][fmt];
    if (fmt <= 2) {
      s.ext = tsField === 0xffffff;
      if (s.ext) tsField = hb.readUInt32BE(base);
    }
    if (fmt === 0) {
      s.ts = tsField;
      s.delta = 0;
    } else if (fmt <= 2) {
      s.ts = (s.ts + tsField) >>> 0;
      s.delta = tsField;
    } else if (fresh) s.ts = (s.ts + s.delta) >>> 0;
    if (fresh) s.parts = COLLECT.has(s.type) ? [] : null;
    this.hbLen = 0;
    this.cur = s;
    this.inPayload = Math.min(this.chunkSize, s.len - s.got);
    if (this.inPayload === 0) this.complete(s);
  }

  /** @param {{ts:number, len:number, type:number, got:number, parts:Buffer[] | null}} s */
  complete(s) {
    const type = s.type;
    const parts = s.parts;
    s.got = 0;
    s.parts = null;
    if (type === 8 || type === 9) {
      const now = performance.now();
      if (this.media === 0) {
        this.firstWall = now;
        this.firstTs = s.ts;
        this.settle();
      }
      this.media++;
      this.lastTs = s.ts;
      return;
    }
    if (!parts) return;
    const payload = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    if (type === 1) this.chunkSize = payload.readUInt32BE(0) & 0x7fffffff;
    else if (type === 5) this.window = payload.readUInt32BE(0);
    else if (type === 4) {
      if (payload.readUInt16BE(0) === 6) this.sock.write(userControl(7, payload.readUInt32BE(2)));
    } else if (type === 20) this.command(amfGet(payload));
  }

  /** @param {unknown[]} v */
  command(v) {
    const [name, txn] = v;
    if (name === '_result' && txn === 1) this.sock.write(chunked(3, 20, 0, amf(['createStream', 2, null])));
    else if (name === '_result' && txn === 2) {
      const sid = typeof v[3] === 'number' ? v[3] : 1;
      this.sock.write(Buffer.concat([userControl(3, sid, this.t.bufferMs), chunked(8, 20, sid, amf(['play', 3, null, this.t.stream, 0, -1])), userControl(3, sid, this.t.bufferMs)]));
    } else if (name === '_error') {
      this.fail(`_error for transaction ${txn}`);
      this.sock.destroy();
    } else if (name === 'onStatus') {
      const info = /** @type {any} */ (v[3] ?? {});
      if (info.level === 'error') {
        this.fail(`onStatus ${info.code}`);
        this.sock.destroy();
      } else if (info.code === 'NetStream.Play.Stop' || info.code === 'NetStream.Play.Complete') this.ended = true;
    }
  }

  /** Updates the worst lag (media time behind wall time since the first media message). @param {number} now */
  checkLag(now) {
    if (this.media === 0 || this.closed || this.ended) return;
    // Near the end of the file nothing more is due: stop judging.
    if (this.lastTs - this.firstTs >= this.t.durationMs - 1000) {
      this.ended = true;
      return;
    }
    const lag = now - this.firstWall - (this.lastTs - this.firstTs);
    if (lag > this.maxLag) this.maxLag = lag;
  }
}

/** @type {Player[]} */
let players = [];
let lagLimit = 2000;

/** @param {any} m */
function add(m) {
  const u = new URL(m.url);
  const t = {
    host: u.hostname,
    port: Number(u.port || 1935),
    app: u.pathname.replace(/^\/+/, ''),
    tcUrl: m.url,
    stream: m.stream,
    bufferMs: m.bufferMs ?? 3000,
    durationMs: m.durationMs ?? 60000,
  };
  lagLimit = m.lagLimitMs ?? 2000;
  let left = m.players;
  let inFlight = 0;
  const launch = () => {
    while (inFlight < (m.concurrency ?? 40) && left > 0) {
      left--;
      inFlight++;
      players.push(
        new Player(t, () => {
          inFlight--;
          setImmediate(launch);
        }),
      );
    }
  };
  launch();
}

setInterval(() => {
  const now = performance.now();
  for (const p of players) p.checkLag(now);
}, 250).unref();

process.on('message', (/** @type {any} */ m) => {
  if (m.cmd === 'add') add(m);
  else if (m.cmd === 'snap') {
    const now = performance.now();
    for (const p of players) p.checkLag(now);
    const lags = players.filter((p) => p.media > 0).map((p) => p.maxLag).sort((a, b) => a - b);
    process.send?.({
      type: 'snap',
      id: m.id,
      players: players.length,
      playing: players.filter((p) => p.media > 0 && !p.failed).length,
      failed: players.filter((p) => p.failed).length,
      closed: players.filter((p) => p.closed).length,
      ended: players.filter((p) => p.ended).length,
      // A player with no media yet is behind too (it never started, or its server never got to it).
      behind: players.filter((p) => p.failed || p.closed || p.media === 0 || p.maxLag > lagLimit).length,
      waiting: players.filter((p) => !p.failed && !p.closed && p.media === 0).length,
      maxLagMs: lags.length ? lags[lags.length - 1] : 0,
      lagP50Ms: lags.length ? lags[Math.floor(lags.length / 2)] : 0,
      bytes: players.reduce((a, p) => a + p.bytes, 0),
      failures: players.filter((p) => p.failed).slice(0, 3).map((p) => p.failed),
    });
    if (m.reset) for (const p of players) p.maxLag = -Infinity;
  } else if (m.cmd === 'stop') {
    for (const p of players) p.sock.destroy();
    players = [];
  } else if (m.cmd === 'exit') {
    for (const p of players) p.sock.destroy();
    setTimeout(() => process.exit(0), 50);
  }
});
process.on('disconnect', () => process.exit(0));
