// @ts-check
'use strict';
/**
 * The client process of the RTMFP benchmark (rtmfp.js), run with `fork` so that its CPU is apart from the
 * server's. Every client is ssas's own RtmpClient (dist/net) dialling rtmfp:// (RFC 7016 / 7425: its own
 * UDP socket, DH key agreement, AES-CBC + HMAC-SHA256 and session sequence numbers, as both servers
 * negotiate by default), so the same client code measures ssas and tcserver.
 *
 * Requests carry an `id` and are answered by one message {type:'done', id, ...} (or {type:'error', id,
 * message}); players and publishers keep running after the answer until `exit`.
 *
 *   play      {url, stream, players, concurrency, probe, bufferMs}  adds players (repeatable); answered at
 *             once: poll `snap` for their progress
 *   snap      {}   -> {bytes:number[], closedMask:number[], media, failed, closed, failures[], probe}
 *             bytes = payload bytes of the audio, video and data messages each player received
 *   handshakes {url, rate, seconds, timeoutMs}  opens new sessions at `rate` per second for `seconds`
 *             (open loop: a new client starts on schedule whether or not the earlier ones finished), each
 *             connect -> NetConnection.Connect.Success -> close; answered when every one settled ->
 *             {ms:number[] (connect latencies), failed, failures[], launched, lateMs (worst start delay)}
 *   publish   {url, stream, file}   one publisher sending an FLV's tags at real time, in a loop; answered
 *             at NetStream.Publish.Start; `pubCount` -> {bytes, tags} (payload bytes sent so far)
 *   exit      {}
 */
const path = require('node:path');
const { serveCommands } = require('./worker-commands');

const root = path.resolve(process.env.BENCH_SSAS_ROOT || path.join(__dirname, '..', '..'));
const dist = (/** @type {string} */ p) => require(path.join(root, 'dist', p));
const { RtmpClient } = dist('net/rtmp-client.js');
const { setLogLevel } = dist('logger.js');
setLogLevel('error');

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/** Every client opened, closed on `exit`. @type {Set<any>} */
const clients = new Set();

// ----- players ----------------------------------------------------------------------------------------------

/**
 * @typedef {object} Player
 * @property {number} bytes
 * @property {boolean} media
 * @property {boolean} closed
 * @property {string} failed
 * @property {boolean} probe
 * @property {number} audio
 * @property {number} video
 */

/** @type {Player[]} */
const players = [];

/**
 * @param {{url:string, stream:string, probe:boolean, bufferMs?:number}} m @param {Player} p
 */
async function startPlayer(m, p) {
  const c = await RtmpClient.connect(m.url, { timeoutMs: 30000 });
  clients.add(c);
  c.onClose = () => {
    p.closed = true;
  };
  const s = await c.createStream();
  s.onEvent = (/** @type {any} */ ev) => {
    if (ev.kind === 'media') {
      p.bytes += ev.msg.payload.length;
      if (p.probe) {
        if (ev.msg.type === 8) p.audio++;
        else if (ev.msg.type === 9) p.video++;
      }
      p.media = true;
    } else if (ev.kind === 'data') {
      p.bytes += ev.msg.payload.length;
    }
  };
  s.setBufferLength(m.bufferMs ?? 3000);
  const st = await s.play(m.stream, -2, -1, true, 30000);
  if (st.code !== 'NetStream.Play.Start') throw new Error(`play ${m.stream}: ${st.code}`);
}

/** @param {any} m */
function play(m) {
  const concurrency = m.concurrency ?? 20;
  let left = m.players;
  let inFlight = 0;
  let first = true;
  const launch = () => {
    while (inFlight < concurrency && left > 0) {
      left--;
      inFlight++;
      /** @type {Player} */
      const p = { bytes: 0, media: false, closed: false, failed: '', probe: m.probe === true && first, audio: 0, video: 0 };
      first = false;
      players.push(p);
      startPlayer(m, p).then(
        () => {
          inFlight--;
          setImmediate(launch);
        },
        (/** @type {Error} */ e) => {
          p.failed = e.message || String(e);
          inFlight--;
          setImmediate(launch);
        },
      );
    }
  };
  launch();
  return { adding: m.players };
}

