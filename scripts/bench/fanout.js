// @ts-check
'use strict';
/**
 * Media fan-out benchmarks: one ffmpeg publisher, N RTMP players from the load client (load-client.js, in
 * child processes), the server's CPU read from /proc/<pid>/stat over a measurement window after a warm-up.
 *
 *   fanout      0.6 Mbit/s H.264/AAC to N players (default 400 and 1000), every server started fresh per N.
 *   throughput  4 Mbit/s to a growing number of players (default 250, 500, 1000, 1500, 2000) on one server
 *               process: CPU seconds per delivered GB and the largest N where every player keeps up.
 *
 * A player "falls behind" when it received less than 90 % of the bytes the publisher sent during the window
 * (the publisher's bytes are counted by a proxy between ffmpeg and the server), or lost its connection.
 */
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');
const { fork, execFileSync, spawn } = require('node:child_process');
const chalk = require('chalk');
const c = require('./common');

const KEEP_UP = 0.9;
const STREAM = 'bench';

/**
 * @typedef {object} LoadSnap
 * @property {number} at
 * @property {number[]} bytes
 * @property {number[]} closedMask
 * @property {number} media
 * @property {number} failed
 * @property {number} closed
 * @property {string[]} failures
 * @property {{audio:number, video:number, lastTs:number} | null} probe
 */

