// @ts-check
'use strict';
/**
 * Republishing (issue 5): streams published to an origin and republished to K remote servers (K = 0, 1, 3,
 * 5; the remotes are K applications of one nginx-rtmp). The ssas origin does it the FMS way, in main.asc:
 * `application.onPublish` opens `new NetConnection()` to each remote of application.config and publishes the
 * stream there with `ns.attach(stream); ns.publish(stream.name)`. The peer origin is nginx-rtmp with one
 * `push rtmp://127.0.0.1:PORT/appK;` directive per remote.
 *
 * Load: S streams of the 0.6 Mbit/s FLV at real time (ssas RtmpClient, looped) plus one latency probe: a
 * publisher sending a small audio message every 10 ms with its send time, and one player per remote in the
 * same process (one clock). Figures: origin CPU and CPU per republished stream (the increase over K = 0,
 * divided by streams x K), latency publisher -> origin -> remote -> player against publisher -> remote ->
 * player directly (the added latency).
 */
const path = require('node:path');
const fs = require('node:fs');
const chalk = require('chalk');
const c = require('./common');

const ORIGIN_ASC = [
  '// Multipoint publishing (the FMS 3 onPublish pattern): every stream published here goes to every remote',
  '// listed in application.config.remotes.',
  'var remotes = application.config.remotes ? String(application.config.remotes).split(" ") : [];',
  'var links = {};',
  'application.onConnect = function (client) { return true; };',
  'application.onPublish = function (client, stream) {',
  '  var list = [], i, nc, ns;',
  '  for (i = 0; i < remotes.length; i++) {',
  '    if (!remotes[i]) continue;',
  '    nc = new NetConnection();',
  '    nc.connect(remotes[i]);',
  '    ns = new NetStream(nc);',
  '    ns.attach(stream);',
  '    ns.publish(stream.name);',
  '    list.push({ nc: nc, ns: ns });',
  '  }',
  '  links[stream.name] = list;',
  '};',
  'application.onUnpublish = function (client, stream) {',
  '  var list = links[stream.name] || [], i;',
  '  for (i = 0; i < list.length; i++) { list[i].ns.publish(false); list[i].nc.close(); }',
  '  delete links[stream.name];',
  '};',
  '',
].join('\n');

const wall = () => performance.timeOrigin + performance.now();

/** @param {number} k */
const remoteApps = (k) => Array.from({ length: k }, (_, i) => `app${i + 1}`);

/**
 * @typedef {object} RepublishOptions
 * @property {string[]} servers   origins: ssas, nginx
 * @property {number[]} ks        remote counts (0 gives the ingest-only baseline)
 * @property {number} streams     media streams besides the probe
 * @property {number} settleSec
 * @property {number} measureSec
 */

/** Latency samples (flat [wall, ms, ...] per player) within [from, to). @param {number[][]} players @param {number} from @param {number} to */
function inWindow(players, from, to) {
  const xs = [];
  for (const flat of players) for (let i = 0; i < flat.length; i += 2) if (flat[i] >= from && flat[i] < to) xs.push(flat[i + 1]);
  return xs;
}

