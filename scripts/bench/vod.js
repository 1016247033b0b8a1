// @ts-check
'use strict';
/**
 * Concurrent VOD (issue 4): N players of a 2 Mbit/s H.264/AAC MP4 (60 s, a key frame every 2 s) played at
 * real-time pace, `mp4:clip.mp4` from ssas's streams/_definst_ and from nginx-rtmp's `play` directory. Players
 * come from vod-client.js (forked processes) and follow the chunk framing to read every media timestamp; a
 * player falls behind when the media time it received lags the wall clock by more than 2 s (both counted from
 * its first media message). Players are added in steps (fresh players per step, same server process) until
 * one falls behind or the server's main thread (the event loop; ssas also reads files on libuv's thread
 * pool, so its process may use more than one core) or a load client process saturates a core.
 */
const path = require('node:path');
const fs = require('node:fs');
const { fork } = require('node:child_process');
const chalk = require('chalk');
const c = require('./common');

const LAG_LIMIT_MS = 2000;

/** VOD players in W forked vod-client.js processes. */
class VodLoad {
  /** @param {number} workers */
  constructor(workers) {
    this.procs = Array.from({ length: workers }, () =>
      c.track(fork(path.join(__dirname, 'vod-client.js'), [], { execArgv: ['--max-semi-space-size=16'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })),
    );
    this.nextId = 1;
    /** @type {Map<number, (m:any)=>void>} */
    this.waiting = new Map();
    for (const p of this.procs) p.on('message', (/** @type {any} */ m) => this.waiting.get(m.id)?.(m));
  }

  get pids() {
    return this.procs.map((p) => /** @type {number} */ (p.pid));
  }

  /** @param {Record<string, unknown>} m @param {number} n */
  add(m, n) {
    this.procs.forEach((p, i) => {
      const share = Math.floor(n / this.procs.length) + (i < n % this.procs.length ? 1 : 0);
      if (share > 0) p.send({ cmd: 'add', ...m, players: share });
    });
  }

  /** @param {boolean} [reset] */
  async snap(reset = false) {
    const parts = await Promise.all(
      this.procs.map(
        (p) =>
          /** @type {Promise<any>} */ (
            new Promise((resolve) => {
              const id = this.nextId++;
              this.waiting.set(id, (m) => {
                this.waiting.delete(id);
                resolve(m);
              });
              p.send({ cmd: 'snap', id, reset });
            })
          ),
      ),
    );
    const sum = (/** @type {string} */ k) => parts.reduce((a, x) => a + x[k], 0);
    return {
      players: sum('players'),
      playing: sum('playing'),
      waiting: sum('waiting'),
      failed: sum('failed'),
      closed: sum('closed'),
      ended: sum('ended'),
      behind: sum('behind'),
      bytes: sum('bytes'),
      maxLagMs: Math.max(...parts.map((x) => x.maxLagMs)),
      lagP50Ms: parts.map((x) => x.lagP50Ms).sort((a, b) => a - b)[Math.floor(parts.length / 2)],
      failures: parts.flatMap((x) => x.failures).slice(0, 3),
    };
  }

  stopPlayers() {
    for (const p of this.procs) p.send({ cmd: 'stop' });
  }

  async exit() {
    await Promise.all(this.procs.map((p) => c.stopChild(p, 3000, { cmd: 'exit' })));
  }
}

/** Hard link (or copy) of the clip as `clip.mp4` in a folder. @param {string} file @param {string} dir */
function placeClip(file, dir) {
  fs.mkdirSync(dir, { recursive: true });
  const to = path.join(dir, 'clip.mp4');
  try {
    fs.linkSync(file, to);
  } catch {
    fs.copyFileSync(file, to);
  }
}

/**
 * @typedef {object} VodOptions
 * @property {string[]} servers
 * @property {number[]} steps
 * @property {number} warmupSec
 * @property {number} measureSec
 * @property {number} workers
 */

/** @param {VodOptions} o */
async function vod(o) {
  const clip = c.ensureVodClip();
  console.log(chalk.bold.cyan('\nVOD: N players of a 2 Mbit/s MP4 (H.264/AAC, 60 s, key frame every 2 s) at real-time pace, mp4:clip.mp4'));
  console.log(chalk.dim(`  ${c.machineLine()}`));
  console.log(
    chalk.dim(
      `  clip ${(clip.bitsPerSec / 1e6).toFixed(2)} Mbit/s; steps ${o.steps.join(', ')} (fresh players per step, same server); warm-up ${o.warmupSec} s, window ${o.measureSec} s; ` +
        `players in ${o.workers} vod-client process(es), buffer 3 s; behind = media time ${LAG_LIMIT_MS / 1000} s or more behind the wall clock`,
    ),
  );
  const work = c.tempDir('vod');
  /** @type {any[]} */
  const steps = [];
  /** @type {any[]} */
  const summary = [];
  try {
    placeClip(clip.file, path.join(work, 'apps', 'vod', 'streams', '_definst_'));
    placeClip(clip.file, path.join(work, 'nginx-vod'));
    for (const kind of o.servers.filter((s) => s === 'ssas' || s === 'nginx')) {
      const missing = c.peerMissing(kind);
      if (missing) {
        console.log(chalk.yellow(`  skipping ${kind}: ${missing}`));
        continue;
      }
      const server = await c.startServer(kind, {
        apps: path.join(work, 'apps'),
        applications: `    application vod { play ${path.join(work, 'nginx-vod')}; }`,
      });
      const url = `rtmp://127.0.0.1:${server.port}/vod`;
      const load = new VodLoad(o.workers);
      let best = 0;
      let stopReason = 'all steps passed';
      try {
        for (const n of o.steps) {
          process.stderr.write(chalk.dim(`  ${kind} with ${n} players ...`));
          load.add({ url, stream: 'mp4:clip.mp4', concurrency: 40, bufferMs: 3000, durationMs: clip.seconds * 1000, lagLimitMs: LAG_LIMIT_MS }, n);
          const joinStart = Date.now();
          const until = joinStart + Math.max(20000, n * 50);
          let s = await load.snap();
          while (s.playing + s.failed < n && Date.now() < until) {
            await c.sleep(200);
            s = await load.snap();
          }
          const joined = s.playing + s.failed >= n ? `joined in ${((Date.now() - joinStart) / 1000).toFixed(1)} s` : `${s.playing} of ${n} playing after ${((Date.now() - joinStart) / 1000).toFixed(0)} s`;
          await c.sleep(o.warmupSec * 1000);
          const a = await load.snap(true);
          const cpu0 = c.readCpu(server.pid);
          const m0 = c.readCpu(server.pid, server.pid);
          const l0 = load.pids.map((p) => c.readCpu(p));
          const t0 = performance.now();
          await c.sleep(o.measureSec * 1000);
          const b = await load.snap();
          const cpu1 = c.readCpu(server.pid);
          const m1 = c.readCpu(server.pid, server.pid);
          const l1 = load.pids.map((p) => c.readCpu(p));
          const sec = (performance.now() - t0) / 1000;
          const cpu = c.cpuPct(cpu0, cpu1, sec);
          const mainCpu = c.cpuPct(m0, m1, sec);
          const clientPcts = load.pids.map((_, i) => c.cpuPct(l0[i], l1[i], sec));
          const step = {
            server: kind,
            label: server.label,
            players: n,
            playing: b.playing,
            waiting: b.waiting,
            behind: b.behind + (n - b.players),
            failed: b.failed,
            ended: b.ended,
            cpuPct: cpu,
            userPct: (100 * (cpu1.user - cpu0.user)) / sec,
            sysPct: (100 * (cpu1.sys - cpu0.sys)) / sec,
            mainThreadPct: mainCpu,
            cpuPerPlayerPct: cpu / n,
            outMbit: ((b.bytes - a.bytes) * 8) / sec / 1e6,
            expectedMbit: (n * clip.bitsPerSec) / 1e6,
            maxLagMs: b.maxLagMs,
            lagP50Ms: b.lagP50Ms,
            ...c.readRss(server.pid),
            clientCpuPct: clientPcts.reduce((x, y) => x + y, 0),
            clientMaxPct: Math.max(...clientPcts),
            failures: b.failures,
          };
          steps.push(step);
          process.stderr.write(
            chalk.dim(
              ` (${joined}) ${c.fmt(cpu)} % CPU, ${b.playing} playing, ${b.waiting} without media, ${step.behind} behind, worst lag ${Math.round(b.maxLagMs)} ms, ${c.fmt(step.outMbit, 0)} Mbit/s out\n`,
            ),
          );
          load.stopPlayers();
          await c.sleep(1500);
          if (step.behind > 0) {
            stopReason = `${step.behind} players behind at ${n}`;
            break;
          }
          best = n;
          // A Node server's file reads run on libuv's thread pool: the event loop's thread is what saturates.
          if (mainCpu >= 97) {
            stopReason = `server main thread saturated at ${n}`;
            break;
          }
          if (step.clientMaxPct >= 95) {
            stopReason = `load client saturated at ${n} (the server may hold more)`;
            break;
          }
        }
      } finally {
        await load.exit();
        await server.stop();
        fs.rmSync(server.dir, { recursive: true, force: true });
      }
      const at = steps.find((s) => s.server === kind && s.players === best);
      summary.push({ server: kind, label: server.label, maxPlayers: best, cpuPerPlayerPct: at ? at.cpuPerPlayerPct : NaN, stopReason });
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  c.printTable(
    ['server', 'players', 'kept up', 'CPU %', 'user %', 'sys %', 'main thread %', 'CPU % / player', 'out Mbit/s', 'worst lag ms', 'RSS MiB', 'client CPU %'],
    steps.map((r) => [
      r.label,
      String(r.players),
      { text: `${r.players - r.behind}/${r.players}`, color: r.behind ? chalk.red : chalk.green },
      c.fmt(r.cpuPct),
      c.fmt(r.userPct),
      c.fmt(r.sysPct),
      c.fmt(r.mainThreadPct),
      c.fmt(r.cpuPerPlayerPct, 3),
      `${c.fmt(r.outMbit, 0)} / ${c.fmt(r.expectedMbit, 0)}`,
      String(Math.round(r.maxLagMs)),
      c.fmt(r.rssMiB, 0),
      c.fmt(r.clientCpuPct) + (r.clientMaxPct > 90 ? ' (sat.)' : ''),
    ]),
  );
  const common = summary.length ? Math.min(...summary.map((s) => s.maxPlayers)) : 0;
  const ssas = summary.find((s) => s.server === 'ssas');
  const at = (/** @type {string} */ k) => steps.find((s) => s.server === k && s.players === common);
  c.printTable(
    ['server', 'most players kept up', `CPU % / player at ${common}`, `ssas/server at ${common}`, 'stopped because'],
    summary.map((s) => [
      s.label,
      String(s.maxPlayers),
      c.fmt(at(s.server)?.cpuPerPlayerPct ?? NaN, 3),
      ssas && s.server !== 'ssas' ? c.ratioCell(at('ssas')?.cpuPerPlayerPct ?? NaN, at(s.server)?.cpuPerPlayerPct ?? NaN) : '',
      s.stopReason,
    ]),
    { right: [1, 2, 3] },
  );
  for (const r of steps) if (r.failures?.length) console.log(chalk.yellow(`  ${r.label} @${r.players}: ${r.failed} failed: ${r.failures.join('; ')}`));
  return { bench: 'vod', clipMbit: clip.bitsPerSec / 1e6, warmupSec: o.warmupSec, measureSec: o.measureSec, lagLimitMs: LAG_LIMIT_MS, steps, summary };
}

module.exports = { vod };