function snap() {
  let media = 0;
  let failed = 0;
  let closed = 0;
  for (const p of players) {
    if (p.failed) failed++;
    else if (p.media) media++;
    if (p.closed) closed++;
  }
  const probe = players.find((p) => p.probe);
  return {
    at: Date.now(),
    bytes: players.map((p) => p.bytes),
    closedMask: players.map((p) => (p.closed || p.failed ? 1 : 0)),
    media,
    failed,
    closed,
    failures: players.filter((p) => p.failed).slice(0, 5).map((p) => p.failed),
    probe: probe ? { audio: probe.audio, video: probe.video } : null,
  };
}

// ----- handshakes -------------------------------------------------------------------------------------------

/** @param {any} m */
async function handshakes(m) {
  const total = Math.max(1, Math.round(m.rate * m.seconds));
  const interval = 1000 / m.rate;
  /** @type {number[]} */
  const ms = [];
  /** @type {string[]} */
  const failures = [];
  let failed = 0;
  let launched = 0;
  let lateMs = 0;
  /** @type {Promise<void>[]} */
  const all = [];
  const t0 = performance.now();
  const one = async () => {
    const start = performance.now();
    try {
      const c = await RtmpClient.connect(m.url, { timeoutMs: m.timeoutMs ?? 10000 });
      ms.push(performance.now() - start);
      c.close();
    } catch (e) {
      failed++;
      if (failures.length < 5) failures.push(String(/** @type {Error} */ (e).message || e));
    }
  };
  // Open loop: every due start is launched on each tick (a tick every 2 ms at most), however the earlier
  // clients are doing, so a server that falls behind shows it as latency, not as a lower offered rate.
  while (launched < total) {
    const now = performance.now();
    const due = Math.min(total, Math.floor((now - t0) / interval) + 1);
    while (launched < due) {
      const late = now - (t0 + launched * interval);
      if (late > lateMs) lateMs = late;
      launched++;
      all.push(one());
    }
    await sleep(Math.max(1, Math.min(2, t0 + launched * interval - performance.now())));
  }
  await Promise.all(all);
  return { ms, failed, failures, launched, lateMs, wallMs: performance.now() - t0 };
}

// ----- publisher --------------------------------------------------------------------------------------------

const pubState = { bytes: 0, tags: 0 };

/** Every tag of an FLV (ssas's FlvReader). @param {string} file */
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
      if (t.type === 8 || t.type === 9) tags.push({ type: t.type, timestamp: t.timestamp, payload: Buffer.from(t.payload) });
    }
    return { tags, meta: r.info.onMetaData };
  } finally {
    await src.close();
  }
}

/** @param {any} m */
async function publish(m) {
  const { tags, meta } = await readTags(m.file);
  const duration = tags.length ? tags[tags.length - 1].timestamp + 40 : 0;
  const c = await RtmpClient.connect(m.url, { timeoutMs: 30000 });
  clients.add(c);
  const s = await c.createStream();
  await s.publish(m.stream, 'live', 20000);
  if (meta && Object.keys(meta).length) c.sendDataOn(s.id, 0, ['@setDataFrame', 'onMetaData', meta]);
  const t0 = performance.now();
  let i = 0;
  let loops = 0;
  let running = true;
  const tick = () => {
    if (!running || c.closed) return;
    const elapsed = performance.now() - t0;
    while (i < tags.length) {
      const t = tags[i];
      const ts = t.timestamp + loops * duration;
      if (ts > elapsed) break;
      const config = t.payload.length > 1 && t.payload[1] === 0;
      // Sequence headers only on the first pass: a looping encoder does not repeat them.
      if (!(config && loops > 0)) {
        s.sendMedia(/** @type {8|9} */ (t.type), ts, t.payload);
        pubState.bytes += t.payload.length;
        pubState.tags++;
      }
      i++;
      if (i >= tags.length) {
        i = 0;
        loops++;
      }
    }
    setTimeout(tick, 5);
  };
  tick();
  stop.push(() => (running = false));
  return { tags: tags.length, durationMs: duration };
}

/** @type {(() => void)[]} */
const stop = [];

// ----- dispatch ---------------------------------------------------------------------------------------------

/** @type {Record<string, (m:any) => any>} */
const handlers = {
  play,
  snap,
  handshakes,
  publish,
  pubCount: () => ({ ...pubState }),
};

serveCommands(handlers, {
  onExit: () => {
    for (const f of stop) f();
    for (const c of clients) c.close();
  },
  exitDelayMs: 100,
});
