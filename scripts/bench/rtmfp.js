// @ts-check
'use strict';
/**
 * RTMFP (issue 12): ssas's RTMFP (RFC 7016 / 7425) side by side with rtmfp-cpp's tcserver in the same run.
 * Every client is ssas's own RtmpClient dialling rtmfp:// (rtmfp-worker.js, forked processes), which
 * negotiates HMAC-SHA256 and session sequence numbers with both servers (tcserver requires them).
 *
 *   fanout     one ffmpeg publisher (RTMP, through the counting proxy, as fanout.js) of the 0.6 Mbit/s
 *              H.264/AAC FLV, N RTMFP players (default 100 and 400) spread over the worker processes;
 *              server CPU over the window, RSS, players that kept up (>= 90 % of the publisher's bytes).
 *   handshake  one client process opening new sessions (connect -> NetConnection.Connect.Success -> close)
 *              at increasing rates, open loop, until the median new client waits more than 100 ms:
 *              p50 / p99 connect latency per rate, server CPU per handshake.
 *   flow       one 4 Mbit/s publisher -> one RTMFP player: ffmpeg over RTMP, and our RtmpClient over
 *              RTMFP (the server's RTMFP receive path too); server CPU seconds per delivered MB.
 *
 * ssas runs `scripts/ssas.js serve` on a script-less `live` application (tcserver has no scripting), so
 * a connect costs no main.asc onConnect. tcserver runs as `tcserver -B 127.0.0.1:0 -b 127.0.0.1:0` (its
 * defaults: HMAC and session sequence numbers required) under `stdbuf -oL`, its ports read from its JSON log.
 */
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');
const { fork, spawn } = require('node:child_process');
const chalk = require('chalk');
const c = require('./common');

const KEEP_UP = 0.9;
const STREAM = 'bench';
const HS_LIMIT_MS = 100;

const TCSERVER = path.join(c.peersBin(), 'tcserver');
const STDBUF = ['/usr/bin/stdbuf', '/bin/stdbuf'].find((f) => fs.existsSync(f)) ?? '';

/** @param {number} n */
const fmt1 = (n) => c.fmt(n, 1);

/**
 * With --quiet-wait SEC: before a case, waits (up to SEC) until the machine is below 25 % of one core busy
 * over 2 s (nothing of the benchmark runs then), so that other work does not share the window. Returns the
 * last reading (% of one core).
 * @param {number} maxSec
 */
async function waitQuiet(maxSec) {
  if (!(maxSec > 0)) return NaN;
  const until = Date.now() + maxSec * 1000;
  let said = false;
  for (;;) {
    const a = machineCpu();
    await c.sleep(2000);
    const b = machineCpu();
    const pct = (100 * (b.busy - a.busy)) / 2;
    if (pct < 25) return pct;
    if (Date.now() > until) {
      process.stderr.write(chalk.yellow(` [machine still ${fmt1(pct)} % busy after ${maxSec} s: measuring anyway]`));
      return pct;
    }
    if (!said) process.stderr.write(chalk.dim(` [waiting for other work (${fmt1(pct)} % of a core) to stop]`));
    said = true;
  }
}

/** The kernel's UDP counters (all sockets of the machine; over loopback every datagram is counted out and in). */
function udpCounters() {
  const lines = fs.readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const names = lines[0].split(/\s+/).slice(1);
  const values = lines[1].split(/\s+/).slice(1).map(Number);
  /** @type {Record<string, number>} */
  const out = {};
  names.forEach((n, i) => (out[n] = values[i]));
  return out;
}

/** Busy and total time of the whole machine (all cores, seconds), from /proc/stat. */
function machineCpu() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / c.CLK_TCK, total: total / c.CLK_TCK };
}

/** Why a server cannot be measured here ('' when it can). @param {string} kind */
function missing(kind) {
  if (kind === 'tcserver') {
    if (!fs.existsSync(TCSERVER)) return `${TCSERVER} not built (bash ../shared/peers/build.sh)`;
    if (!STDBUF) return 'stdbuf (coreutils) not installed';
    return '';
  }
  if (kind === 'ssas') return c.peerMissing('ssas');
  return `unknown server ${kind} (rtmfp compares ssas and tcserver)`;
}

// ----- servers ----------------------------------------------------------------------------------------------

/**
 * @typedef {object} RtmfpServer
 * @property {string} kind
 * @property {string} label
 * @property {number} pid
 * @property {number} rtmpPort
 * @property {number} rtmfpPort
 * @property {string} dir
 * @property {() => Promise<void>} stop
 */

/** A script-less `live` application for ssas (shared by every ssas start of a run). */
let ssasApps = '';

/**
 * ssas with RTMFP on UDP at the RTMP port number (its default), the port read back from its log.
 * @param {{nodeArgs?: string[]}} [opts] @returns {Promise<RtmfpServer>}
 */
