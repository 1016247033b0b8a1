// @ts-check
'use strict';
/**
 * A client process for the bridge, latency, recording, republishing and shared object benchmarks, run with
 * `fork` so that its CPU is apart from the server's. Its clients are ssas's own RtmpClient and
 * RemoteSharedObject (dist/net), which speak to every server alike (nginx-rtmp and node-media-server too).
 *
 * Every request carries an `id` and is answered by one message {type:'done', id, ...} (or {type:'error', id,
 * message}). Tasks keep running after their answer until `close` (or `exit`):
 *
 *   calls     {url, clients, outstanding, method, arg}  N connections each keeping K calls in flight;
 *             counters read with `count`
 *   count     {}                                         -> {calls, errors, at}
 *   connectEach {urls, keep}                             one client per URL, one after the other:
 *             -> {ms[]} connect -> NetConnection.Connect.Success (kept open when `keep`)
 *   connectMany {url, n, keep}                           n clients on one URL, 20 at a time -> {ms[]}
 *   callOnce  {url, method, args}                        -> {ms, ok, info}: one call on a new connection
 *   latency   {pub:{url,stream}, players:[{url,stream}], intervalMs, bytes}
 *             a publisher sending a small audio message every intervalMs with its send time in the payload,
 *             players measuring arrival - send on the same clock; answered once every player got media
 *   samples   {}                                         -> {players: [[wallMs, latencyMs, ...], ...]}
 *             (flat pairs per player; wallMs = performance.timeOrigin + performance.now())
 *   publishFlv {url, streams[], file, mode, loop, spreadMs, limitMs}  publishers sending an FLV's tags (the
 *             first limitMs of it) at real time, starting spread over spreadMs; answered once all publish;
 *             without `loop` each unpublishes after its last tag. `flvCounts` -> {sent:{name:{audio,video,config}}, done}
 *   readTagCounts {files}    audio/video frames and codec configuration tags of FLV files (ssas's FlvReader)
 *   so        {url, mode:'so'|'call', clients, first, total, periodMs, soName}  clients on one shared object
 *             (or a script relay); `soGo` {at, seconds} starts the changes; `soReport` -> latencies
 *   close     {}                                          closes every client of every task
 *   exit      {}
 */
const path = require('node:path');
const { serveCommands } = require('./worker-commands');
const fs = require('node:fs');

const root = path.resolve(process.env.BENCH_SSAS_ROOT || path.join(__dirname, '..', '..'));
const dist = (/** @type {string} */ p) => require(path.join(root, 'dist', p));
const { RtmpClient } = dist('net/rtmp-client.js');
const { RemoteSharedObject } = dist('net/so-client.js');
const { setLogLevel } = dist('logger.js');
setLogLevel('error');

const wallNow = () => performance.timeOrigin + performance.now();
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/** Every client opened, for `close`. @type {Set<any>} */
const clients = new Set();
/** @type {(() => void)[]} */
const stoppers = [];

/** @param {string} url @param {object} [opts] */
async function connect(url, opts = {}) {
  const c = await RtmpClient.connect(url, { timeoutMs: 30000, ...opts });
  clients.add(c);
  return c;
}

// ----- calls ------------------------------------------------------------------------------------------------

const callState = { calls: 0, errors: 0, running: false, lastError: '' };

/** @param {any} m */
async function calls(m) {
  const conns = [];
  for (let i = 0; i < m.clients; i++) conns.push(await connect(m.url));
  callState.running = true;
  for (const c of conns) {
    for (let k = 0; k < m.outstanding; k++) {
      const loop = () => {
        if (!callState.running || c.closed) return;
        c.call(m.method, m.arg).then(
          () => {
            callState.calls++;
            loop();
          },
          (/** @type {Error} */ e) => {
            callState.errors++;
            callState.lastError = e.message;
            if (!c.closed) setTimeout(loop, 10);
          },
        );
      };
      loop();
    }
  }
  stoppers.push(() => (callState.running = false));
  return { connected: conns.length };
}

// ----- connect timing ---------------------------------------------------------------------------------------

