// @ts-check
'use strict';
/**
 * The script classes of issue 14, against Node doing the same work in the same process and run:
 *
 *   file lines   a main.asc writes N lines with File.writeln, closes, then reads them back with readln
 *                (its own timing, inside the script); Node writes the same lines with fs.createWriteStream
 *                and reads them with readline over fs.createReadStream. Lines per second each way, ratio.
 *   xml parse    a 1 MB document parsed by a script (new XML(text): saxes in the isolate + the Flash DOM),
 *                and in Node by saxes alone and by the host's DOM (src/util/xml.ts parseXml, the same shared
 *                parser building a tree). Milliseconds per parse (median of R), ratios.
 *
 * The script runs in a real instance of the compiled server (dist/), triggered by our RTMP client; its
 * figures exclude the RTMP call itself (the script times its own loop).
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const chalk = require('chalk');
const c = require('./common');

const MAIN = String.raw`
Client.prototype.fileLines = function (n) {
  var line = "0123456789 the quick brown fox jumps over";
  var f = new File("/bench/lines.txt");
  var t0 = Date.now();
  f.open("text", "create");
  for (var i = 0; i < n; i++) f.writeln(line);
  f.close();
  var t1 = Date.now();
  f.open("text", "read");
  var count = 0, bytes = 0;
  while (!f.eof()) { var l = f.readln(); count++; bytes += l.length; }
  f.close();
  var t2 = Date.now();
  return { writeMs: t1 - t0, readMs: t2 - t1, count: count, bytes: bytes };
};
Client.prototype.xmlParse = function (text, rounds) {
  var times = [], nodes = 0;
  for (var r = 0; r < rounds; r++) {
    var t0 = Date.now();
    var x = new XML(text);
    times.push(Date.now() - t0);
    if (x.status != 0) return { error: x.status };
    if (r === 0) { var e = x.firstChild; while (e && e.nodeType != 1) e = e.nextSibling; nodes = e.childNodes.length; }
  }
  return { times: times, items: nodes };
};
`;

/** A document of about `bytes`: <catalog> with <item> elements carrying attributes, text and children. */
function makeXml(bytes) {
  const parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<catalog version="1">\n'];
  let size = parts[0].length;
  for (let i = 0; size < bytes; i++) {
    const s = `  <item id="${i}" kind="clip" live="${i % 2 === 0}"><title>Stream number ${i} &amp; friends</title><url>rtmp://example.com/live/stream${i}?token=abc${i}</url><tags><tag>news</tag><tag>sport</tag></tags></item>\n`;
    parts.push(s);
    size += s.length;
  }
  parts.push('</catalog>\n');
  return parts.join('');
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
}

async function nodeFile(dir, n) {
  const file = path.join(dir, 'node-lines.txt');
  const line = '0123456789 the quick brown fox jumps over\n';
  const t0 = process.hrtime.bigint();
  const ws = fs.createWriteStream(file);
  for (let i = 0; i < n; i++) if (!ws.write(line)) await new Promise((r) => ws.once('drain', r));
  await new Promise((r) => ws.end(r));
  const t1 = process.hrtime.bigint();
  const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  let count = 0;
  for await (const l of rl) count += l.length > 0 ? 1 : 1;
  const t2 = process.hrtime.bigint();
  return { writeMs: Number(t1 - t0) / 1e6, readMs: Number(t2 - t1) / 1e6, count };
}