async function startSsas(opts = {}) {
  if (!ssasApps) ssasApps = c.writeApps({ live: {} });
  const s = await c.startServer('ssas', { apps: ssasApps, nodeArgs: opts.nodeArgs });
  const log = path.join(s.dir, 'ssas.log');
  const until = Date.now() + 5000;
  let rtmfpPort = 0;
  while (!rtmfpPort) {
    const text = fs.readFileSync(log, 'utf8');
    const m = /listening on rtmfp:\/\/[^:]+:(\d+)/.exec(text);
    if (m) rtmfpPort = Number(m[1]);
    else if (/RTMFP not started/.test(text)) {
      await s.stop();
      throw new Error(`ssas did not start RTMFP: ${text}`);
    } else if (/applications \(/.test(text) || Date.now() > until) {
      // A build that does not print its RTMFP address listens at the RTMP port number.
      rtmfpPort = s.port;
    } else await c.sleep(50);
  }
  return { kind: 'ssas', label: s.label, pid: s.pid, rtmpPort: s.port, rtmfpPort, dir: s.dir, stop: s.stop };
}

/**
 * tcserver on kernel-chosen ports (RTMFP on UDP, RTMP on TCP for ffmpeg), line-buffered through stdbuf (which
 * execs it: the pid is tcserver's). Stopped with SIGINT: SIGTERM would wait for its clients to leave.
 * @returns {Promise<RtmfpServer>}
 */
async function startTcserver() {
  const dir = c.tempDir('tcserver');
  const log = path.join(dir, 'tcserver.log');
  const out = fs.openSync(log, 'a');
  const child = c.track(spawn(STDBUF, ['-oL', '-eL', TCSERVER, '-B', '127.0.0.1:0', '-b', '127.0.0.1:0'], { cwd: dir, stdio: ['ignore', out, out] }));
  fs.closeSync(out);
  const until = Date.now() + 10000;
  /** @type {Record<string, number>} */
  const ports = {};
  for (;;) {
    const text = fs.readFileSync(log, 'utf8');
    let run = false;
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const e = JSON.parse(line);
        if (e['@type'] === 'listen') ports[e.proto] = Number((/:(\d+)$/.exec(e.bind) || [])[1]);
        if (e['@type'] === 'run') run = true;
      } catch {
        /* a partial line */
      }
    }
    if (run && ports.rtmfp && ports.rtmp) break;
    if (child.exitCode !== null || Date.now() > until) throw new Error(`tcserver did not start: ${text}`);
    await c.sleep(50);
  }
  return {
    kind: 'tcserver',
    label: 'tcserver (rtmfp-cpp)',
    pid: /** @type {number} */ (child.pid),
    rtmpPort: ports.rtmp,
    rtmfpPort: ports.rtmfp,
    dir,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined);
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve(undefined);
        });
        child.kill('SIGINT');
      }),
  };
}

/** @param {string} kind @param {{nodeArgs?: string[]}} [opts] */
function startServer(kind, opts) {
  return kind === 'tcserver' ? startTcserver() : startSsas(opts);
}

/**
 * A server with an ffmpeg publisher (RTMP, through the counting proxy) running.
 * @param {string} kind @param {{file:string}} clip @param {{nodeArgs?: string[]}} [opts]
 */
async function startStage(kind, clip, opts) {
  const server = await startServer(kind, opts);
  const proxy = await c.startProxy(server.rtmpPort);
  const log = path.join(server.dir, 'ffmpeg.log');
  const pub = c.startPublisher(clip.file, `rtmp://127.0.0.1:${proxy.port}/live/${STREAM}`, { log });
  const started = Date.now();
  while (proxy.state.bytesUp < 200_000 || Date.now() - started < 1500) {
    if (pub.exitCode !== null) throw new Error(`ffmpeg publisher to ${kind} exited: ${fs.readFileSync(log, 'utf8')}`);
    if (Date.now() - started > 20000) throw new Error(`publisher to ${kind} sent only ${proxy.state.bytesUp} bytes in 20 s`);
    await c.sleep(100);
  }
  return {
    server,
    pubPid: /** @type {number} */ (pub.pid),
    pubBytes: () => proxy.state.bytesUp,
    url: `rtmfp://127.0.0.1:${server.rtmfpPort}/live`,
    async stop() {
      await c.stopChild(pub);
      await proxy.close();
      await server.stop();
      fs.rmSync(server.dir, { recursive: true, force: true });
    },
  };
}

// ----- client processes -------------------------------------------------------------------------------------

/** W forked rtmfp-worker.js processes. */
class Clients {
  /** @param {number} workers */
  constructor(workers) {
    this.procs = Array.from({ length: workers }, () =>
      c.track(fork(path.join(__dirname, 'rtmfp-worker.js'), [], { execArgv: ['--max-semi-space-size=16'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })),
    );
    this.nextId = 1;
    this.added = false;
    /** @type {Map<number, {resolve:(m:any)=>void, reject:(e:Error)=>void}>} */
    this.waiting = new Map();
    for (const p of this.procs) {
      p.on('message', (/** @type {any} */ m) => {
        const w = this.waiting.get(m.id);
        if (!w) return;
        this.waiting.delete(m.id);
        if (m.type === 'error') w.reject(new Error(`rtmfp-worker: ${m.message}`));
        else w.resolve(m);
      });
      p.on('exit', (code) => {
        for (const w of this.waiting.values()) w.reject(new Error(`rtmfp-worker exited (${code})`));
        this.waiting.clear();
      });
    }
  }

  get pids() {
    return this.procs.map((p) => /** @type {number} */ (p.pid));
  }

  /** @param {number} i @param {string} cmd @param {Record<string, unknown>} [params] @returns {Promise<any>} */
  req(i, cmd, params = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.procs[i].send({ cmd, id, ...params });
    });
  }

  /** Players split over the workers. @param {string} url @param {number} n */
  async addPlayers(url, n) {
    const first = !this.added;
    this.added = true;
    await Promise.all(
      this.procs.map((_, i) => {
        const share = Math.floor(n / this.procs.length) + (i < n % this.procs.length ? 1 : 0);
        return share > 0 ? this.req(i, 'play', { url, stream: STREAM, players: share, concurrency: 20, probe: first && i === 0 }) : null;
      }),
    );
  }

  async snap() {
    const parts = await Promise.all(this.procs.map((_, i) => this.req(i, 'snap')));
    return {
      // Per worker: a worker's list only grows (players in the order they were added), so a window compares
      // player i of worker w with itself even while other workers add players.
      bytes: parts.map((s) => /** @type {number[]} */ (s.bytes)),
      closedMask: parts.map((s) => /** @type {number[]} */ (s.closedMask)),
      media: parts.reduce((a, s) => a + s.media, 0),
      failed: parts.reduce((a, s) => a + s.failed, 0),
      failures: parts.flatMap((s) => s.failures).slice(0, 5),
      probe: parts.find((s) => s.probe)?.probe ?? null,
    };
  }

  async stop() {
    await Promise.all(this.procs.map((p) => c.stopChild(p, 3000, { cmd: 'exit' })));
  }
}

/**
 * One measurement window: server CPU (process and main thread), client CPU, bytes per player vs the
 * publisher's bytes over the same window.
 * @param {{pid:number}} server @param {Clients} load @param {() => number | Promise<number>} pubBytes @param {number} seconds
 * @param {number[]} [clientPids] defaults to the load's workers
 * @param {number[]} [ownPids] the benchmark's other processes (ffmpeg; this process is counted too)
 */