/** @param {any} m */
async function connectEach(m) {
  const ms = [];
  for (const url of m.urls) {
    const t0 = performance.now();
    const c = await connect(url);
    ms.push(performance.now() - t0);
    if (!m.keep) {
      c.close();
      clients.delete(c);
    }
  }
  return { ms };
}

/** @param {any} m */
async function connectMany(m) {
  const ms = [];
  let next = 0;
  const worker = async () => {
    while (next < m.n) {
      next++;
      const t0 = performance.now();
      const c = await connect(m.url);
      ms.push(performance.now() - t0);
      if (!m.keep) {
        c.close();
        clients.delete(c);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(20, m.n) }, worker));
  return { ms };
}

/** @param {any} m */
async function callOnce(m) {
  const c = await connect(m.url);
  const t0 = performance.now();
  try {
    const v = await c.call(m.method, ...(m.args ?? []));
    return { ms: performance.now() - t0, ok: true, info: v };
  } catch (e) {
    return { ms: performance.now() - t0, ok: false, info: /** @type {any} */ (e).info ?? String(e) };
  } finally {
    c.close();
    clients.delete(c);
  }
}

// ----- relay latency ----------------------------------------------------------------------------------------

/** Per player: flat [wallMs, latencyMs, ...]. @type {number[][]} */
let latencySamples = [];

/** @param {any} m */
async function latency(m) {
  const pubClient = await connect(m.pub.url);
  const ps = await pubClient.createStream();
  await ps.publish(m.pub.stream, 'live');
  const bytes = Math.max(12, m.bytes ?? 32);
  // AAC: a sequence header first (as encoders send), then raw frames carrying the send time.
  ps.sendMedia(8, 0, Buffer.from([0xaf, 0x00, 0x12, 0x10]));
  const players = [];
  /** @type {Promise<void>[]} */
  const first = [];
  for (const p of m.players) {
    const c = await connect(p.url);
    const s = await c.createStream();
    const samples = /** @type {number[]} */ ([]);
    latencySamples.push(samples);
    let resolveFirst = () => {};
    first.push(new Promise((r) => (resolveFirst = r)));
    s.onEvent = (/** @type {any} */ ev) => {
      if (ev.kind !== 'media' || ev.msg.type !== 8) return;
      const pl = ev.msg.payload;
      if (pl.length < 10 || pl[1] !== 0x01) return;
      const now = wallNow();
      samples.push(now, now - pl.readDoubleBE(2));
      resolveFirst();
    };
    s.setBufferLength(0);
    const st = await s.play(p.stream, -1, -1, true, 15000);
    if (st.code !== 'NetStream.Play.Start') throw new Error(`play ${p.url} ${p.stream}: ${st.code}`);
    players.push(c);
  }
  const t0 = performance.now();
  let n = 0;
  const timer = setInterval(() => {
    const payload = Buffer.alloc(bytes);
    payload[0] = 0xaf;
    payload[1] = 0x01;
    const ts = Math.round(performance.now() - t0);
    payload.writeDoubleBE(wallNow(), 2);
    payload.writeUInt32BE(n++, 10);
    ps.sendMedia(8, ts, payload);
  }, m.intervalMs ?? 10);
  stoppers.push(() => clearInterval(timer));
  const ok = await Promise.race([Promise.all(first).then(() => true), sleep(15000).then(() => false)]);
  if (!ok) throw new Error('a latency player received nothing within 15 s');
  return { players: players.length };
}

// ----- FLV publishers ---------------------------------------------------------------------------------------

/** @type {Map<string, {audio:number, video:number}>} */
const flvSent = new Map();
let flvDone = 0;

/** Reads every tag of an FLV with ssas's FlvReader. @param {string} file */
async function readTags(file) {
  const { FlvReader, FileSource } = dist('media/index.js');
  const src = await FileSource.open(file);
  try {
    const r = await FlvReader.open(src);
    /** @type {{type:number, timestamp:number, payload:Buffer}[]} */
    const tags = [];
    for (;;) {
      const t = await r.next();
      if (!t) break;
      tags.push({ type: t.type, timestamp: t.timestamp, payload: Buffer.from(t.payload) });
    }
    return { tags, meta: r.info.onMetaData };
  } finally {
    await src.close();
  }
}