/** @param {RepublishOptions} o */
async function republish(o) {
  const clip = c.ensureClip('0.6M');
  const maxK = Math.max(1, ...o.ks);
  console.log(chalk.bold.cyan(`\nRepublish: ${o.streams} streams of ${(clip.bitsPerSec / 1e6).toFixed(2)} Mbit/s + 1 latency probe, published to an origin that republishes each to K remotes (K = ${o.ks.join(', ')})`));
  console.log(chalk.dim(`  ${c.machineLine()}`));
  console.log(
    chalk.dim(
      '  ssas origin: main.asc onPublish -> new NetConnection / NetStream.attach / publish per remote; nginx-rtmp origin: one push per remote; remotes: K applications of one nginx-rtmp',
    ),
  );
  console.log(chalk.dim(`  settle ${o.settleSec} s, window ${o.measureSec} s; probe: 32-byte audio message every 10 ms, send time in the payload, players on every remote in the publisher's process`));
  const missingNginx = c.peerMissing('nginx');
  if (missingNginx) {
    console.log(chalk.yellow(`  skipped: the remotes are nginx-rtmp, which is missing (${missingNginx})`));
    return { bench: 'republish', skipped: missingNginx };
  }
  const remoteConf = remoteApps(maxK)
    .map((a) => `    application ${a} { live on; }`)
    .join('\n');
  /** @type {any[]} */
  const runs = [];
  // Direct: publisher -> remote -> player, the path the republished one is compared with.
  {
    process.stderr.write(chalk.dim('  direct to the remote ...'));
    const remote = await c.startServer('nginx', { applications: remoteConf });
    const media = new c.RtmpWorker();
    const lw = new c.RtmpWorker();
    try {
      const rurl = `rtmp://127.0.0.1:${remote.port}/app1`;
      await media.req('publishFlv', { url: rurl, streams: Array.from({ length: o.streams }, (_, i) => `s${i}`), file: clip.file, mode: 'live', loop: true, spreadMs: 1000 });
      await lw.req('latency', { pub: { url: rurl, stream: 'probe' }, players: [{ url: rurl, stream: 'probe' }], intervalMs: 10, bytes: 32 });
      await c.sleep(o.settleSec * 1000);
      const t0 = wall();
      await c.sleep(o.measureSec * 1000);
      const lat = c.summarize(inWindow((await lw.req('samples')).players, t0, wall()));
      runs.push({ origin: 'direct', label: 'direct (no origin)', k: 1, latency: lat });
      process.stderr.write(chalk.dim(` p50 ${c.fmt(lat.p50, 2)} ms, p99 ${c.fmt(lat.p99, 2)} ms\n`));
    } finally {
      await media.stop();
      await lw.stop();
      await remote.stop();
      fs.rmSync(remote.dir, { recursive: true, force: true });
    }
  }
  for (const kind of o.servers.filter((s) => s === 'ssas' || s === 'nginx')) {
    const missing = c.peerMissing(kind);
    if (missing) {
      console.log(chalk.yellow(`  skipping ${kind}: ${missing}`));
      continue;
    }
    for (const k of o.ks) {
      process.stderr.write(chalk.dim(`  ${kind} origin, K = ${k} ...`));
      const remote = await c.startServer('nginx', { applications: remoteConf });
      const targets = remoteApps(k).map((a) => `rtmp://127.0.0.1:${remote.port}/${a}`);
      const work = c.tempDir('republish');
      const apps = c.writeApps(
        {
          origin: {
            'main.asc': ORIGIN_ASC,
            'Application.xml': `<Application><JSEngine><ApplicationObject><config><remotes>${targets.join(' ')}</remotes></config></ApplicationObject></JSEngine></Application>\n`,
          },
        },
        path.join(work, 'apps'),
      );
      const origin = await c.startServer(kind, {
        apps,
        applications: `    application origin {\n      live on;\n${targets.map((t) => `      push ${t};`).join('\n')}\n    }`,
      });
      const media = new c.RtmpWorker();
      const lw = new c.RtmpWorker();
      try {
        const ourl = `rtmp://127.0.0.1:${origin.port}/origin`;
        await media.req('publishFlv', { url: ourl, streams: Array.from({ length: o.streams }, (_, i) => `s${i}`), file: clip.file, mode: 'live', loop: true, spreadMs: 1000 });
        await lw.req('latency', { pub: { url: ourl, stream: 'probe' }, players: targets.map((t) => ({ url: t, stream: 'probe' })), intervalMs: 10, bytes: 32 });
        await c.sleep(o.settleSec * 1000);
        const cpu0 = c.readCpu(origin.pid);
        const r0 = c.readCpu(remote.pid);
        const t0 = wall();
        await c.sleep(o.measureSec * 1000);
        const t1 = wall();
        const cpu1 = c.readCpu(origin.pid);
        const r1 = c.readCpu(remote.pid);
        const sec = (t1 - t0) / 1000;
        const lat = c.summarize(inWindow((await lw.req('samples')).players, t0, t1));
        const r = {
          origin: kind,
          label: kind === 'ssas' ? 'ssas (main.asc NetStream)' : 'nginx-rtmp (push)',
          k,
          streams: o.streams + 1,
          cpuPct: c.cpuPct(cpu0, cpu1, sec),
          remoteCpuPct: c.cpuPct(r0, r1, sec),
          ...c.readRss(origin.pid),
          latency: lat,
        };
        runs.push(r);
        process.stderr.write(chalk.dim(` ${c.fmt(r.cpuPct)} % CPU${k > 0 ? `, p50 ${c.fmt(lat.p50, 2)} ms, p99 ${c.fmt(lat.p99, 2)} ms (${lat.n} probe messages)` : ''}\n`));
      } finally {
        await media.stop();
        await lw.stop();
        await origin.stop();
        await remote.stop();
        fs.rmSync(origin.dir, { recursive: true, force: true });
        fs.rmSync(remote.dir, { recursive: true, force: true });
        fs.rmSync(work, { recursive: true, force: true });
      }
    }
  }
  const direct = runs.find((r) => r.origin === 'direct');
  for (const r of runs) {
    if (r.origin === 'direct') continue;
    const base = runs.find((x) => x.origin === r.origin && x.k === 0);
    r.cpuPerStreamPct = r.k > 0 ? r.cpuPct / (r.streams * r.k) : NaN;
    r.addedCpuPerStreamPct = r.k > 0 && base ? (r.cpuPct - base.cpuPct) / (r.streams * r.k) : NaN;
    r.addedP50 = r.k > 0 && direct ? r.latency.p50 - direct.latency.p50 : NaN;
    r.addedP99 = r.k > 0 && direct ? r.latency.p99 - direct.latency.p99 : NaN;
  }
  c.printTable(
    ['origin', 'K', 'republished streams', 'origin CPU %', 'CPU % / stream', 'added CPU % / stream', 'latency p50 ms', 'p99 ms', 'max ms', 'added p50 / p99 ms', 'RSS MiB'],
    runs.map((r) =>
      r.origin === 'direct'
        ? [r.label, '', '', '', '', '', c.fmt(r.latency.p50, 2), c.fmt(r.latency.p99, 2), c.fmt(r.latency.max, 2), '', '']
        : [
            r.label,
            String(r.k),
            String(r.streams * r.k),
            c.fmt(r.cpuPct),
            c.fmt(r.cpuPerStreamPct, 3),
            c.fmt(r.addedCpuPerStreamPct, 3),
            r.k > 0 ? c.fmt(r.latency.p50, 2) : '',
            r.k > 0 ? c.fmt(r.latency.p99, 2) : '',
            r.k > 0 ? c.fmt(r.latency.max, 2) : '',
            r.k > 0 ? `${c.fmt(r.addedP50, 2)} / ${c.fmt(r.addedP99, 2)}` : '',
            c.fmt(r.rssMiB, 0),
          ],
    ),
  );
  const ratioRows = [];
  for (const k of o.ks.filter((x) => x > 0)) {
    const s = runs.find((r) => r.origin === 'ssas' && r.k === k);
    const g = runs.find((r) => r.origin === 'nginx' && r.k === k);
    if (s && g) {
      ratioRows.push([
        String(k),
        c.ratioCell(s.cpuPct, g.cpuPct),
        c.ratioCell(s.addedCpuPerStreamPct, g.addedCpuPerStreamPct),
        c.ratioCell(s.latency.p50, g.latency.p50),
        c.ratioCell(s.latency.p99, g.latency.p99),
      ]);
    }
  }
  if (ratioRows.length) {
    console.log(chalk.bold('ssas / nginx-rtmp (same run; lower is better for ssas)'));
    c.printTable(['K', 'origin CPU', 'added CPU / stream', 'latency p50', 'latency p99'], ratioRows);
  }
  return { bench: 'republish', clipMbit: clip.bitsPerSec / 1e6, streams: o.streams, ks: o.ks, settleSec: o.settleSec, measureSec: o.measureSec, runs };
}

module.exports = { republish };