async function measure(server, load, pubBytes, seconds, clientPids = load.pids, ownPids = []) {
  const pid = server.pid;
  const own = [process.pid, ...ownPids];
  const x0 = machineCpu();
  const u0 = udpCounters();
  const o0 = own.map((p) => c.readCpu(p));
  const s0 = c.readCpu(pid);
  const m0 = c.readCpu(pid, pid);
  const l0 = clientPids.map((p) => c.readCpu(p));
  const p0 = await pubBytes();
  const t0 = process.hrtime.bigint();
  const snap0 = await load.snap();
  await c.sleep(seconds * 1000);
  const s1 = c.readCpu(pid);
  const m1 = c.readCpu(pid, pid);
  const l1 = clientPids.map((p) => c.readCpu(p));
  const o1 = own.map((p) => c.readCpu(p));
  const x1 = machineCpu();
  const u1 = udpCounters();
  const p1 = await pubBytes();
  const t1 = process.hrtime.bigint();
  const snap1 = await load.snap();
  const wall = Number(t1 - t0) / 1e9;
  const pub = p1 - p0;
  const ratios = [];
  let behind = 0;
  let lost = 0;
  let delivered = 0;
  let players = 0;
  for (let w = 0; w < snap1.bytes.length; w++) {
    const now = snap1.bytes[w];
    const before = snap0.bytes[w] ?? [];
    for (let i = 0; i < now.length; i++) {
      const got = now[i] - (before[i] ?? 0);
      players++;
      delivered += got;
      const r = pub > 0 ? got / pub : 0;
      ratios.push(r);
      if (snap1.closedMask[w][i]) lost++;
      if (r < KEEP_UP || snap1.closedMask[w][i]) behind++;
    }
  }
  ratios.sort((a, b) => a - b);
  const user = s1.user - s0.user;
  const sys = s1.sys - s0.sys;
  const clientPct = l1.map((x, i) => (100 * (x.user + x.sys - l0[i].user - l0[i].sys)) / wall);
  const ownPct = o1.reduce((a, x, i) => a + c.cpuPct(o0[i], x, wall), 0);
  const machinePct = (100 * (x1.busy - x0.busy)) / wall;
  const serverPct = (100 * (user + sys)) / wall;
  return {
    wallSec: wall,
    machinePct,
    // Everything else the machine ran in the window (other work, the kernel's own threads): noise.
    otherPct: Math.max(0, machinePct - serverPct - clientPct.reduce((a, b) => a + b, 0) - ownPct),
    benchOwnPct: ownPct,
    // Datagrams per second sent on the machine (server to players and players' acks to the server), and
    // those a full socket receive buffer dropped.
    udpOutPerSec: (u1.OutDatagrams - u0.OutDatagrams) / wall,
    udpRcvbufErrors: u1.RcvbufErrors - u0.RcvbufErrors,
    cpuPct: (100 * (user + sys)) / wall,
    userPct: (100 * user) / wall,
    sysPct: (100 * sys) / wall,
    mainThreadPct: c.cpuPct(m0, m1, wall),
    cpuSec: user + sys,
    ...c.readRss(pid),
    clientCpuPct: clientPct.reduce((a, b) => a + b, 0),
    clientMaxWorkerPct: Math.max(...clientPct),
    clientWorkerPct: clientPct,
    pubBytes: pub,
    pubMbit: (pub * 8) / wall / 1e6,
    deliveredBytes: delivered,
    deliveredMbit: (delivered * 8) / wall / 1e6,
    players,
    playing: snap1.media,
    failed: snap1.failed,
    failures: snap1.failures,
    lost,
    behind,
    minRatio: ratios.length ? ratios[0] : 0,
    medianRatio: ratios.length ? ratios[Math.floor(ratios.length / 2)] : 0,
    probe: snap1.probe,
  };
}

// ----- 1. fan-out -------------------------------------------------------------------------------------------

/**
 * @typedef {object} RtmfpOptions
 * @property {string[]} servers
 * @property {string[]} parts       fanout, handshake, flow
 * @property {number[]} players
 * @property {number} warmupSec
 * @property {number} measureSec
 * @property {number} workers
 * @property {number} repeat
 * @property {number[]} hsRates
 * @property {number} hsSec
 * @property {number} flowWarmupSec
 * @property {number} flowSec
 * @property {boolean} profile
 * @property {boolean} quick
 * @property {number} quietWaitSec  wait up to this long for the machine to be idle before each case (0: no)
 */

/**
 * @param {string} kind @param {{file:string}} clip @param {number} n @param {RtmfpOptions} o
 * @param {{nodeArgs?: string[], onWindow?: (t0:bigint, t1:bigint) => void}} [extra]
 */
async function fanoutCase(kind, clip, n, o, extra = {}) {
  const stage = await startStage(kind, clip, { nodeArgs: extra.nodeArgs });
  const load = new Clients(o.workers);
  try {
    const t = Date.now();
    await load.addPlayers(stage.url, n);
    const until = Date.now() + Math.max(30000, n * 75);
    let s = await load.snap();
    while (s.media + s.failed < n && Date.now() < until) {
      await c.sleep(250);
      s = await load.snap();
    }
    const joinSec = (Date.now() - t) / 1000;
    if (s.media === 0) throw new Error(`no ${kind} player received media: ${s.failures.join('; ') || 'timeout'}`);
    await c.sleep(o.warmupSec * 1000);
    const w0 = process.hrtime.bigint();
    const m = await measure(stage.server, load, stage.pubBytes, o.measureSec, load.pids, [stage.pubPid]);
    extra.onWindow?.(w0, process.hrtime.bigint());
    return { server: kind, label: stage.server.label, requested: n, joinSec, ...m };
  } finally {
    await load.stop();
    await stage.stop();
  }
}

/** @param {any} r */
function keptUpCell(r) {
  const ok = r.players - r.behind;
  return { text: `${ok}/${r.requested}`, color: ok === r.requested ? chalk.green : chalk.red };
}

