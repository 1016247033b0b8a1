// @ts-check
'use strict';
/**
 * Chunk decode throughput: the bytes ffmpeg sends when publishing a clip (captured after the handshake by a
 * recording proxy in front of ssas) are fed, in 64 KiB reads, to ssas's ChunkDecoder (dist/rtmp/
 * chunk-decoder.js) and to node-media-server's chunk parser (the `Rtmp` class of src/protocol/rtmp.js, which
 * also does the handshake and command handling: it is started past the handshake and its packet handler is
 * replaced by a stub that only applies Set Chunk Size and counts). Same bytes, same reads, alternating runs.
 *
 * Variants: the capture as ffmpeg chunked it, and its messages re-chunked with ssas's ChunkEncoder at 128
 * (the RTMP default) and at 4096 bytes.
 */
const fs = require('node:fs');
const path = require('node:path');
const chalk = require('chalk');
const c = require('./common');

const READ_SIZE = 64 * 1024;
/** C0 + C1 + C2: the publisher's handshake bytes before its first chunk. */
const HANDSHAKE_BYTES = 1 + 1536 + 1536;

function dist(/** @type {string} */ rel) {
  const p = path.join(c.ROOT, 'dist', rel);
  if (!fs.existsSync(p)) throw new Error(`${p} missing: run npm run build`);
  return require(p);
}

/**
 * Publishes the clip once (as fast as ffmpeg sends) through a recording proxy into ssas.
 * @param {{file:string}} clip
 */
async function capture(clip) {
  const server = await c.startServer('ssas');
  const proxy = await c.startProxy(server.port, { record: true });
  try {
    const log = path.join(server.dir, 'ffmpeg.log');
    const pub = c.startPublisher(clip.file, `rtmp://127.0.0.1:${proxy.port}/${server.app}/capture`, { realtime: false, log });
    const code = await new Promise((resolve) => pub.once('exit', resolve));
    if (code !== 0) throw new Error(`ffmpeg capture publish failed (${code}): ${fs.readFileSync(log, 'utf8')}`);
    await c.sleep(300);
    const all = Buffer.concat(proxy.state.recorded);
    return all.subarray(HANDSHAKE_BYTES);
  } finally {
    await proxy.close();
    await server.stop();
    fs.rmSync(server.dir, { recursive: true, force: true });
  }
}

/** @param {Buffer} buf */
function slices(buf) {
  const out = [];
  for (let o = 0; o < buf.length; o += READ_SIZE) out.push(buf.subarray(o, Math.min(o + READ_SIZE, buf.length)));
  return out;
}

/** Messages of a chunk stream, decoded by ssas (also the check that the capture is whole). @param {Buffer} bytes */
function messagesOf(bytes) {
  const { ChunkDecoder } = dist('rtmp/chunk-decoder.js');
  /** @type {any[]} */
  const msgs = [];
  let chunkSize = 128;
  const d = new ChunkDecoder({
    onMessage: (/** @type {any} */ m) => {
      if (m.type === 1) chunkSize = m.payload.readUInt32BE(0);
      msgs.push({ ...m, payload: Buffer.from(m.payload) });
    },
  });
  for (const s of slices(bytes)) d.push(s);
  return { msgs, lastChunkSize: chunkSize };
}

/** Re-chunks messages at one chunk size (Set Chunk Size first when it is not the default). @param {any[]} msgs @param {number} size */
function rechunk(msgs, size) {
  const { ChunkEncoder } = dist('rtmp/chunk-encoder.js');
  const enc = new ChunkEncoder();
  const parts = [];
  if (size !== 128) {
    const p = Buffer.alloc(4);
    p.writeUInt32BE(size, 0);
    parts.push(enc.encode({ type: 1, streamId: 0, timestamp: 0, csid: 2, payload: p }));
    enc.setChunkSize(size);
  }
  for (const m of msgs) if (m.type !== 1) parts.push(enc.encode(m));
  return Buffer.concat(parts);
}

/** @returns {(reads: Buffer[]) => {messages:number, payload:number}} */
function ssasParser() {
  const { ChunkDecoder } = dist('rtmp/chunk-decoder.js');
  return (reads) => {
    let messages = 0;
    let payload = 0;
    const d = new ChunkDecoder({
      onMessage: (/** @type {any} */ m) => {
        messages++;
        payload += m.payload.length;
      },
    });
    for (let i = 0; i < reads.length; i++) d.push(reads[i]);
    return { messages, payload };
  };
}

