// @ts-check
'use strict';
/**
 * Shared object sync fan-out (issue 6): N clients (ssas's RtmpClient + RemoteSharedObject, in W rtmp-worker
 * processes) on one non-persistent shared object; each changes its own slot once per period (the clients'
 * turns spread evenly over the period) with its send time in the value. Every other client receives the
 * change; its arrival time minus the send time (one machine clock: performance.timeOrigin + now) is the
 * latency of that delivery, and the slowest delivery of a change is the time until every client has it.
 *
 * Peer: nginx-rtmp and node-media-server do not implement shared objects (nor does any RTMP server packaged
 * for Debian or npm that could be checked), so the comparison is ssas against itself: the same clients and
 * changes relayed by a script, `Client.prototype.change` calling `application.broadcastMsg("onChange", ...)`,
 * the way FMS applications without shared objects pushed state (the bundled chat sample does).
 */
const fs = require('node:fs');
const chalk = require('chalk');
const c = require('./common');

const SO_ASC = ['// Clients share the object "room"; nothing for the script to do.', 'application.onConnect = function (client) { return true; };', ''].join('\n');
const RELAY_ASC = [
  '// The shared-object-free way: a client method relays every change to everyone.',
  'application.onConnect = function (client) { return true; };',
  'Client.prototype.change = function (slot, value) {',
  '  application.broadcastMsg("onChange", slot, value);',
  '};',
  '',
].join('\n');

const wall = () => performance.timeOrigin + performance.now();

/**
 * @typedef {object} SoOptions
 * @property {number} clients
 * @property {number} workers
 * @property {number} seconds
 * @property {number} periodMs
 */