/** @param {{ lines: number, rounds: number, xmlBytes: number }} opts */
async function classes(opts) {
  console.log(chalk.bold('\nScript classes: File line I/O and XML parsing, a script against Node in the same run'));
  console.log(chalk.dim(c.machineLine()));
  const root = c.ROOT;
  const { createServer } = require(path.join(root, 'dist', 'server', 'create'));
  const { RtmpClient } = require(path.join(root, 'dist', 'net', 'rtmp-client'));
  const { parseXml } = require(path.join(root, 'dist', 'util', 'xml'));
  const { SaxesParser } = require('saxes');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ssas-bench-classes-'));
  const apps = path.join(dir, 'applications');
  fs.mkdirSync(path.join(apps, 'bench', 'bench'), { recursive: true });
  fs.writeFileSync(path.join(apps, 'bench', 'main.asc'), MAIN);
  // A script may run the whole loop in one event: no per-event CPU limit for the benchmark app.
  fs.writeFileSync(path.join(apps, 'bench', 'Application.xml'), '<Application><JSEngine><MaxTimeOut>0</MaxTimeOut></JSEngine></Application>');
  const server = createServer({ appsDir: apps, port: 0, host: '127.0.0.1' });
  const { url } = await server.listen();
  const out = {};
  try {
    const client = await RtmpClient.connect(`${url}/bench`);
    // File lines: one warm-up pass at a tenth of the size, then the measured one; Node the same.
    await client.call('fileLines', Math.max(1000, Math.floor(opts.lines / 10)));
    await nodeFile(dir, Math.max(1000, Math.floor(opts.lines / 10)));
    const s = await client.call('fileLines', opts.lines);
    const n = await nodeFile(dir, opts.lines);
    if (s.count !== opts.lines) throw new Error(`the script read ${s.count} lines, wrote ${opts.lines}`);
    const rate = (count, ms) => (count / ms) * 1000;
    out.file = {
      lines: opts.lines,
      script: { writePerSec: rate(opts.lines, s.writeMs), readPerSec: rate(s.count, s.readMs), writeMs: s.writeMs, readMs: s.readMs },
      node: { writePerSec: rate(opts.lines, n.writeMs), readPerSec: rate(n.count, n.readMs), writeMs: n.writeMs, readMs: n.readMs },
    };
    c.printTable(
      ['File, ' + opts.lines + ' lines of 42 bytes', 'script (File)', 'Node (fs streams, readline)', 'script / Node'],
      [
        ['writeln: lines/s', Math.round(out.file.script.writePerSec).toLocaleString('en'), Math.round(out.file.node.writePerSec).toLocaleString('en'), c.ratioCell(out.file.script.writePerSec, out.file.node.writePerSec, { higherIsBetter: true })],
        ['readln: lines/s', Math.round(out.file.script.readPerSec).toLocaleString('en'), Math.round(out.file.node.readPerSec).toLocaleString('en'), c.ratioCell(out.file.script.readPerSec, out.file.node.readPerSec, { higherIsBetter: true })],
      ],
    );

    // XML: the same 1 MB text everywhere.
    const text = makeXml(opts.xmlBytes);
    const r = await client.call('xmlParse', text, opts.rounds + 1);
    if (r.error !== undefined) throw new Error(`the script's parse failed with status ${r.error}`);
    const scriptMs = median(r.times.slice(1));
    const saxesTimes = [];
    const domTimes = [];
    for (let i = 0; i <= opts.rounds; i++) {
      let t0 = process.hrtime.bigint();
      const p = new SaxesParser();
      let elements = 0;
      p.on('opentag', () => elements++);
      p.write(text).close();
      if (i > 0) saxesTimes.push(Number(process.hrtime.bigint() - t0) / 1e6);
      t0 = process.hrtime.bigint();
      const doc = parseXml(text);
      if (doc.status !== 0) throw new Error(`parseXml status ${doc.status}`);
      if (i > 0) domTimes.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    out.xml = { bytes: Buffer.byteLength(text), items: r.items, scriptMs, nodeSaxesMs: median(saxesTimes), nodeDomMs: median(domTimes), rounds: opts.rounds };
    c.printTable(
      [`XML parse, ${(out.xml.bytes / 1048576).toFixed(2)} MB, ${r.items} items (median of ${opts.rounds})`, 'ms', 'script / this'],
      [
        ['script: new XML(text) (saxes in the isolate + Flash DOM)', c.fmt(scriptMs), '1.00x'],
        ['Node: saxes alone (no tree)', c.fmt(out.xml.nodeSaxesMs), c.ratioCell(scriptMs, out.xml.nodeSaxesMs)],
        ['Node: host parseXml (saxes + tree, as Application.xml is read)', c.fmt(out.xml.nodeDomMs), c.ratioCell(scriptMs, out.xml.nodeDomMs)],
      ],
    );
    client.close();
  } finally {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

module.exports = { classes };