/** @param {any} r */
function clientCell(r) {
  const sat = r.clientMaxWorkerPct > 90;
  const text = fmt1(r.clientCpuPct) + (r.clientWorkerPct?.length > 1 ? ` (${r.clientWorkerPct.map((/** @type {number} */ x) => x.toFixed(0)).join('+')})` : '') + (sat ? ' sat.' : '');
  return { text, color: sat ? chalk.yellow : undefined };
}

/** Other work on the machine during the window (yellow above 15 % of a core: the figures are noisy). @param {any} r */
function otherCell(r) {
  return { text: fmt1(r.otherPct), color: r.otherPct > 15 ? chalk.yellow : undefined };
}

/** @param {RtmfpOptions} o @param {string[]} servers */
async function fanout(o, servers) {
  const clip = c.ensureClip('0.6M');
  console.log(chalk.bold.cyan('\n(1) Fan-out: one 0.6 Mbit/s publisher (ffmpeg over RTMP) to N RTMFP players'));
  console.log(
    chalk.dim(
      `  clip ${path.basename(clip.file)} ${(clip.bitsPerSec / 1e6).toFixed(2)} Mbit/s; warm-up ${o.warmupSec} s, window ${o.measureSec} s; ` +
        `players: ssas RtmpClient over rtmfp:// (one UDP socket each, HMAC + session sequence numbers) in ${o.workers} process(es); ` +
        `kept up = >= ${KEEP_UP * 100} % of the publisher's bytes in the window${o.repeat > 1 ? `; ${o.repeat} runs per server and N, median CPU` : ''}`,
    ),
  );
  console.log(
    chalk.yellow(
      `  note: ${os.cpus().length} cores shared by the server, the player processes (full RTMFP clients: AES + HMAC per packet, acks) and ffmpeg; ` +
        'the players\' CPU competes with the server\'s (client CPU % column; "sat." = a process above 90 % of a core)',
    ),
  );
  /** @type {any[]} */
  const results = [];
  for (const n of o.players) {
    /** @type {Record<string, any[]>} */
    const runs = {};
    for (let rep = 0; rep < o.repeat; rep++) {
      for (const kind of servers) {
        process.stderr.write(chalk.dim(`  ${kind} with ${n} RTMFP players${o.repeat > 1 ? ` (run ${rep + 1}/${o.repeat})` : ''} ...`));
        await waitQuiet(o.quietWaitSec);
        const r = await fanoutCase(kind, clip, n, o);
        (runs[kind] ??= []).push(r);
        process.stderr.write(
          chalk.dim(
            ` (joined in ${r.joinSec.toFixed(1)} s) ${fmt1(r.cpuPct)} % CPU, ${r.behind} behind, ${r.failed} failed, clients ${fmt1(r.clientCpuPct)} %, other work ${fmt1(r.otherPct)} %\n`,
          ),
        );
      }
    }
    for (const kind of servers) if (runs[kind]) results.push(c.medianRun(runs[kind]));
  }
  c.printTable(
    ['server', 'players', 'kept up', 'joined s', 'CPU %', 'user %', 'sys %', 'main thread %', 'RSS MiB', 'out Mbit/s', 'min recv/sent', 'client CPU % (per process)', 'UDP datagrams/s', 'other CPU %'],
    results.map((r) => [
      r.label,
      String(r.requested),
      keptUpCell(r),
      fmt1(r.joinSec),
      r.runs > 1 ? `${fmt1(r.cpuPct)} (${fmt1(Math.min(...r.cpuPctRuns))}-${fmt1(Math.max(...r.cpuPctRuns))})` : fmt1(r.cpuPct),
      fmt1(r.userPct),
      fmt1(r.sysPct),
      fmt1(r.mainThreadPct),
      c.fmt(r.rssMiB, 0),
      fmt1(r.deliveredMbit),
      c.fmt(r.minRatio, 3),
      clientCell(r),
      { text: c.fmt(r.udpOutPerSec, 0) + (r.udpRcvbufErrors > 0 ? ` (${r.udpRcvbufErrors} dropped)` : ''), color: r.udpRcvbufErrors > 0 ? chalk.yellow : undefined },
      otherCell(r),
    ]),
  );
  const ns = [...new Set(results.map((r) => r.requested))];
  const ratioRows = [];
  let goal = true;
  let compared = false;
  for (const n of ns) {
    const s = results.find((r) => r.server === 'ssas' && r.requested === n);
    const t = results.find((r) => r.server === 'tcserver' && r.requested === n);
    if (s && t) {
      compared = true;
      if (!(s.cpuPct <= t.cpuPct && s.behind === 0 && s.failed === 0)) goal = false;
    }
    ratioRows.push([
      String(n),
      s ? fmt1(s.cpuPct) : 'n/a',
      t ? fmt1(t.cpuPct) : 'n/a',
      s && t ? c.ratioCell(s.cpuPct, t.cpuPct) : 'n/a',
      s && t ? c.ratioCell(s.userPct, t.userPct) : 'n/a',
      s && t ? c.ratioCell(s.sysPct, t.sysPct) : 'n/a',
      s && t ? c.ratioCell(s.rssMiB, t.rssMiB) : 'n/a',
    ]);
  }
  console.log(chalk.bold('ssas / tcserver (same run; lower is better for ssas)'));
  c.printTable(['players', 'ssas CPU %', 'tcserver CPU %', 'CPU ssas/tcserver', 'user', 'sys', 'RSS'], ratioRows);
  if (compared) {
    console.log(
      (goal ? chalk.green('goal met') : chalk.red('goal missed')) +
        chalk.dim(' (ssas at most 1.0x tcserver\'s CPU at every N, every ssas player keeping up)'),
    );
  }
  for (const n of ns) {
    const t = results.find((r) => r.server === 'tcserver' && r.requested === n);
    if (t && t.behind > 0) {
      console.log(
        chalk.yellow(`  at ${n} players tcserver itself kept up ${t.players - t.behind}/${n} (${fmt1(t.deliveredMbit)} Mbit/s out): its CPU there is not the cost of the full rate`),
      );
    }
  }
  for (const r of results) {
    if (r.failures?.length) console.log(chalk.yellow(`  ${r.label} @${r.requested}: ${r.failed} players failed: ${r.failures.join('; ')}`));
    if (r.probe && r.probe.video === 0) console.log(chalk.yellow(`  ${r.label} @${r.requested}: the probe player saw no video`));
  }
  return { clipMbit: clip.bitsPerSec / 1e6, warmupSec: o.warmupSec, measureSec: o.measureSec, workers: o.workers, repeat: o.repeat, results, goalMet: compared ? goal : null };
}