/** @param {SoOptions} o */
async function sharedobject(o) {
  console.log(chalk.bold.cyan(`\nShared objects: ${o.clients} clients on one shared object, each changing its own slot every ${o.periodMs} ms (turns spread over the period), ${o.seconds} s`));
  console.log(chalk.dim(`  ${c.machineLine()}`));
  console.log(chalk.dim(`  clients: ssas RtmpClient + RemoteSharedObject in ${o.workers} process(es); latency = arrival at a client - send time in the value (one clock)`));
  console.log(
    chalk.yellow(
      '  no peer: nginx-rtmp and node-media-server have no shared objects; compared with the same changes relayed by main.asc (Client.prototype.change -> application.broadcastMsg)',
    ),
  );
  const apps = c.writeApps({ so: { 'main.asc': SO_ASC }, relay: { 'main.asc': RELAY_ASC } });
  /** @type {any[]} */
  const results = [];
  try {
    for (const mode of /** @type {const} */ (['so', 'call'])) {
      process.stderr.write(chalk.dim(`  ${mode === 'so' ? 'shared object' : 'script broadcastMsg'} ...`));
      const server = await c.startServer('ssas', { apps });
      const workers = Array.from({ length: o.workers }, () => new c.RtmpWorker());
      try {
        const url = `rtmp://127.0.0.1:${server.port}/${mode === 'so' ? 'so' : 'relay'}`;
        const per = workers.map((_, i) => Math.floor(o.clients / workers.length) + (i < o.clients % workers.length ? 1 : 0));
        let first = 0;
        const firsts = per.map((n) => ((first += n), first - n));
        await Promise.all(workers.map((w, i) => w.req('so', { url, mode, clients: per[i], first: firsts[i], total: o.clients, periodMs: o.periodMs, soName: 'room' })));
        const at = wall() + 1000;
        await Promise.all(workers.map((w) => w.req('soGo', { at, seconds: o.seconds })));
        await c.sleep(at - wall());
        const cpu0 = c.readCpu(server.pid);
        const w0 = workers.map((w) => c.readCpu(w.pid));
        const t0 = wall();
        await c.sleep(o.seconds * 1000);
        const cpu1 = c.readCpu(server.pid);
        const w1 = workers.map((w) => c.readCpu(w.pid));
        const sec = (wall() - t0) / 1000;
        // Let the last changes arrive.
        await c.sleep(1500);
        await Promise.all(workers.map((w) => w.req('soStop')));
        const reports = await Promise.all(workers.map((w) => w.req('soReport')));
        const lat = reports.flatMap((r) => r.lat);
        /** @type {Map<string, number[]>} */
        const changes = new Map();
        for (const r of reports) {
          for (const [k, n, mx] of r.changes) {
            const e = changes.get(k);
            if (e) {
              e[0] += n;
              e[1] = Math.max(e[1], mx);
            } else changes.set(k, [n, mx]);
          }
        }
        const sent = reports.reduce((a, r) => a + r.sent, 0);
        const complete = [...changes.values()].filter((e) => e[0] >= o.clients - 1);
        const expected = sent * (o.clients - 1);
        const clientPcts = workers.map((w, i) => c.cpuPct(w0[i], w1[i], sec));
        /** @type {any} */
        const r = {
          mode,
          label: mode === 'so' ? 'shared object (RequestChange -> Change)' : 'script relay (call -> broadcastMsg)',
          clients: o.clients,
          changes: sent,
          changesPerSec: sent / sec,
          deliveries: lat.length,
          expectedDeliveries: expected,
          deliveriesPerSec: lat.length / sec,
          delivery: c.summarize(lat),
          toAll: c.summarize(complete.map((e) => e[1])),
          incompleteChanges: sent - complete.length,
          cpuPct: c.cpuPct(cpu0, cpu1, sec),
          userPct: (100 * (cpu1.user - cpu0.user)) / sec,
          sysPct: (100 * (cpu1.sys - cpu0.sys)) / sec,
          ...c.readRss(server.pid),
          clientCpuPct: clientPcts.reduce((a, b) => a + b, 0),
          clientMaxPct: Math.max(...clientPcts),
        };
        r.cpuUsPerDelivery = (r.cpuPct * 1e4 * sec) / Math.max(1, lat.length);
        results.push(r);
        process.stderr.write(chalk.dim(` ${Math.round(r.deliveriesPerSec)} deliveries/s, median ${c.fmt(r.delivery.p50, 2)} ms, p99 ${c.fmt(r.delivery.p99, 2)} ms, ${c.fmt(r.cpuPct)} % CPU\n`));
      } finally {
        await Promise.all(workers.map((w) => w.stop()));
        await server.stop();
        fs.rmSync(server.dir, { recursive: true, force: true });
      }
    }
  } finally {
    fs.rmSync(apps, { recursive: true, force: true });
  }
  c.printTable(
    ['sync path', 'changes/s', 'messages/s out', 'delivered', 'latency p50 ms', 'p99 ms', 'to all p50 ms', 'to all p99 ms', 'CPU %', 'CPU µs / message', 'client CPU %'],
    results.map((r) => [
      r.label,
      c.fmt(r.changesPerSec, 0),
      c.fmt(r.deliveriesPerSec, 0),
      { text: `${r.deliveries}/${r.expectedDeliveries}`, color: r.deliveries >= r.expectedDeliveries ? chalk.green : chalk.red },
      c.fmt(r.delivery.p50, 2),
      c.fmt(r.delivery.p99, 2),
      c.fmt(r.toAll.p50, 2),
      c.fmt(r.toAll.p99, 2),
      c.fmt(r.cpuPct),
      c.fmt(r.cpuUsPerDelivery, 2),
      c.fmt(r.clientCpuPct) + (r.clientMaxPct > 90 ? ' (sat.)' : ''),
    ]),
  );
  const s = results.find((r) => r.mode === 'so');
  const b = results.find((r) => r.mode === 'call');
  if (s && b) {
    console.log(chalk.bold('shared object / script broadcast (lower is better)'));
    c.printTable(
      ['', 'ratio'],
      [
        ['latency p50', c.ratioCell(s.delivery.p50, b.delivery.p50)],
        ['latency p99', c.ratioCell(s.delivery.p99, b.delivery.p99)],
        ['to all p99', c.ratioCell(s.toAll.p99, b.toAll.p99)],
        ['server CPU per message', c.ratioCell(s.cpuUsPerDelivery, b.cpuUsPerDelivery)],
      ],
    );
  }
  return { bench: 'sharedobject', clients: o.clients, seconds: o.seconds, periodMs: o.periodMs, results };
}

module.exports = { sharedobject };