/** @returns {(reads: Buffer[]) => {messages:number, payload:number}} */
function nmsParser() {
  // Loaded by path: the package has no types, and only its parser is wanted.
  /** @type {any} */
  const Rtmp = require(require.resolve('node-media-server/src/protocol/rtmp.js'));
  /** Past the handshake: state RTMP_HANDSHAKE_2 of src/protocol/rtmp.js. */
  const HANDSHAKE_DONE = 3;
  return (reads) => {
    let messages = 0;
    let payload = 0;
    const r = new Rtmp();
    r.handshakeState = HANDSHAKE_DONE;
    // Only the parser runs: no AMF decoding, no FLV tag parsing, no session callbacks.
    /** @this {any} */
    r.packetHandler = function packetHandler() {
      const pk = this.parserPacket;
      if (pk.header.type === 1) this.inChunkSize = pk.payload.readUInt32BE(0);
      messages++;
      payload += pk.header.length;
    };
    for (let i = 0; i < reads.length; i++) {
      const err = r.parserData(reads[i]);
      if (err) throw new Error(`node-media-server parser: ${err}`);
    }
    return { messages, payload };
  };
}

/**
 * Runs `fn` over the reads for about `seconds`; returns bytes/s.
 * @param {(reads: Buffer[]) => unknown} fn @param {Buffer[]} reads @param {number} total @param {number} seconds
 */
function timeIt(fn, reads, total, seconds) {
  const until = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  const t0 = process.hrtime.bigint();
  let passes = 0;
  let now = t0;
  do {
    fn(reads);
    passes++;
    now = process.hrtime.bigint();
  } while (now < until);
  return { bytes: passes * total, sec: Number(now - t0) / 1e9, passes };
}

/** @param {{seconds:number}} o */
async function decode(o) {
  console.log(chalk.bold.cyan('\nChunk decode throughput: ffmpeg publish captures fed to each parser in 64 KiB reads'));
  console.log(chalk.dim(`  ${c.machineLine()}; ${o.seconds} s per parser and variant, in two alternating halves`));
  /** @type {Record<string, (reads: Buffer[]) => {messages:number, payload:number}>} */
  const parsers = { ssas: ssasParser() };
  let haveNms = !c.peerMissing('nms');
  if (haveNms) parsers.nms = nmsParser();
  else console.log(chalk.yellow('  node-media-server not installed: ssas only'));
  /** @type {any[]} */
  const results = [];
  for (const which of /** @type {const} */ (['0.6M', '4M'])) {
    const clip = c.ensureClip(which);
    const captured = await capture(clip);
    const { msgs, lastChunkSize } = messagesOf(captured);
    const media = msgs.filter((m) => m.type === 8 || m.type === 9);
    const avg = media.reduce((a, m) => a + m.payload.length, 0) / Math.max(1, media.length);
    console.log(
      chalk.dim(
        `  ${which} capture: ${(captured.length / 1e6).toFixed(2)} MB, ${msgs.length} messages (${media.length} audio/video, ` +
          `${avg.toFixed(0)} bytes average), ffmpeg chunk size ${lastChunkSize}`,
      ),
    );
    const variants = [
      { name: `as sent (${lastChunkSize})`, bytes: captured },
      { name: '128', bytes: rechunk(msgs, 128) },
      { name: '4096', bytes: rechunk(msgs, 4096) },
    ];
    for (const v of variants) {
      const reads = slices(v.bytes);
      /** @type {Record<string, {bytes:number, sec:number, messages:number, payload:number}>} */
      const acc = {};
      for (const [name, fn] of Object.entries(parsers)) {
        const once = fn(reads); // warm-up, and the message count
        acc[name] = { bytes: 0, sec: 0, messages: once.messages, payload: once.payload };
      }
      for (let half = 0; half < 2; half++) {
        for (const [name, fn] of Object.entries(parsers)) {
          const t = timeIt(fn, reads, v.bytes.length, o.seconds / 2);
          acc[name].bytes += t.bytes;
          acc[name].sec += t.sec;
        }
      }
      const row = {
        clip: which,
        variant: v.name,
        captureBytes: v.bytes.length,
        messages: msgs.length,
        /** @type {Record<string, {MBps:number, msgsPerSec:number, messages:number}>} */
        parsers: {},
      };
      for (const [name, a] of Object.entries(acc)) {
        const MBps = a.bytes / a.sec / 1e6;
        row.parsers[name] = { MBps, msgsPerSec: (MBps * 1e6 * a.messages) / v.bytes.length, messages: a.messages };
      }
      results.push(row);
    }
  }
  c.printTable(
    ['clip', 'chunking', 'bytes', 'ssas MB/s', 'nms MB/s', 'ssas/nms', 'ssas msg/s', 'messages ssas / nms'],
    results.map((r) => {
      const s = r.parsers.ssas;
      const n = r.parsers.nms;
      const same = !n || n.messages === s.messages;
      return [
        r.clip,
        r.variant,
        String(r.captureBytes),
        c.fmt(s.MBps, 0),
        n ? c.fmt(n.MBps, 0) : 'n/a',
        n ? c.ratioCell(s.MBps, n.MBps, { higherIsBetter: true }) : 'n/a',
        c.fmt(s.msgsPerSec, 0),
        { text: n ? `${s.messages} / ${n.messages}` : String(s.messages), color: same ? undefined : chalk.red },
      ];
    }),
    { right: [2, 3, 4, 5, 6, 7] },
  );
  return { bench: 'decode', readSize: READ_SIZE, seconds: o.seconds, results };
}

module.exports = { decode };