// ----- 2. handshakes ----------------------------------------------------------------------------------------

/** @param {RtmfpOptions} o @param {string[]} servers */
async function handshakes(o, servers) {
  console.log(chalk.bold.cyan('\n(2) Handshakes: new RTMFP sessions per second (connect -> NetConnection.Connect.Success -> close)'));
  console.log(
    chalk.dim(
      `  one client process, open loop (clients start on schedule whatever the earlier ones do), ${o.hsSec} s per rate, rates ${o.hsRates.join(', ')} /s, ` +
        `until the median connect takes more than ${HS_LIMIT_MS} ms; every client its own UDP socket, DH key agreement and keys (RFC 7425)`,
    ),
  );
  console.log(chalk.yellow('  note: the client does the same DH and crypto work per session as the server, on the same 2 cores (client CPU % column)'));
  /** @type {any[]} */
  const steps = [];
  /** @type {any[]} */
  const summary = [];
  for (const kind of servers) {
    const server = await startServer(kind);
    const load = new Clients(1);
    const url = `rtmfp://127.0.0.1:${server.rtmfpPort}/live`;
    let best50 = 0;
    let best99 = 0;
    let stopReason = 'all rates passed';
    try {
      // Warm-up: the JIT (ssas and the client), DH engines.
      await load.req(0, 'handshakes', { url, rate: 20, seconds: 1, timeoutMs: 10000 });
      await c.sleep(1500);
      for (const rate of o.hsRates) {
        process.stderr.write(chalk.dim(`  ${kind} at ${rate} sessions/s ...`));
        await waitQuiet(o.quietWaitSec);
        const x0 = machineCpu();
        const b0 = c.readCpu(process.pid);
        const s0 = c.readCpu(server.pid);
        const l0 = c.readCpu(load.pids[0]);
        const t0 = process.hrtime.bigint();
        const r = await load.req(0, 'handshakes', { url, rate, seconds: o.hsSec, timeoutMs: 10000 });
        const wall = Number(process.hrtime.bigint() - t0) / 1e9;
        const s1 = c.readCpu(server.pid);
        const l1 = c.readCpu(load.pids[0]);
        const b1 = c.readCpu(process.pid);
        const x1 = machineCpu();
        const lat = c.summarize(r.ms);
        const cpuSec = s1.user + s1.sys - s0.user - s0.sys;
        const step = {
          server: kind,
          label: server.label,
          rate,
          launched: r.launched,
          completed: r.ms.length,
          failed: r.failed,
          failures: r.failures,
          p50: lat.p50,
          p90: lat.p90,
          p99: lat.p99,
          max: lat.max,
          achievedPerSec: r.ms.length / (r.wallMs / 1000),
          wallSec: wall,
          cpuPct: (100 * cpuSec) / wall,
          cpuMsPerHandshake: r.ms.length ? (1000 * cpuSec) / r.ms.length : NaN,
          clientCpuPct: c.cpuPct(l0, l1, wall),
          otherPct: Math.max(0, (100 * (x1.busy - x0.busy)) / wall - (100 * cpuSec) / wall - c.cpuPct(l0, l1, wall) - c.cpuPct(b0, b1, wall)),
          lateMs: r.lateMs,
          ...c.readRss(server.pid),
        };
        steps.push(step);
        process.stderr.write(
          chalk.dim(` p50 ${c.fmt(step.p50, 1)} ms, p99 ${c.fmt(step.p99, 1)} ms, ${step.failed} failed, server ${fmt1(step.cpuPct)} %, client ${fmt1(step.clientCpuPct)} %\n`),
        );
        const failedShare = step.failed / Math.max(1, step.launched);
        if (step.p99 <= HS_LIMIT_MS && failedShare === 0) best99 = rate;
        if (step.p50 <= HS_LIMIT_MS && failedShare <= 0.01) best50 = rate;
        if (failedShare > 0.01) {
          stopReason = `${step.failed} of ${step.launched} connects failed at ${rate}/s`;
          break;
        }
        if (!(step.p50 <= HS_LIMIT_MS)) {
          stopReason = `median connect ${c.fmt(step.p50, 0)} ms at ${rate}/s`;
          break;
        }
        // Let the closed sessions go (the client releases each socket 1.5 s after its close).
        await c.sleep(2000);
      }
    } finally {
      await load.stop();
      await server.stop();
      fs.rmSync(server.dir, { recursive: true, force: true });
    }
    const at99 = steps.find((s) => s.server === kind && s.rate === best99);
    summary.push({ server: kind, label: server.label, maxRateP99: best99, maxRateP50: best50, cpuMsAtP99Rate: at99?.cpuMsPerHandshake ?? NaN, stopReason });
  }
  c.printTable(
    ['server', 'offered /s', 'completed', 'failed', 'done /s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'server CPU %', 'CPU ms / session', 'client CPU %', 'client start lag ms', 'other CPU %'],
    steps.map((s) => [
      s.label,
      String(s.rate),
      String(s.completed),
      { text: String(s.failed), color: s.failed ? chalk.red : undefined },
      c.fmt(s.achievedPerSec, 0),
      { text: c.fmt(s.p50, 1), color: s.p50 > HS_LIMIT_MS ? chalk.red : undefined },
      c.fmt(s.p90, 1),
      { text: c.fmt(s.p99, 1), color: s.p99 > HS_LIMIT_MS ? chalk.red : undefined },
      c.fmt(s.max, 0),
      fmt1(s.cpuPct),
      c.fmt(s.cpuMsPerHandshake, 2),
      { text: fmt1(s.clientCpuPct) + (s.clientCpuPct > 90 ? ' sat.' : ''), color: s.clientCpuPct > 90 ? chalk.yellow : undefined },
      // How late the client started its most delayed connect (its own event loop falling behind the schedule).
      { text: c.fmt(s.lateMs, 0), color: s.lateMs > 50 ? chalk.yellow : undefined },
      otherCell(s),
    ]),
  );
  const ss = summary.find((s) => s.server === 'ssas');
  const ts = summary.find((s) => s.server === 'tcserver');
  // CPU per session compared at the highest rate both kept p99 under the limit.
  const common = ss && ts ? Math.min(ss.maxRateP99, ts.maxRateP99) : 0;
  const cpuAt = (/** @type {string} */ k) => steps.find((s) => s.server === k && s.rate === common)?.cpuMsPerHandshake ?? NaN;
  c.printTable(
    ['server', `most /s with p99 <= ${HS_LIMIT_MS} ms`, `most /s with p50 <= ${HS_LIMIT_MS} ms`, `CPU ms / session at ${common || '-'} /s`, 'ssas/tcserver', 'stopped because'],
    summary.map((s) => [
      s.label,
      String(s.maxRateP99 || '< ' + o.hsRates[0]),
      String(s.maxRateP50 || '< ' + o.hsRates[0]),
      c.fmt(cpuAt(s.server), 2),
      s.server === 'ssas' && ts ? c.ratioCell(cpuAt('ssas'), cpuAt('tcserver')) : '',
      s.stopReason,
    ]),
    { right: [1, 2, 3, 4] },
  );
  return { seconds: o.hsSec, rates: o.hsRates, limitMs: HS_LIMIT_MS, steps, summary, commonRate: common };
}

// ----- 3. one 4 Mbit/s flow ---------------------------------------------------------------------------------

/**
 * @param {string} kind @param {'rtmp'|'rtmfp'} via how the publisher reaches the server
 * @param {{file:string}} clip @param {RtmfpOptions} o
 */
async function flowCase(kind, via, clip, o) {
  const server = await startServer(kind);
  const player = new Clients(1);
  /** @type {Clients | null} */
  let publisher = null;
  /** @type {import('node:child_process').ChildProcess | null} */
  let ffmpeg = null;
  /** @type {Awaited<ReturnType<typeof c.startProxy>> | null} */
  let proxy = null;
  try {
    /** @type {() => number | Promise<number>} */
    let pubBytes;
    /** @type {number[]} */
    let clientPids = [...player.pids];
    if (via === 'rtmp') {
      proxy = await c.startProxy(server.rtmpPort);
      const log = path.join(server.dir, 'ffmpeg.log');
      ffmpeg = c.startPublisher(clip.file, `rtmp://127.0.0.1:${proxy.port}/live/${STREAM}`, { log });
      const p = proxy;
      pubBytes = () => p.state.bytesUp;
      const started = Date.now();
      while (p.state.bytesUp < 500_000 || Date.now() - started < 1500) {
        if (ffmpeg.exitCode !== null) throw new Error(`ffmpeg publisher to ${kind} exited: ${fs.readFileSync(log, 'utf8')}`);
        if (Date.now() - started > 20000) throw new Error(`publisher to ${kind} sent only ${p.state.bytesUp} bytes in 20 s`);
        await c.sleep(100);
      }
    } else {
      publisher = new Clients(1);
      clientPids = [...clientPids, ...publisher.pids];
      await publisher.req(0, 'publish', { url: `rtmfp://127.0.0.1:${server.rtmfpPort}/live`, stream: STREAM, file: clip.file });
      await c.sleep(1500);
      // The publisher process counts the payload bytes it sent (asked right before and after the window).
      const pub = publisher;
      pubBytes = async () => (await pub.req(0, 'pubCount')).bytes;
    }
    await player.addPlayers(`rtmfp://127.0.0.1:${server.rtmfpPort}/live`, 1);
    await waitMedia(player, kind);
    await c.sleep(o.flowWarmupSec * 1000);
    const m = await measure(server, player, pubBytes, o.flowSec, clientPids, ffmpeg ? [/** @type {number} */ (ffmpeg.pid)] : []);
    return finishFlow(kind, via, server, m);
  } finally {
    await player.stop();
    if (publisher) await publisher.stop();
    if (ffmpeg) await c.stopChild(ffmpeg);
    if (proxy) await proxy.close();
    await server.stop();
    fs.rmSync(server.dir, { recursive: true, force: true });
  }
}

/** @param {Clients} load @param {string} kind */
async function waitMedia(load, kind) {
  const until = Date.now() + 20000;
  for (;;) {
    const s = await load.snap();
    if (s.media > 0) return;
    if (s.failed > 0) throw new Error(`${kind}: the player failed: ${s.failures.join('; ')}`);
    if (Date.now() > until) throw new Error(`${kind}: the player received no media within 20 s`);
    await c.sleep(200);
  }
}

/** @param {string} kind @param {string} via @param {RtmfpServer} server @param {any} m */
function finishFlow(kind, via, server, m) {
  const ratio = m.pubBytes > 0 ? m.deliveredBytes / m.pubBytes : 0;
  return {
    server: kind,
    label: server.label,
    via,
    ...m,
    ratio,
    keptUp: ratio >= KEEP_UP && m.lost === 0,
    cpuSecPerMB: m.deliveredBytes > 0 ? m.cpuSec / (m.deliveredBytes / 1e6) : NaN,
  };
}

/** @param {RtmfpOptions} o @param {string[]} servers */
async function flow(o, servers) {
  const clip = c.ensureClip('4M');
  console.log(chalk.bold.cyan('\n(3) One 4 Mbit/s flow: one publisher -> one RTMFP player'));
  console.log(
    chalk.dim(
      `  clip ${path.basename(clip.file)} ${(clip.bitsPerSec / 1e6).toFixed(2)} Mbit/s; warm-up ${o.flowWarmupSec} s, window ${o.flowSec} s; publisher: ffmpeg over RTMP (bytes counted by the proxy, chunk headers included) ` +
        'or ssas RtmpClient over RTMFP sending the FLV\'s tags at real time (payload bytes counted); player: ssas RtmpClient over RTMFP (payload bytes)',
    ),
  );
  console.log(chalk.yellow('  note: at this rate the server uses a few % of a core: single windows vary; CPU s per MB = (utime+stime) / MB the player received'));
  /** @type {any[]} */
  const results = [];
  for (const via of /** @type {const} */ (['rtmp', 'rtmfp'])) {
    for (const kind of servers) {
      process.stderr.write(chalk.dim(`  ${kind}, ${via.toUpperCase()} publish -> RTMFP play ...`));
      await waitQuiet(o.quietWaitSec);
      const r = await flowCase(kind, via, clip, o);
      results.push(r);
      process.stderr.write(chalk.dim(` ${fmt1(r.cpuPct)} % CPU, ${c.fmt(r.cpuSecPerMB, 3)} CPU s/MB, recv/sent ${c.fmt(r.ratio, 3)}\n`));
    }
  }
  c.printTable(
    ['server', 'path', 'kept up', 'recv/sent', 'in Mbit/s', 'out Mbit/s', 'CPU %', 'user %', 'sys %', 'CPU s / MB', 'RSS MiB', 'client CPU % (player+publisher)', 'other CPU %'],
    results.map((r) => [
      r.label,
      `${r.via.toUpperCase()} -> RTMFP`,
      { text: r.keptUp ? 'yes' : 'no', color: r.keptUp ? chalk.green : chalk.red },
      c.fmt(r.ratio, 3),
      fmt1(r.pubMbit),
      fmt1(r.deliveredMbit),
      fmt1(r.cpuPct),
      fmt1(r.userPct),
      fmt1(r.sysPct),
      c.fmt(r.cpuSecPerMB, 3),
      c.fmt(r.rssMiB, 0),
      fmt1(r.clientCpuPct),
      otherCell(r),
    ]),
  );
  const rows = [];
  for (const via of ['rtmp', 'rtmfp']) {
    const s = results.find((r) => r.server === 'ssas' && r.via === via);
    const t = results.find((r) => r.server === 'tcserver' && r.via === via);
    if (s && t) rows.push([`${via.toUpperCase()} -> RTMFP`, c.ratioCell(s.cpuSecPerMB, t.cpuSecPerMB), c.ratioCell(s.userPct, t.userPct), c.ratioCell(s.sysPct, t.sysPct)]);
  }
  if (rows.length) {
    console.log(chalk.bold('ssas / tcserver, CPU per delivered MB (lower is better for ssas)'));
    c.printTable(['path', 'CPU s / MB', 'user', 'sys'], rows);
  }
  return { clipMbit: clip.bitsPerSec / 1e6, warmupSec: o.flowWarmupSec, measureSec: o.flowSec, results };
}

// ----- profile ----------------------------------------------------------------------------------------------

/**
 * Self time per function of a V8 .cpuprofile (node --cpu-prof), from the samples taken between t0 and t1
 * (process.hrtime of this process: CLOCK_MONOTONIC, the clock of V8's profile timestamps, in µs).
 * @param {string} file @param {bigint} t0 @param {bigint} t1
 */
function summarizeCpuProfile(file, t0, t1) {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
  /** @type {Map<number, any>} */
  const nodes = new Map(prof.nodes.map((/** @type {any} */ n) => [n.id, n]));
  const from = Number(t0 / 1000n);
  const to = Number(t1 / 1000n);
  let t = prof.startTime;
  /** @type {Map<number, number>} */
  const hits = new Map();
  let total = 0;
  let windowed = true;
  // The window must fall in the profile; otherwise (another clock) count every sample.
  if (!(from >= prof.startTime && to <= prof.endTime + 1e6)) windowed = false;
  for (let i = 0; i < prof.samples.length; i++) {
    t += prof.timeDeltas[i];
    if (windowed && (t < from || t > to)) continue;
    hits.set(prof.samples[i], (hits.get(prof.samples[i]) ?? 0) + 1);
    total++;
  }
  /** @type {Map<string, number>} */
  const byFn = new Map();
  /** @type {Map<string, number>} */
  const groups = new Map();
  let idle = 0;
  for (const [id, n] of hits) {
    const cf = nodes.get(id).callFrame;
    if (cf.functionName === '(idle)') {
      idle += n;
      continue;
    }
    const url = String(cf.url || '');
    const short = url.includes('/dist/') ? url.slice(url.indexOf('/dist/') + 1) : url.replace(/^file:\/\//, '');
    const key = `${cf.functionName || '(anonymous)'}${short ? `  ${short}:${cf.lineNumber + 1}` : ''}`;
    byFn.set(key, (byFn.get(key) ?? 0) + n);
    const group = url.includes('/dist/rtmfp/')
      ? 'ssas dist/rtmfp (protocol: sessions, flows, packets, crypto calls)'
      : url.includes('/dist/net/')
        ? 'ssas dist/net (RTMFP socket edge, NetConnection over RTMFP, RTMP)'
        : url.includes('/dist/')
          ? 'ssas dist/ other (live streams, session, server)'
          : url.startsWith('node:')
            ? 'Node.js library JavaScript (dgram, crypto, timers...)'
            : cf.functionName === '(garbage collector)'
              ? 'garbage collector'
              : cf.functionName === '(program)'
                ? '(program): native code outside JS (libuv, syscalls, V8)'
                : 'native functions called from JS (crypto, Buffer, send...)';
    groups.set(group, (groups.get(group) ?? 0) + n);
  }
  const busy = total - idle;
  const pct = (/** @type {number} */ n) => (100 * n) / Math.max(1, busy);
  return {
    samples: total,
    busySamples: busy,
    idlePct: (100 * idle) / Math.max(1, total),
    windowed,
    intervalUs: prof.samples.length > 1 ? (prof.endTime - prof.startTime) / prof.samples.length : NaN,
    groups: [...groups.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${pct(v).toFixed(1).padStart(5)}%  ${k}`),
    self: [...byFn.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 30)
      .map(([k, v]) => `${pct(v).toFixed(2).padStart(6)}%  ${k}`),
  };
}

/** ssas once more at N players under node --cpu-prof; self time of the window's samples. @param {RtmfpOptions} o @param {number} n */
async function profileSsas(o, n) {
  const clip = c.ensureClip('0.6M');
  const dir = c.tempDir('rtmfp-prof');
  process.stderr.write(chalk.dim(`  profiling ssas with ${n} RTMFP players (node --cpu-prof) ...`));
  await waitQuiet(o.quietWaitSec);
  /** @type {[bigint, bigint]} */
  let win = [0n, 0n];
  const r = await fanoutCase('ssas', clip, n, o, {
    nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir],
    onWindow: (t0, t1) => (win = [t0, t1]),
  });
  process.stderr.write(chalk.dim(` ${fmt1(r.cpuPct)} % CPU, ${r.behind} behind\n`));
  const file = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(dir, f))[0];
  if (!file) {
    console.log(chalk.yellow(`  --profile: no .cpuprofile was written in ${dir}`));
    return null;
  }
  const p = summarizeCpuProfile(file, win[0], win[1]);
  console.log(
    chalk.bold(
      `\nssas profile at ${n} RTMFP players (${fmt1(r.cpuPct)} % CPU, user ${fmt1(r.userPct)} %, sys ${fmt1(r.sysPct)} %, main thread ${fmt1(r.mainThreadPct)} % in the profiled window)`,
    ),
  );
  console.log(
    chalk.dim(
      `  main thread only (V8 sampling profiler, ~${c.fmt(p.intervalUs / 1000, 1)} ms interval): ${p.busySamples} busy samples in the window${p.windowed ? '' : ' (window not found: whole run)'}, ` +
        `idle ${fmt1(p.idlePct)} %; shares of the busy samples; kernel time inside a syscall is billed to its caller`,
    ),
  );
  console.log(chalk.bold('  by kind of code (self):'));
  for (const l of p.groups) console.log('    ' + l);
  console.log(chalk.bold('  top functions (self):'));
  for (const l of p.self) console.log('    ' + l);
  console.log(chalk.dim(`  profile: ${file} (open in Chrome DevTools > Performance, or speedscope)`));
  return { players: n, cpuPct: r.cpuPct, userPct: r.userPct, sysPct: r.sysPct, mainThreadPct: r.mainThreadPct, file, ...p };
}

/** ssas under node --cpu-prof while one client opens sessions at `rate` per second. @param {RtmfpOptions} o @param {number} rate */
async function profileHandshakes(o, rate) {
  const dir = c.tempDir('rtmfp-prof');
  process.stderr.write(chalk.dim(`  profiling ssas during ${rate} handshakes/s (node --cpu-prof) ...`));
  await waitQuiet(o.quietWaitSec);
  const server = await startSsas({ nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir] });
  const load = new Clients(1);
  const url = `rtmfp://127.0.0.1:${server.rtmfpPort}/live`;
  /** @type {any} */
  let r;
  let cpuPct = NaN;
  /** @type {[bigint, bigint]} */
  let win = [0n, 0n];
  try {
    await load.req(0, 'handshakes', { url, rate: 20, seconds: 1, timeoutMs: 10000 });
    await c.sleep(1500);
    const s0 = c.readCpu(server.pid);
    const t0 = process.hrtime.bigint();
    r = await load.req(0, 'handshakes', { url, rate, seconds: o.hsSec, timeoutMs: 10000 });
    const t1 = process.hrtime.bigint();
    cpuPct = c.cpuPct(s0, c.readCpu(server.pid), Number(t1 - t0) / 1e9);
    win = [t0, t1];
  } finally {
    await load.stop();
    await server.stop();
    fs.rmSync(server.dir, { recursive: true, force: true });
  }
  const lat = c.summarize(r.ms);
  process.stderr.write(chalk.dim(` ${fmt1(cpuPct)} % CPU, p50 ${c.fmt(lat.p50, 1)} ms\n`));
  const file = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(dir, f))[0];
  if (!file) return null;
  const p = summarizeCpuProfile(file, win[0], win[1]);
  console.log(chalk.bold(`\nssas profile during ${rate} new RTMFP sessions/s (${fmt1(cpuPct)} % CPU; ${r.ms.length} sessions, ${c.fmt((cpuPct * 10 * o.hsSec) / Math.max(1, r.ms.length), 2)} CPU ms each)`));
  console.log(chalk.dim(`  main thread only: ${p.busySamples} busy samples, idle ${fmt1(p.idlePct)} %; shares of the busy samples`));
  console.log(chalk.bold('  by kind of code (self):'));
  for (const l of p.groups) console.log('    ' + l);
  console.log(chalk.bold('  top functions (self):'));
  for (const l of p.self.slice(0, 20)) console.log('    ' + l);
  console.log(chalk.dim(`  profile: ${file}`));
  return { rate, cpuPct, sessions: r.ms.length, file, ...p };
}

// ----- entry ------------------------------------------------------------------------------------------------

/** @param {RtmfpOptions} o */
async function rtmfp(o) {
  console.log(chalk.bold.cyan('\nRTMFP (issue 12): ssas vs rtmfp-cpp tcserver, same clients, same run'));
  console.log(chalk.dim(`  ${c.machineLine()}`));
  /** @type {string[]} */
  const servers = [];
  for (const kind of o.servers) {
    const why = missing(kind);
    if (why) console.log(chalk.yellow(`  skipping ${kind}: ${why}`));
    else servers.push(kind);
  }
  console.log(chalk.dim(`  servers: ${servers.join(', ') || 'none'}; ssas on a script-less "live" application; tcserver -B 127.0.0.1:0 -b 127.0.0.1:0 (HMAC and session sequence numbers required)`));
  /** @type {Record<string, unknown>} */
  const out = { bench: 'rtmfp', servers };
  if (!servers.length) return out;
  try {
    if (o.parts.includes('fanout')) out.fanout = await fanout(o, servers);
    if (o.parts.includes('handshake')) out.handshake = await handshakes(o, servers);
    if (o.parts.includes('flow')) out.flow = await flow(o, servers);
    if (o.profile && servers.includes('ssas')) {
      out.profile = o.parts.includes('fanout') || !o.parts.includes('handshake') ? await profileSsas(o, Math.max(...o.players)) : null;
      if (o.parts.includes('handshake')) out.profileHandshakes = await profileHandshakes(o, Math.min(100, Math.max(...o.hsRates)));
    }
  } finally {
    if (ssasApps) fs.rmSync(ssasApps, { recursive: true, force: true });
    ssasApps = '';
  }
  return out;
}

module.exports = { rtmfp };