/**
 * Counts a tag: codec configuration (AAC AudioSpecificConfig, AVC decoder configuration: packet type 0 after
 * the FLV codec byte) apart from audio and video frames, since servers may write the configuration again when
 * a recording starts.
 * @param {{audio:number, video:number, config:number}} counts @param {{type:number, payload:Buffer}} t
 */
function countTag(counts, t) {
  const codec = t.type === 8 ? t.payload[0] >> 4 : t.payload[0] & 0x0f;
  const isConfig = t.payload.length > 1 && t.payload[1] === 0 && ((t.type === 8 && codec === 10) || (t.type === 9 && codec === 7));
  if (isConfig) counts.config++;
  else if (t.type === 8) counts.audio++;
  else counts.video++;
}

/** @param {any} m */
async function publishFlv(m) {
  const { tags, meta } = await readTags(m.file);
  const media = tags.filter((t) => (t.type === 8 || t.type === 9) && (!m.limitMs || t.timestamp < m.limitMs));
  const duration = media.length ? media[media.length - 1].timestamp + 40 : 0;
  const pubs = [];
  for (const name of m.streams) {
    const c = await connect(m.url);
    const s = await c.createStream();
    await s.publish(name, m.mode ?? 'live', 20000);
    pubs.push({ c, s, name, i: 0, loops: 0, offset: 0, counts: { audio: 0, video: 0, config: 0 }, done: false });
    flvSent.set(name, pubs[pubs.length - 1].counts);
  }
  const spread = m.spreadMs ?? 1000;
  const t0 = performance.now() + 200;
  pubs.forEach((p, i) => {
    p.offset = (spread * i) / Math.max(1, pubs.length);
    if (meta && Object.keys(meta).length) p.c.sendDataOn(p.s.id, 0, ['@setDataFrame', 'onMetaData', meta]);
  });
  let running = true;
  const tick = () => {
    if (!running) return;
    const now = performance.now();
    for (const p of pubs) {
      if (p.done) continue;
      const elapsed = now - t0 - p.offset;
      while (p.i < media.length) {
        const t = media[p.i];
        const ts = t.timestamp + p.loops * duration;
        if (ts > elapsed) break;
        p.s.sendMedia(/** @type {8|9} */ (t.type), ts, t.payload);
        countTag(p.counts, t);
        p.i++;
      }
      if (p.i >= media.length) {
        if (m.loop) {
          p.i = 0;
          p.loops++;
        } else {
          p.done = true;
          flvDone++;
          // Unpublish after the last tag: the recording is closed by the server.
          setTimeout(() => {
            p.s.closeStream();
            setTimeout(() => {
              p.c.close();
              clients.delete(p.c);
            }, 300);
          }, 200);
        }
      }
    }
    setTimeout(tick, 5);
  };
  tick();
  stoppers.push(() => (running = false));
  return { publishers: pubs.length, durationMs: duration, tags: media.length };
}

// ----- shared object sync / script broadcast ----------------------------------------------------------------

/** @type {{clients:any[], objects:any[], m:any}} */
const soState = { clients: [], objects: [], m: null };
/** Latency of each delivery (ms). @type {number[]} */
let soLat = [];
/** Per change "sender:seq": [deliveries here, max latency here]. @type {Map<string, number[]>} */
let soChanges = new Map();
let soSent = 0;
let soCollect = false;

/** @param {number} sender @param {number} seq @param {number} sentAt */
function soArrived(sender, seq, sentAt) {
  if (!soCollect) return;
  const lat = wallNow() - sentAt;
  soLat.push(lat);
  const k = `${sender}:${seq}`;
  const e = soChanges.get(k);
  if (e) {
    e[0]++;
    if (lat > e[1]) e[1] = lat;
  } else soChanges.set(k, [1, lat]);
}