/** The load client: W forked processes sharing the players. */
class Load {
  /** @param {number} workers */
  constructor(workers) {
    /** @type {import('node:child_process').ChildProcess[]} */
    this.procs = [];
    /** @type {Map<number, (s: LoadSnap) => void>[]} */
    this.waiting = [];
    /** @type {{media:number, failed:number, closed:number}[]} */
    this.progress = [];
    this.nextId = 1;
    this.total = 0;
    for (let i = 0; i < workers; i++) {
      // --max-semi-space-size: fewer scavenges for the steady stream of small read callbacks.
      const p = fork(path.join(__dirname, 'load-client.js'), [], {
        execArgv: ['--max-semi-space-size=32'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      c.track(p);
      const idx = i;
      this.waiting.push(new Map());
      this.progress.push({ media: 0, failed: 0, closed: 0 });
      p.on('message', (/** @type {any} */ m) => {
        if (m.type === 'progress') this.progress[idx] = m;
        else if (m.type === 'snap') {
          const w = this.waiting[idx].get(m.id);
          this.waiting[idx].delete(m.id);
          w?.(m);
        }
      });
      this.procs.push(p);
    }
  }

  get pids() {
    return this.procs.map((p) => /** @type {number} */ (p.pid));
  }

  /**
   * Adds players (split over the workers) and waits until each receives media or failed.
   * @param {string} url @param {number} count @param {number} timeoutMs
   */
  async add(url, count, timeoutMs) {
    const per = this.procs.map((_, i) => Math.floor(count / this.procs.length) + (i < count % this.procs.length ? 1 : 0));
    const firstAdd = this.total === 0;
    this.procs.forEach((p, i) => {
      if (per[i] > 0) p.send({ cmd: 'add', url, stream: STREAM, players: per[i], concurrency: 40, probe: firstAdd && i === 0 });
    });
    this.total += count;
    const until = Date.now() + timeoutMs;
    for (;;) {
      await c.sleep(250);
      const s = await this.snap();
      if (s.media + s.failed >= this.total) return s;
      if (Date.now() > until) return s;
    }
  }

  /** @returns {Promise<LoadSnap>} */
  async snap() {
    const parts = await Promise.all(
      this.procs.map(
        (p, i) =>
          /** @type {Promise<LoadSnap>} */ (
            new Promise((resolve) => {
              const id = this.nextId++;
              this.waiting[i].set(id, resolve);
              p.send({ cmd: 'snap', id });
            })
          ),
      ),
    );
    return {
      at: Date.now(),
      bytes: parts.flatMap((s) => s.bytes),
      closedMask: parts.flatMap((s) => s.closedMask),
      media: parts.reduce((a, s) => a + s.media, 0),
      failed: parts.reduce((a, s) => a + s.failed, 0),
      closed: parts.reduce((a, s) => a + s.closed, 0),
      failures: parts.flatMap((s) => s.failures).slice(0, 5),
      probe: parts.find((s) => s.probe)?.probe ?? null,
    };
  }

  async stop() {
    await Promise.all(this.procs.map((p) => c.stopChild(p, 3000, { cmd: 'stop' })));
  }
}

/**
 * A server with its publisher running, ready for players.
 * @param {string} kind @param {{file:string}} clip @param {{nodeArgs?: string[]}} [opts]
 */
async function startStage(kind, clip, opts) {
  const server = await c.startServer(kind, opts);
  const proxy = await c.startProxy(server.port);
  const log = path.join(server.dir, 'ffmpeg.log');
  const pub = c.startPublisher(clip.file, `rtmp://127.0.0.1:${proxy.port}/${server.app}/${STREAM}`, { log });
  const started = Date.now();
  // Wait until the publisher is past its setup and media flows (a key frame is in the server's hands).
  while (proxy.state.bytesUp < 200_000 || Date.now() - started < 1500) {
    if (pub.exitCode !== null) throw new Error(`ffmpeg publisher to ${kind} exited: ${fs.readFileSync(log, 'utf8')}`);
    if (Date.now() - started > 20000) throw new Error(`publisher to ${kind} sent only ${proxy.state.bytesUp} bytes in 20 s`);
    await c.sleep(100);
  }
  return {
    server,
    proxy,
    pub,
    url: `rtmp://127.0.0.1:${server.port}/${server.app}`,
    async stop() {
      await c.stopChild(pub);
      await proxy.close();
      await server.stop();
      fs.rmSync(server.dir, { recursive: true, force: true });
    },
  };
}

/**
 * Measures one window: server CPU, load client CPU, bytes per player vs the publisher's.
 * @param {{server:{pid:number}, proxy:{state:{bytesUp:number}}}} stage @param {Load} load @param {number} seconds
 * @param {{perf?: string}} [opts] record a perf profile of the server during the window into this file
 */
async function measure(stage, load, seconds, opts = {}) {
  const pid = stage.server.pid;
  /** @type {import('node:child_process').ChildProcess | null} */
  let perf = null;
  if (opts.perf) {
    perf = c.track(spawn('perf', ['record', '-k', 'mono', '-F', '999', '-g', '-p', String(pid), '-o', opts.perf, '--', 'sleep', String(seconds)], {
      stdio: 'ignore',
    }));
  }
  const s0 = c.readCpu(pid);
  const l0 = load.pids.map((p) => c.readCpu(p));
  const p0 = stage.proxy.state.bytesUp;
  const t0 = process.hrtime.bigint();
  const snap0 = await load.snap();
  await c.sleep(seconds * 1000);
  const s1 = c.readCpu(pid);
  const l1 = load.pids.map((p) => c.readCpu(p));
  const p1 = stage.proxy.state.bytesUp;
  const t1 = process.hrtime.bigint();
  const snap1 = await load.snap();
  if (perf) await new Promise((r) => (perf.exitCode !== null ? r(undefined) : perf.once('exit', r)));
  const wall = Number(t1 - t0) / 1e9;
  const pubBytes = p1 - p0;
  const ratios = [];
  let behind = 0;
  let lost = 0;
  let delivered = 0;
  for (let i = 0; i < snap1.bytes.length; i++) {
    const before = i < snap0.bytes.length ? snap0.bytes[i] : 0;
    const got = snap1.bytes[i] - before;
    delivered += got;
    const r = pubBytes > 0 ? got / pubBytes : 0;
    ratios.push(r);
    if (snap1.closedMask[i]) lost++;
    if (r < KEEP_UP || snap1.closedMask[i]) behind++;
  }
  ratios.sort((a, b) => a - b);
  const user = s1.user - s0.user;
  const sys = s1.sys - s0.sys;
  const clientPct = l1.map((x, i) => (100 * (x.user + x.sys - l0[i].user - l0[i].sys)) / wall);
  return {
    wallSec: wall,
    cpuPct: (100 * (user + sys)) / wall,
    userPct: (100 * user) / wall,
    sysPct: (100 * sys) / wall,
    cpuSec: user + sys,
    ...c.readRss(pid),
    clientCpuPct: clientPct.reduce((a, b) => a + b, 0),
    clientMaxWorkerPct: Math.max(...clientPct),
    pubBytes,
    pubMbit: (pubBytes * 8) / wall / 1e6,
    deliveredBytes: delivered,
    deliveredMbit: (delivered * 8) / wall / 1e6,
    players: snap1.bytes.length,
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

/** @param {string[]} args */
function perfReport(args) {
  try {
    return execFileSync('perf', ['report', ...args, '--stdio', '-g', 'none'], {
      stdio: ['ignore', 'pipe', 'ignore'],
      maxBuffer: 256 * 1024 * 1024,
    }).toString();
  } catch (e) {
    return `perf report failed: ${(/** @type {Error} */ (e)).message}`;
  }
}

/**
 * Turns a perf recording of a node process started with --perf-prof (JIT code dumped to jit-<pid>.dump in
 * its working folder) into a summary: self time by function, time by kind of code, and the inclusive time of
 * the functions that matter for fan-out. Must run before the server's folder is removed.
 * @param {string} file the perf.data of `perf record -k mono -g`
 */
function summarizeProfile(file) {
  const injected = file.replace(/\.data$/, '') + '.jit.data';
  try {
    execFileSync('perf', ['inject', '--jit', '-i', file, '-o', injected], { stdio: 'ignore' });
  } catch (e) {
    return { injected: file, self: [`perf inject --jit failed: ${(/** @type {Error} */ (e)).message}`], groups: [], inclusive: [] };
  }
  /** @type {{pct:number, dso:string, sym:string}[]} */
  const selfRows = [];
  for (const l of perfReport(['-i', injected, '--no-children', '--sort', 'dso,symbol']).split('\n')) {
    const m = /^\s+(\d+\.\d+)%\s+(\S+(?: tid \d+)?)\s+\[[.k]\]\s+(.*?)\s*(?:-\s+-\s*)?$/.exec(l);
    if (m) selfRows.push({ pct: Number(m[1]), dso: m[2], sym: m[3] });
  }
  const kind = (/** @type {{dso:string, sym:string}} */ r) =>
    r.dso.includes('kernel') ? 'kernel (syscalls, TCP/IP incl. the loopback receive path)'
      : r.sym.includes('/dist/') ? 'ssas JavaScript (dist/)'
        : r.sym.startsWith('JS:') ? 'Node.js library JavaScript (streams, net, timers)'
          : 'native: node, V8 builtins, libuv, libc, GC';
  /** @type {Map<string, number>} */
  const groups = new Map();
  for (const r of selfRows) groups.set(kind(r), (groups.get(kind(r)) ?? 0) + r.pct);
  /** @type {{pct:number, sym:string}[]} */
  const inclusive = [];
  // Nested as they run: flushQueued > Socket writes > syscalls; #feed > pushMessage > #deliver. A function
  // the JIT inlined into its caller has no frame of its own (write-scheduler's flushAll often is).
  const wanted = [
    [/flushQueued .*rtmp-connection/, 'RtmpConnection.flushQueued (all player writes, next block nested in it)'],
    [/Socket\._writeGeneric/, '  net Socket._writeGeneric (one-buffer writes: write(2))'],
    [/writevGeneric/, '  stream_base_commons writevGeneric (corked several buffers: writev(2))'],
    [/^entry_SYSCALL_64_after_hwframe$/, 'all syscalls (kernel entry)'],
    [/^do_softirq/, '  of which softirq: TCP receive processing for the loopback peers'],
    [/#feed .*chunk-decoder/, 'ChunkDecoder #feed (publisher input, next block nested in it)'],
    [/pushMessage .*live-stream/, '  LiveStream.pushMessage (one message to every player)'],
    [/#deliver .*session/, '    SessionStream #deliver (per player: checks, chunk lookup, queueing)'],
    [/Heap::CollectGarbage|Scavenger|MarkCompact/, 'garbage collection'],
  ];
  /** @type {{pct:number, sym:string}[]} */
  const childRows = [];
  for (const l of perfReport(['-i', injected, '--children', '--sort', 'symbol']).split('\n')) {
    const m = /^\s+(\d+\.\d+)%\s+(\d+\.\d+)%\s+\[[.k]\]\s+(.*?)\s*(?:-\s+-\s*)?$/.exec(l);
    if (m) childRows.push({ pct: Number(m[1]), sym: m[3].replace(/^JS:[*~^+]?/, '') });
  }
  for (const [re, label] of wanted) {
    // A JS function appears once per tier (interpreted, baseline, optimized): its samples add up.
    const hits = childRows.filter((r) => /** @type {RegExp} */ (re).test(r.sym));
    if (hits.length) inclusive.push({ pct: hits.reduce((a, r) => a + r.pct, 0), sym: /** @type {string} */ (label) });
  }
  return {
    injected,
    self: selfRows.slice(0, 30).map((r) => `${r.pct.toFixed(2).padStart(6)}%  ${r.sym}${r.dso.includes('kernel') ? ' [kernel]' : ''}`),
    groups: [...groups.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${v.toFixed(1).padStart(5)}%  ${k}`),
    inclusive: inclusive.map((r) => `${r.pct.toFixed(1).padStart(5)}%  ${r.sym}`),
  };
}

function havePerf() {
  try {
    execFileSync('perf', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * @typedef {object} FanoutOptions
 * @property {string[]} servers
 * @property {number[]} players
 * @property {number} warmupSec
 * @property {number} measureSec
 * @property {number} workers
 * @property {boolean} profile    perf profile of ssas (after the measured runs, a separate run)
 * @property {number} repeat      runs per server and N (the median CPU is reported)
 */

/** @param {FanoutOptions} o */
async function fanout(o) {
  const clip = c.ensureClip('0.6M');
  console.log(chalk.bold.cyan('\nFan-out: one 0.6 Mbit/s publisher (ffmpeg -re -stream_loop -1 -c copy) to N RTMP players'));
  console.log(chalk.dim(`  ${c.machineLine()}`));
  console.log(
    chalk.dim(
      `  clip ${path.basename(clip.file)} ${(clip.bitsPerSec / 1e6).toFixed(2)} Mbit/s; warm-up ${o.warmupSec} s, window ${o.measureSec} s; ` +
        `load client: ${o.workers} process(es), byte counting + acks only; open files limit for servers/players ${c.effectiveNofile()}`,
    ),
  );
  console.log(
    chalk.yellow(
      `  note: ${os.cpus().length} cores shared by the server, the load client and ffmpeg; CPU is the server process alone (utime+stime, % of one core)`,
    ),
  );
  /** @type {any[]} */
  const results = [];
  for (const n of o.players) {
    /** @type {Record<string, any[]>} */
    const runs = {};
    // Repeats go round the servers, so that slow drifts of the machine hit every server alike.
    for (let rep = 0; rep < o.repeat; rep++) {
      for (const kind of o.servers) {
        const missing = c.peerMissing(kind);
        if (missing) {
          if (rep === 0) console.log(chalk.yellow(`  skipping ${kind}: ${missing}`));
          continue;
        }
        process.stderr.write(chalk.dim(`  ${kind} with ${n} players${o.repeat > 1 ? ` (run ${rep + 1}/${o.repeat})` : ''} ...`));
        const r = await runCase(kind, clip, n, o);
        (runs[kind] ??= []).push(r);
        process.stderr.write(chalk.dim(` ${fmt1(r.cpuPct)} % CPU, ${r.behind} behind, client ${fmt1(r.clientCpuPct)} %\n`));
      }
    }
    for (const kind of o.servers) if (runs[kind]) results.push(c.medianRun(runs[kind]));
  }
  printFanout(results);
  /** @type {any} */
  let profile = null;
  if (o.profile) profile = await profileSsas(clip, Math.max(...o.players), o);
  return {
    bench: 'fanout',
    clipMbit: clip.bitsPerSec / 1e6,
    warmupSec: o.warmupSec,
    measureSec: o.measureSec,
    workers: o.workers,
    repeat: o.repeat,
    results,
    profile,
  };
}

/** @param {number} n */
const fmt1 = (n) => c.fmt(n, 1);

/**
 * @param {string} kind @param {{file:string}} clip @param {number} n @param {FanoutOptions} o
 * @param {{perf?: string, nodeArgs?: string[]}} [extra]
 */
async function runCase(kind, clip, n, o, extra = {}) {
  const stage = await startStage(kind, clip, { nodeArgs: extra.nodeArgs });
  const load = new Load(o.workers);
  try {
    const ready = await load.add(stage.url, n, Math.max(30000, n * 30));
    if (ready.media === 0) {
      throw new Error(`no ${kind} player received media: ${ready.failures.join('; ') || 'timeout'}`);
    }
    await c.sleep(o.warmupSec * 1000);
    const m = await measure(stage, load, o.measureSec, { perf: extra.perf });
    const profile = extra.perf ? summarizeProfile(extra.perf) : null;
    return { server: kind, label: stage.server.label, requested: n, ...m, profile };
  } finally {
    await load.stop();
    await stage.stop();
  }
}

/** @param {any[]} results */
function printFanout(results) {
  const rows = results.map((r) => [
    r.label,
    String(r.requested),
    keptUpCell(r),
    r.runs > 1 ? `${fmt1(r.cpuPct)} (${fmt1(Math.min(...r.cpuPctRuns))}-${fmt1(Math.max(...r.cpuPctRuns))})` : fmt1(r.cpuPct),
    fmt1(r.userPct),
    fmt1(r.sysPct),
    c.fmt(r.rssMiB, 0),
    fmt1(r.deliveredMbit),
    c.fmt(r.minRatio, 3),
    clientCell(r),
  ]);
  c.printTable(
    ['server', 'players', 'kept up', 'CPU %', 'user %', 'sys %', 'RSS MiB', 'out Mbit/s', 'min recv/sent', 'client CPU %'],
    rows,
  );
  const ns = [...new Set(results.map((r) => r.requested))];
  const ratioRows = [];
  for (const n of ns) {
    const get = (/** @type {string} */ k) => results.find((r) => r.server === k && r.requested === n);
    const s = get('ssas');
    const g = get('nginx');
    const m = get('nms');
    ratioRows.push([
      String(n),
      s && g ? c.ratioCell(s.cpuPct, g.cpuPct) : 'n/a',
      s && m ? c.ratioCell(s.cpuPct, m.cpuPct) : 'n/a',
      m && g ? { text: `${(m.cpuPct / g.cpuPct).toFixed(2)}x`, color: chalk.dim } : 'n/a',
      s && g ? c.ratioCell(s.rssMiB, g.rssMiB) : 'n/a',
      s && m ? c.ratioCell(s.rssMiB, m.rssMiB) : 'n/a',
    ]);
  }
  console.log(chalk.bold('CPU and memory ratios (same run; lower is better for ssas)'));
  c.printTable(['players', 'CPU ssas/nginx', 'CPU ssas/nms', 'CPU nms/nginx', 'RSS ssas/nginx', 'RSS ssas/nms'], ratioRows);
  const top = Math.max(...ns);
  const s = results.find((r) => r.server === 'ssas' && r.requested === top);
  const g = results.find((r) => r.server === 'nginx' && r.requested === top);
  if (s && g) {
    const ok = s.cpuPct <= g.cpuPct && s.behind === 0;
    console.log(
      (ok ? chalk.green('goal met') : chalk.red('goal missed')) +
        chalk.dim(
          ` (at ${top} players ssas should use no more CPU than nginx-rtmp, every player keeping up): ssas ${fmt1(s.cpuPct)} % vs nginx-rtmp ${fmt1(g.cpuPct)} %`,
        ),
    );
  }
  for (const r of results) {
    if (r.failures?.length) console.log(chalk.yellow(`  ${r.label} @${r.requested}: ${r.failed} players failed: ${r.failures.join('; ')}`));
    if (r.probe && r.probe.video === 0) console.log(chalk.yellow(`  ${r.label} @${r.requested}: the probe player saw no video`));
  }
}

/** @param {any} r */
function keptUpCell(r) {
  const ok = r.players - r.behind;
  const text = `${ok}/${r.requested}`;
  return { text, color: ok === r.requested ? chalk.green : chalk.red };
}

/** @param {any} r */
function clientCell(r) {
  const text = fmt1(r.clientCpuPct) + (r.clientMaxWorkerPct > 90 ? ' (sat.)' : '');
  return { text, color: r.clientMaxWorkerPct > 90 ? chalk.yellow : undefined };
}

/**
 * A separate ssas run recorded with perf (JIT frames named through --perf-basic-prof) during the window.
 * @param {{file:string}} clip @param {number} n @param {FanoutOptions} o
 */
async function profileSsas(clip, n, o) {
  if (!havePerf()) {
    console.log(chalk.yellow('  --profile: perf is not installed'));
    return null;
  }
  const file = path.join(os.tmpdir(), `ssas-bench-perf-${process.pid}.data`);
  process.stderr.write(chalk.dim(`  profiling ssas with ${n} players (perf record -g, node --perf-prof) ...\n`));
  const r = await runCase('ssas', clip, n, o, { perf: file, nodeArgs: ['--perf-prof', '--interpreted-frames-native-stack'] });
  const p = r.profile;
  if (!p) return null;
  console.log(chalk.bold(`\nssas profile at ${n} players (${fmt1(r.cpuPct)} % CPU during the profiled window; shares of the ssas process's samples)`));
  console.log(chalk.bold('  by kind of code (self):'));
  for (const l of p.groups) console.log('    ' + l);
  console.log(chalk.bold('  inclusive (function and everything it calls):'));
  for (const l of p.inclusive) console.log('    ' + l);
  console.log(chalk.bold('  top functions (self):'));
  for (const l of p.self) console.log('    ' + l);
  console.log(chalk.dim(`  full report: perf report -i ${p.injected} --no-children   (JIT symbols in ~/.debug/jit)`));
  return { cpuPct: r.cpuPct, groups: p.groups, inclusive: p.inclusive, self: p.self };
}

/**
 * @typedef {object} ThroughputOptions
 * @property {string[]} servers
 * @property {number[]} steps
 * @property {number} warmupSec
 * @property {number} measureSec
 * @property {number} workers
 * @property {number} budgetSec  per server: no new step starts after this many seconds
 */

/** @param {ThroughputOptions} o */
async function throughput(o) {
  const clip = c.ensureClip('4M');
  console.log(chalk.bold.cyan('\nThroughput: one 4 Mbit/s publisher to a growing number of players (same server process, players added per step)'));
  console.log(chalk.dim(`  ${c.machineLine()}`));
  console.log(
    chalk.dim(
      `  clip ${path.basename(clip.file)} ${(clip.bitsPerSec / 1e6).toFixed(2)} Mbit/s; steps ${o.steps.join(', ')}; warm-up ${o.warmupSec} s, window ${o.measureSec} s per step`,
    ),
  );
  console.log(
    chalk.yellow(
      `  note: ${os.cpus().length} cores shared by the server and the load client; a step stops the series when a player falls behind or the server or the client saturates a core`,
    ),
  );
  /** @type {any[]} */
  const steps = [];
  /** @type {any[]} */
  const summary = [];
  for (const kind of o.servers) {
    const missing = c.peerMissing(kind);
    if (missing) {
      console.log(chalk.yellow(`  skipping ${kind}: ${missing}`));
      continue;
    }
    const began = Date.now();
    const stage = await startStage(kind, clip);
    const load = new Load(o.workers);
    let best = 0;
    /** @type {any} */
    let bestStep = null;
    let stopReason = 'all steps passed';
    try {
      let have = 0;
      for (const n of o.steps) {
        if (Date.now() - began > o.budgetSec * 1000) {
          stopReason = `time budget (${o.budgetSec} s per server) used up before ${n}`;
          break;
        }
        process.stderr.write(chalk.dim(`  ${kind} with ${n} players ...`));
        const t = Date.now();
        await load.add(stage.url, n - have, Math.max(30000, (n - have) * 30));
        process.stderr.write(chalk.dim(` (joined in ${((Date.now() - t) / 1000).toFixed(1)} s)`));
        have = n;
        await c.sleep(o.warmupSec * 1000);
        const m = await measure(stage, load, o.measureSec);
        const cpuSecPerGB = m.deliveredBytes > 0 ? m.cpuSec / (m.deliveredBytes / 1e9) : NaN;
        const step = { server: kind, label: stage.server.label, requested: n, cpuSecPerGB, ...m };
        steps.push(step);
        process.stderr.write(chalk.dim(` ${fmt1(m.cpuPct)} % CPU, ${m.behind} behind, ${fmt1(m.deliveredMbit)} Mbit/s out\n`));
        const kept = m.behind === 0 && m.failed === 0;
        if (kept) {
          best = n;
          bestStep = step;
        }
        if (!kept) {
          stopReason = `${m.behind} players behind at ${n}`;
          break;
        }
        if (m.cpuPct >= 97) {
          stopReason = `server CPU saturated at ${n}`;
          break;
        }
        if (m.clientMaxWorkerPct >= 95) {
          stopReason = `load client saturated at ${n} (the server may sustain more)`;
          break;
        }
      }
    } finally {
      await load.stop();
      await stage.stop();
    }
    summary.push({ server: kind, label: stage.server.label, maxPlayers: best, cpuSecPerGB: bestStep?.cpuSecPerGB ?? NaN, stopReason });
  }
  c.printTable(
    ['server', 'players', 'kept up', 'CPU %', 'user %', 'sys %', 'RSS MiB', 'out Mbit/s', 'CPU s/GB', 'client CPU %'],
    steps.map((r) => [
      r.label,
      String(r.requested),
      keptUpCell(r),
      fmt1(r.cpuPct),
      fmt1(r.userPct),
      fmt1(r.sysPct),
      c.fmt(r.rssMiB, 0),
      c.fmt(r.deliveredMbit, 0),
      c.fmt(r.cpuSecPerGB, 2),
      clientCell(r),
    ]),
  );
  // CPU per GB depends on N (more players, more batching per write): compare at the largest N every
  // server sustained, and show each server's own best too.
  const common = summary.length ? Math.min(...summary.map((s) => s.maxPlayers)) : 0;
  for (const s of summary) {
    const at = steps.find((r) => r.server === s.server && r.requested === common);
    s.commonPlayers = common;
    s.cpuSecPerGBAtCommon = at ? at.cpuSecPerGB : NaN;
  }
  const ssas = summary.find((s) => s.server === 'ssas');
  c.printTable(
    ['server', 'max players kept up', 'CPU s/GB there', `CPU s/GB at ${common}`, `ssas/server at ${common}`, 'stopped because'],
    summary.map((s) => [
      s.label,
      String(s.maxPlayers),
      c.fmt(s.cpuSecPerGB, 2),
      c.fmt(s.cpuSecPerGBAtCommon, 2),
      ssas && s.server !== 'ssas' ? c.ratioCell(ssas.cpuSecPerGBAtCommon, s.cpuSecPerGBAtCommon) : '',
      s.stopReason,
    ]),
    { right: [1, 2, 3, 4] },
  );
  return { bench: 'throughput', clipMbit: clip.bitsPerSec / 1e6, warmupSec: o.warmupSec, measureSec: o.measureSec, steps, summary };
}

module.exports = { fanout, throughput, Load };