/** @param {any} m */
async function so(m) {
  soState.m = m;
  let next = 0;
  const join = async () => {
    while (next < m.clients) {
      const i = m.first + next++;
      const handlers =
        m.mode === 'call'
          ? {
              onChange: (/** @type {any} */ slot, /** @type {any} */ v) => {
                if (v && typeof v === 'object' && v.i !== i) soArrived(v.i, v.seq, v.t);
                return null;
              },
            }
          : {};
      const c = await connect(m.url, { handlers });
      soState.clients[i - m.first] = c;
      if (m.mode === 'so') {
        const so = RemoteSharedObject.get(c, m.soName, false);
        so.onSync = (/** @type {any[]} */ list) => {
          for (const ev of list) {
            if (ev.code !== 'change') continue;
            const v = so.data[ev.name];
            if (v && typeof v === 'object') soArrived(v.i, v.seq, v.t);
          }
        };
        await so.connect(30000);
        soState.objects[i - m.first] = so;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(20, m.clients) }, join));
  return { clients: soState.clients.length };
}

/** @param {any} m */
async function soGo(m) {
  const st = soState.m;
  soCollect = true;
  soLat = [];
  soChanges = new Map();
  soSent = 0;
  const period = st.periodMs;
  const rounds = Math.max(1, Math.round((m.seconds * 1000) / period));
  for (let k = 0; k < st.clients; k++) {
    const i = st.first + k;
    const c = soState.clients[k];
    const so = soState.objects[k];
    // Spread over the period: client i changes at its own offset in every period.
    const offset = (period * i) / st.total;
    let seq = 0;
    const fire = () => {
      if (!soCollect || c.closed || seq >= rounds) return;
      const value = { i, seq: seq++, t: wallNow() };
      soSent++;
      if (st.mode === 'so') so.setProperty(`c${i}`, value);
      else c.send('change', `c${i}`, value);
      const due = m.at + offset + seq * period;
      setTimeout(fire, Math.max(0, due - wallNow()));
    };
    setTimeout(fire, Math.max(0, m.at + offset - wallNow()));
  }
  return { rounds };
}

function soReport() {
  const changes = [];
  for (const [k, v] of soChanges) changes.push([k, v[0], v[1]]);
  return { lat: soLat, changes, sent: soSent };
}

// ----- dispatch ---------------------------------------------------------------------------------------------

/** @type {Record<string, (m:any) => any>} */
const handlers = {
  calls,
  count: () => ({ calls: callState.calls, errors: callState.errors, lastError: callState.lastError, at: Date.now() }),
  connectEach,
  connectMany,
  callOnce,
  latency,
  samples: () => ({ players: latencySamples }),
  publishFlv,
  flvCounts: () => ({ sent: Object.fromEntries(flvSent), done: flvDone }),
  so,
  soGo,
  soStop: () => {
    soCollect = false;
    return {};
  },
  soReport,
  close: () => {
    for (const s of stoppers.splice(0)) s();
    soCollect = false;
    for (const c of clients) c.close();
    clients.clear();
    latencySamples = [];
    return {};
  },
  readTagCounts: async (m) => {
    // Counts the audio and video tags of recorded FLVs (ssas's FlvReader).
    /** @type {Record<string, {audio:number, video:number, config:number, bytes:number, error?:string}>} */
    const out = {};
    for (const f of m.files) {
      try {
        const { tags } = await readTags(f);
        const counts = { audio: 0, video: 0, config: 0 };
        for (const t of tags) if (t.type === 8 || t.type === 9) countTag(counts, t);
        out[f] = { ...counts, bytes: fs.statSync(f).size };
      } catch (e) {
        out[f] = { audio: 0, video: 0, config: 0, bytes: fs.existsSync(f) ? fs.statSync(f).size : 0, error: String(/** @type {Error} */ (e).message) };
      }
    }
    return { files: out };
  },
};

serveCommands(handlers, {
  onExit: () => {
    for (const c of clients) c.close();
  },
  exitDelayMs: 50,
});
