// @ts-check
'use strict';
/**
 * The script bridge (issue 3): what running Server-Side ActionScript in isolated-vm costs.
 *
 *   calls      Client.call round trips per second to `Client.prototype.echo = function (x) { return x; }`
 *              through the sandbox, against the same round trip answered in TypeScript by a Server without
 *              any sandbox; same clients (ssas's RtmpClient in rtmp-worker processes, each connection keeping
 *              K calls in flight), same load. Server CPU per 1000 calls.
 *   start      instance start: the first client of a fresh instance of an app with a generated 2,000-line
 *              ES3 main.asc, from connect to NetConnection.Connect.Success; and the runtime part alone
 *              (ScriptLogic.load: isolate + sandbox, then compile + run main.asc + onAppStart).
 *   memory     RSS and isolate heap per idle instance (N instances of one app) and per connected client.
 *   isolation  live relay latency in a script-less app while another instance spins in `for(;;){}` until its
 *              MaxTimeOut (5 s); a publisher sending a small audio message every 10 ms with its send time in
 *              the payload and a player in the same client process. nginx-rtmp's relay measured the same way.
 *
 * Both the sandbox server and the plain one run in server-host.js (ssas's createServer, as the CLI builds it,
 * or `new Server({ logicFactory })` with a TypeScript echo), which also reports isolate heaps and load times.
 */
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');
const { spawn, execFileSync } = require('node:child_process');
const chalk = require('chalk');
const c = require('./common');
const { legacyMainAsc } = require('./legacy-script');

const ECHO_ASC = [
  '// Client.call round trip: the smallest useful method.',
  'application.onConnect = function (client) { return true; };',
  'Client.prototype.echo = function (x) { return x; };',
  '',
].join('\n');

const SPIN_ASC = [
  'application.onConnect = function (client) { return true; };',
  'Client.prototype.spin = function () { for (;;) {} };',
  '',
].join('\n');

/** What each call sends and gets back: a small object, as RPCs of real apps carry. */
const ECHO_ARG = { id: 12345, text: 'hello from the bench', ok: true };

/**
 * @typedef {object} BridgeOptions
 * @property {boolean} quick
 * @property {number} workers        client processes for the call load
 * @property {number} clients        connections per worker
 * @property {number} outstanding    calls in flight per connection
 * @property {number} warmupSec
 * @property {number} measureSec
 * @property {number} repeat         call runs per server (round robin, median shown)
 * @property {number} instances      fresh instances timed for `start`
 * @property {number} idleInstances  instances loaded for the memory figure
 * @property {number} memClients     clients connected for the per-client memory figure
 * @property {number} spins          busy loops during the isolation test
 * @property {number} [spinners]     instances running a busy loop at the same time (default 1)
 * @property {number} baselineSec    isolation: baseline window
 * @property {string[]} servers      includes 'nginx' for the relay peer
 * @property {string[]} parts        calls, start, memory, isolation
 * @property {boolean} [profile]     calls: one more sandbox run recorded with perf (where the time goes)
 */

/** @param {BridgeOptions} o */
async function bridge(o) {
  console.log(chalk.bold.cyan('\nScript bridge: Server-Side ActionScript in isolated-vm'));
  console.log(chalk.dim(`  ${c.machineLine()}`));
  const apps = c.writeApps({
    echo: { 'main.asc': ECHO_ASC },
    legacy: { 'main.asc': legacyMainAsc(2000) },
    spin: { 'main.asc': SPIN_ASC, 'Application.xml': '<Application><JSEngine><MaxTimeOut>5</MaxTimeOut></JSEngine></Application>\n' },
    live: {},
  });
  /** @type {Record<string, any>} */
  const out = { bench: 'bridge' };
  try {
    if (o.parts.includes('calls')) out.calls = await callsPart(apps, o);
    if (o.parts.includes('start')) out.start = await startPart(apps, o);
    if (o.parts.includes('memory')) out.memory = await memoryPart(apps, o);
    if (o.parts.includes('isolation')) out.isolation = await isolationPart(apps, o);
  } finally {
    fs.rmSync(apps, { recursive: true, force: true });
  }
  return out;
}

// ----- (a) call round trips ---------------------------------------------------------------------------------

/** @param {string} apps @param {BridgeOptions} o */
async function callsPart(apps, o) {
  console.log(
    chalk.bold(
      `\n(a) Client.call round trips: echo(x) with a small object, ${o.workers} client process(es) x ${o.clients} connections x ${o.outstanding} calls in flight`,
    ),
  );
  console.log(
    chalk.dim(
      `  warm-up ${o.warmupSec} s, window ${o.measureSec} s${o.repeat > 1 ? `, ${o.repeat} runs per server (median)` : ''}; CPU = the server process (all threads: ` +
        `the event loop's "main thread", the isolate's thread, V8's GC helpers)`,
    ),
  );
  /** @type {Record<string, any[]>} */
  const runs = { script: [], plain: [] };
  for (let rep = 0; rep < o.repeat; rep++) {
    for (const mode of /** @type {const} */ (['script', 'plain'])) {
      process.stderr.write(chalk.dim(`  ${mode === 'script' ? 'sandbox' : 'plain TypeScript'}${o.repeat > 1 ? ` (run ${rep + 1}/${o.repeat})` : ''} ...`));
      const r = await callRun(mode, apps, o);
      runs[mode].push(r);
      process.stderr.write(chalk.dim(` ${Math.round(r.callsPerSec)} calls/s, ${c.fmt(r.cpuPct)} % CPU, clients ${c.fmt(r.clientCpuPct)} %\n`));
    }
  }
  const med = (/** @type {any[]} */ rs) => [...rs].sort((a, b) => a.callsPerSec - b.callsPerSec)[Math.floor((rs.length - 1) / 2)];
  const s = med(runs.script);
  const p = med(runs.plain);
  const row = (/** @type {any} */ r, /** @type {string} */ label, /** @type {any[]} */ all) => [
    label,
    all.length > 1 ? `${Math.round(r.callsPerSec)} (${Math.round(Math.min(...all.map((x) => x.callsPerSec)))}-${Math.round(Math.max(...all.map((x) => x.callsPerSec)))})` : String(Math.round(r.callsPerSec)),
    c.fmt(r.cpuPct),
    c.fmt(r.mainThreadPct),
    c.fmt(r.cpuMsPer1000, 1),
    c.fmt(r.rssMiB, 0),
    r.batch ? c.fmt(r.batch, 1) : '-',
    c.fmt(r.clientCpuPct) + (r.clientMaxPct > 90 ? ' (sat.)' : ''),
    String(r.errors),
  ];
  c.printTable(
    ['server', 'calls/s', 'CPU %', 'main thread %', 'CPU ms / 1000 calls', 'RSS MiB', 'events / dispatch', 'client CPU %', 'errors'],
    [row(s, 'ssas, echo in main.asc (sandbox)', runs.script), row(p, 'plain TypeScript echo (no sandbox)', runs.plain)],
  );
  // The machine's speed drifts by +-30 % over minutes (a shared VM): each round runs the sandbox and the plain
  // server back to back, so the ratio within a round compares like with like; the goal is judged on the
  // median of those paired ratios (with one run, the same as the ratio of the two runs).
  const paired = runs.script.map((r, i) => r.callsPerSec / runs.plain[i].callsPerSec).sort((a, b) => a - b);
  const ratio = paired[Math.floor((paired.length - 1) / 2)];
  const ratioOfMedians = s.callsPerSec / p.callsPerSec;
  const cpuRatio = s.cpuMsPer1000 / p.cpuMsPer1000;
  c.printTable(
    ['', 'sandbox / plain'],
    [
      [
        `calls/s (higher is better)${paired.length > 1 ? `: median of ${paired.length} paired rounds` : ''}`,
        { text: `${ratio.toFixed(2)}x`, color: ratio >= 0.75 ? chalk.green : chalk.red },
      ],
      ...(paired.length > 1
        ? [
            ['  each round', { text: paired.map((x) => x.toFixed(2)).join(' '), color: chalk.dim }],
            ['  median calls/s / median calls/s', { text: `${ratioOfMedians.toFixed(2)}x`, color: chalk.dim }],
          ]
        : []),
      ['server CPU per call (lower is better)', { text: `${cpuRatio.toFixed(2)}x`, color: chalk.dim }],
    ],
  );
  console.log(
    (ratio >= 0.75 ? chalk.green('goal met') : chalk.red('goal missed')) +
      chalk.dim(` (the sandbox may cost at most 25 %: calls/s at least 0.75x the plain server's): ${ratio.toFixed(2)}x`),
  );
  const sat = [...runs.script, ...runs.plain].some((r) => r.serverSaturated === false && r.clientMaxPct > 90);
  if (sat) console.log(chalk.yellow('  a client process saturated its core while the server did not: the calls/s compare the clients more than the servers'));
  console.log(
    chalk.dim(
      `  threads (% of a core): sandbox: event loop ${c.fmt(s.mainThreadPct)}, busiest other (the isolate's) ${c.fmt(s.busiestOtherThreadPct)}, the rest ${c.fmt(s.restThreadsPct)}; ` +
        `plain: event loop ${c.fmt(p.mainThreadPct)}, others ${c.fmt(p.busiestOtherThreadPct + p.restThreadsPct)}. ` +
        `Event loop µs per call: sandbox ${c.fmt(s.mainUsPerCall, 2)}, plain ${c.fmt(p.mainUsPerCall, 2)}`,
    ),
  );
  /** @type {any} */
  let profile = null;
  if (o.profile) profile = await profileCalls(apps, o, p);
  return { workers: o.workers, clients: o.clients, outstanding: o.outstanding, warmupSec: o.warmupSec, measureSec: o.measureSec, script: runs.script, plain: runs.plain, ratio, pairedRatios: paired, ratioOfMedians, cpuRatio, profile };
}

/**
 * @param {'script'|'plain'} mode @param {string} apps @param {BridgeOptions} o
 * @param {{perf?: string}} [extra] record the server with perf during the window into this file
 */
async function callRun(mode, apps, o, extra = {}) {
  const host = await c.startHost(mode, apps, extra.perf ? { nodeArgs: ['--perf-basic-prof'] } : {});
  const workers = Array.from({ length: o.workers }, () => new c.RtmpWorker());
  try {
    const url = `rtmp://127.0.0.1:${host.port}/echo`;
    await Promise.all(workers.map((w) => w.req('calls', { url, clients: o.clients, outstanding: o.outstanding, method: 'echo', arg: ECHO_ARG })));
    await c.sleep(o.warmupSec * 1000);
    const count = async () => (await Promise.all(workers.map((w) => w.req('count')))).reduce((a, r) => ({ calls: a.calls + r.calls, errors: a.errors + r.errors }), { calls: 0, errors: 0 });
    const k0 = (await host.req('stats')).counters;
    const n0 = await count();
    /** @type {import('node:child_process').ChildProcess | null} */
    const perf = extra.perf
      ? c.track(spawn('perf', ['record', '-F', '999', '-g', '-p', String(host.pid), '-o', extra.perf, '--', 'sleep', String(o.measureSec)], { stdio: 'ignore' }))
      : null;
    const s0 = c.readCpu(host.pid);
    const m0 = c.readCpu(host.pid, host.pid);
    const th0 = c.readThreadsCpu(host.pid);
    const w0 = workers.map((w) => c.readCpu(w.pid));
    const t0 = performance.now();
    await c.sleep(o.measureSec * 1000);
    const n1 = await count();
    const s1 = c.readCpu(host.pid);
    const m1 = c.readCpu(host.pid, host.pid);
    const th1 = c.readThreadsCpu(host.pid);
    const w1 = workers.map((w) => c.readCpu(w.pid));
    const sec = (performance.now() - t0) / 1000;
    if (perf) await new Promise((r) => (perf.exitCode !== null ? r(undefined) : perf.once('exit', r)));
    // Threads other than the event loop's: the busiest is the isolate's (script mode), the rest V8's helpers.
    const others = Object.keys(th1)
      .filter((t) => Number(t) !== host.pid)
      .map((t) => (100 * (th1[t] - (th0[t] ?? 0))) / sec)
      .sort((a, b) => b - a);
    const st = await host.req('stats');
    const calls = n1.calls - n0.calls;
    const cpuSec = s1.user + s1.sys - s0.user - s0.sys;
    const clientPcts = workers.map((w, i) => c.cpuPct(w0[i], w1[i], sec));
    const events = st.counters.events - k0.events;
    const batches = st.counters.batches - k0.batches;
    const cpu = (100 * cpuSec) / sec;
    return {
      mode,
      callsPerSec: calls / sec,
      cpuPct: cpu,
      mainThreadPct: c.cpuPct(m0, m1, sec),
      busiestOtherThreadPct: others[0] ?? 0,
      restThreadsPct: others.slice(1).reduce((a, b) => a + b, 0),
      mainUsPerCall: calls > 0 ? ((m1.user + m1.sys - m0.user - m0.sys) * 1e6) / calls : NaN,
      pid: host.pid,
      userPct: (100 * (s1.user - s0.user)) / sec,
      sysPct: (100 * (s1.sys - s0.sys)) / sec,
      cpuMsPer1000: calls > 0 ? (cpuSec * 1000 * 1000) / calls : NaN,
      rssMiB: st.rss / 1048576,
      batch: batches > 0 ? events / batches : 0,
      clientCpuPct: clientPcts.reduce((a, b) => a + b, 0),
      clientMaxPct: Math.max(...clientPcts),
      serverSaturated: cpu > 90,
      errors: n1.errors - n0.errors,
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await host.stop();
  }
}

/**
 * One more sandbox run under `perf record -g` (JIT frames named by --perf-basic-prof): the bridge's steps on
 * the event loop's thread in µs per call (share of the thread's samples x its CPU time per call), beside
 * the plain server's whole event loop cost per call and the other threads of the sandbox server. A row
 * counts the samples whose stack (perf script) holds a matching frame; indented rows are inside the row above;
 * "self" rows count leaf frames only.
 * @param {string} apps @param {BridgeOptions} o @param {any} plain the plain server's median run
 */
async function profileCalls(apps, o, plain) {
  try {
    execFileSync('perf', ['--version'], { stdio: 'ignore' });
  } catch {
    console.log(chalk.yellow('  --profile: perf is not installed'));
    return null;
  }
  const rows = [
    ['in', /decodeCommandHead .*command/, 'decodeCommandHead: name and transaction id (the arguments stay bytes)'],
    ['in', /rawCall .*runtime|onRawCall .*script-logic/, 'ScriptLogic.onRawCall + ScriptRuntime.rawCall: the call packed as a record into the runtime\'s buffer'],
    ['in', /#pump .*runtime/, 'ScriptRuntime #pump (end of the I/O phase, or when ops arrive): the batch cloned, the async apply started'],
    ['in', /ExternalCopySerialized::ExternalCopySerialized/, '  of which serializing the event batch (structured clone)'],
    ['in', /Phase2RunnerIgnored::Run|Phase3Success::Run/, 'a finished dispatch\'s ops handed to Node: copied in, #processOps, each call answered'],
    ['in', /ExternalCopy::CopyIntoCheckHeap|ExternalCopySerialized::CopyInto/, '  of which copying the ops into Node (structured clone)'],
    ['in', /#onResults .*runtime/, '  of which #onResults: the encoded results handed to their calls'],
    ['in', /encodedResultMessage .*command|sendResult .*session/, '  of which framing and queueing each _result (the plain server encodes it too)'],
    ['in', /^futex_wake$/, 'futex_wake: waking the isolate thread'],
    ['self', /Serializer|Deserializer/, 'self: V8 ValueSerializer / ValueDeserializer (every structured clone)'],
    ['self', /Scaveng|MarkCompact|Heap::|Sweeper|Marking/, 'self: garbage collection on the event loop thread'],
    ['self', /dist\/script\/marshal/, 'self: ssas marshal.js (general path only: not on the fast path)'],
  ];
  const file = path.join(os.tmpdir(), `ssas-bench-bridge-${process.pid}.data`);
  process.stderr.write(chalk.dim('  profiling the sandbox server with perf ...\n'));
  const r = await callRun('script', apps, o, { perf: file });
  // Every sample's stack of the event loop thread (leaf first), from perf script.
  /** @type {string[][]} */
  const stacks = [];
  try {
    const text = execFileSync('perf', ['script', '-i', file, '--tid', String(r.pid), '-F', 'ip,sym'], { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1024 * 1024 * 1024 }).toString();
    /** @type {string[]} */
    let cur = [];
    for (const line of text.split('\n')) {
      const l = line.trim();
      if (!l) {
        if (cur.length) stacks.push(cur);
        cur = [];
        continue;
      }
      const sp = l.indexOf(' ');
      cur.push(sp > 0 ? l.slice(sp + 1) : l);
    }
    if (cur.length) stacks.push(cur);
  } catch (e) {
    console.log(chalk.yellow(`  perf script failed: ${(/** @type {Error} */ (e)).message}`));
    return null;
  }
  const total = stacks.length || 1;
  const perCall = (/** @type {number} */ pctOfCore) => (pctOfCore * 1e4) / r.callsPerSec;
  /** @type {[string, number][]} */
  const out = [
    ['sandbox server, event loop thread, all of it', r.mainUsPerCall],
    ['plain server, event loop thread, all of it (what a call costs without a sandbox)', plain.mainUsPerCall],
  ];
  for (const [how, re, label] of rows) {
    const rx = /** @type {RegExp} */ (re);
    const n = stacks.filter((st) => (how === 'self' ? rx.test(st[0]) : st.some((f) => rx.test(f)))).length;
    out.push([/** @type {string} */ (label), (n / total) * r.mainUsPerCall]);
  }
  out.push(['busiest other thread (the isolate\'s: batch copied in, dispatch and echo, ops copied out)', perCall(r.busiestOtherThreadPct)]);
  out.push(["all other threads (V8's GC helpers; isolated-vm may run the isolate on more than one)", perCall(r.restThreadsPct)]);
  console.log(chalk.bold(`\nWhere the sandbox's time goes (perf, one more run: ${Math.round(r.callsPerSec)} calls/s, ${c.fmt(r.batch, 1)} events per dispatch)`));
  c.printTable(['sandbox server, µs of CPU per call', 'µs'], out.map(([l, v]) => [l, c.fmt(v, 2)]), { right: [1] });
  console.log(chalk.dim(`  full report: perf report -i ${file} --tid ${r.pid} --no-children`));
  return { callsPerSec: r.callsPerSec, rows: Object.fromEntries(out) };
}

// ----- (b) instance start -----------------------------------------------------------------------------------

/** @param {string} apps @param {BridgeOptions} o */
async function startPart(apps, o) {
  const lines = fs.readFileSync(path.join(apps, 'legacy', 'main.asc'), 'utf8').split('\n').length - 1;
  console.log(chalk.bold(`\n(b) Instance start: ${o.instances} fresh instances of an app with a generated ${lines}-line ES3 main.asc (onAppStart builds 250 objects)`));
  const host = await c.startHost('script', apps);
  const w = new c.RtmpWorker();
  try {
    // One instance of another app first: the server's own code is loaded and compiled before timing starts.
    await w.req('connectEach', { urls: [`rtmp://127.0.0.1:${host.port}/echo/warm`], keep: false });
    await host.req('loads');
    const urls = Array.from({ length: o.instances }, (_, i) => `rtmp://127.0.0.1:${host.port}/legacy/start${i}`);
    const r = await w.req('connectEach', { urls, keep: false });
    const loads = (await host.req('loads')).loads;
    const connect = c.summarize(r.ms);
    const load = c.summarize(loads.map((/** @type {any} */ l) => l.ms));
    const create = c.summarize(loads.map((/** @type {any} */ l) => l.createMs));
    const script = c.summarize(loads.map((/** @type {any} */ l) => l.ms - l.createMs));
    c.printTable(
      ['ms', 'median', 'p90', 'max', 'n'],
      [
        ['connect -> Connect.Success (first client of a fresh instance)', c.fmt(connect.p50), c.fmt(connect.p90), c.fmt(connect.max), String(connect.n)],
        ['  of which ScriptLogic.load (runtime part)', c.fmt(load.p50), c.fmt(load.p90), c.fmt(load.max), String(load.n)],
        ['    isolate + context + sandbox facades', c.fmt(create.p50), c.fmt(create.p90), c.fmt(create.max), String(create.n)],
        ['    compile + run main.asc + onAppStart', c.fmt(script.p50), c.fmt(script.p90), c.fmt(script.max), String(script.n)],
      ],
    );
    console.log(chalk.dim('  no peer: nginx-rtmp and node-media-server run no application scripts'));
    return { lines, connectMs: connect, loadMs: load, createMs: create, scriptMs: script };
  } finally {
    await w.stop();
    await host.stop();
  }
}

// ----- (c) memory -------------------------------------------------------------------------------------------

/** @param {string} apps @param {BridgeOptions} o */
async function memoryPart(apps, o) {
  console.log(chalk.bold(`\n(c) Memory: ${o.idleInstances} idle instances of one app; ${o.memClients} clients on one instance (after GC, server process)`));
  /** @type {any[]} */
  const rows = [];
  /** @type {any[]} */
  const clientRows = [];
  const results = {};
  for (const app of ['echo', 'legacy']) {
    const host = await c.startHost('script', apps);
    const w = new c.RtmpWorker();
    try {
      await w.req('connectEach', { urls: [`rtmp://127.0.0.1:${host.port}/${app}/warm`], keep: false });
      await c.sleep(300);
      const a = await host.req('stats', { gc: true });
      const urls = Array.from({ length: o.idleInstances }, (_, i) => `rtmp://127.0.0.1:${host.port}/${app}/idle${i}`);
      await w.req('connectEach', { urls, keep: false });
      await c.sleep(500);
      const b = await host.req('stats', { gc: true });
      const n = b.isolates - a.isolates;
      /** @type {any} */
      const r = { instances: n, rssMiB: (b.rss - a.rss) / 1048576 / n, isolateHeapMiB: (b.isolateHeap - a.isolateHeap) / 1048576 / n, nodeHeapMiB: (b.heapUsed - a.heapUsed) / 1048576 / n };
      /** @type {any} */ (results)[app] = { idle: r };
      rows.push([`idle instance, ${app === 'echo' ? '3-line' : '2,000-line'} main.asc`, c.fmt(r.rssMiB, 2) + ' MiB', c.fmt(r.isolateHeapMiB, 2) + ' MiB', c.fmt(r.nodeHeapMiB, 3) + ' MiB', String(n)]);
      if (app === 'echo') {
        // Clients on one instance: the session, its sandbox Client object, buffers.
        await w.req('connectEach', { urls: [`rtmp://127.0.0.1:${host.port}/echo/busy`], keep: true });
        await c.sleep(300);
        const c0 = await host.req('stats', { gc: true });
        await w.req('connectMany', { url: `rtmp://127.0.0.1:${host.port}/echo/busy`, n: o.memClients, keep: true });
        await c.sleep(500);
        const c1 = await host.req('stats', { gc: true });
        const m = c1.clients - c0.clients;
        const rc = { clients: m, rssKiB: (c1.rss - c0.rss) / 1024 / m, isolateHeapKiB: (c1.isolateHeap - c0.isolateHeap) / 1024 / m, nodeHeapKiB: (c1.heapUsed - c0.heapUsed) / 1024 / m };
        /** @type {any} */ (results).client = rc;
        clientRows.push(['connected client (echo app)', c.fmt(rc.rssKiB, 1) + ' KiB', c.fmt(rc.isolateHeapKiB, 1) + ' KiB', c.fmt(rc.nodeHeapKiB, 1) + ' KiB', String(m)]);
      }
    } finally {
      await w.stop();
      await host.stop();
    }
  }
  c.printTable(['per', 'RSS', 'isolate heap', 'Node heap', 'n'], [...rows, ...clientRows]);
  console.log(chalk.dim('  RSS covers the isolate threads and heaps; "isolate heap" is V8\'s used heap + external memory of the isolates'));
  return results;
}

// ----- (d) isolation ----------------------------------------------------------------------------------------

/**
 * Latency samples of the worker's player between two wall-clock instants.
 * @param {number[]} flat [wallMs, latencyMs, ...] @param {number} from @param {number} to
 */
function windowOf(flat, from, to) {
  const xs = [];
  for (let i = 0; i < flat.length; i += 2) if (flat[i] >= from && flat[i] < to) xs.push(flat[i + 1]);
  return xs;
}

const wall = () => performance.timeOrigin + performance.now();

/** @param {string} apps @param {BridgeOptions} o */
async function isolationPart(apps, o) {
  const spinners = Math.max(1, o.spinners ?? 1);
  console.log(
    chalk.bold(
      `\n(d) Isolation: relay latency in app "live" (no script) while ${spinners === 1 ? 'instance "spin" runs' : `${spinners} instances of "spin" run`} for(;;){} until MaxTimeOut 5 s (${o.spins} time(s))`,
    ),
  );
  console.log(chalk.dim('  a publisher sends a 32-byte audio message every 10 ms with its send time; a player in the same process (same clock) measures arrival - send'));
  /** @type {any[]} */
  const rows = [];
  /** @type {Record<string, any>} */
  const res = {};
  // ssas
  {
    const host = await c.startHost('script', apps);
    const lw = new c.RtmpWorker();
    const ctls = Array.from({ length: spinners }, () => new c.RtmpWorker());
    try {
      const base = `rtmp://127.0.0.1:${host.port}`;
      await lw.req('latency', { pub: { url: `${base}/live`, stream: 'lat' }, players: [{ url: `${base}/live`, stream: 'lat' }], intervalMs: 10, bytes: 32 });
      await c.sleep(1000);
      const b0 = wall();
      await c.sleep(o.baselineSec * 1000);
      const b1 = wall();
      /** @type {[number, number][]} */
      const busy = [];
      const spins = [];
      for (let k = 0; k < o.spins; k++) {
        const s0 = wall();
        const cpu0 = c.readCpu(host.pid);
        const all = await Promise.all(ctls.map((ctl, j) => ctl.req('callOnce', { url: j === 0 ? `${base}/spin` : `${base}/spin/s${j}`, method: 'spin', args: [] })));
        const r = all.reduce((a, b) => (b.ms > a.ms ? b : a));
        const s1 = wall();
        const cpu1 = c.readCpu(host.pid);
        busy.push([s0, s1]);
        spins.push({ ms: r.ms, ok: r.ok, code: r.info?.code ?? String(r.info), serverCpuPct: c.cpuPct(cpu0, cpu1, (s1 - s0) / 1000) });
        process.stderr.write(chalk.dim(`  spin ${k + 1}: answered after ${(r.ms / 1000).toFixed(2)} s with ${r.ok ? 'a result' : r.info?.code ?? r.info}\n`));
        await c.sleep(1000);
      }
      const samples = (await lw.req('samples')).players[0];
      const baseline = c.summarize(windowOf(samples, b0, b1));
      const during = c.summarize(busy.flatMap(([a, b]) => windowOf(samples, a, b)));
      res.ssas = { baseline, busy: during, spins };
      rows.push(['ssas', 'baseline', ...latCells(baseline)]);
      rows.push(['ssas', `during ${o.spins} busy loop(s)${spinners > 1 ? ` x${spinners}` : ''}`, ...latCells(during)]);
    } finally {
      await lw.stop();
      for (const ctl of ctls) await ctl.stop();
      await host.stop();
    }
  }
  if (o.servers.includes('nginx')) {
    const missing = c.peerMissing('nginx');
    if (missing) console.log(chalk.yellow(`  skipping nginx-rtmp: ${missing}`));
    else {
      const srv = await c.startServer('nginx');
      const lw = new c.RtmpWorker();
      try {
        const base = `rtmp://127.0.0.1:${srv.port}`;
        await lw.req('latency', { pub: { url: `${base}/live`, stream: 'lat' }, players: [{ url: `${base}/live`, stream: 'lat' }], intervalMs: 10, bytes: 32 });
        await c.sleep(1000);
        const b0 = wall();
        await c.sleep(o.baselineSec * 1000);
        const b1 = wall();
        const samples = (await lw.req('samples')).players[0];
        const baseline = c.summarize(windowOf(samples, b0, b1));
        res.nginx = { baseline };
        rows.push(['nginx-rtmp', 'baseline (no scripts)', ...latCells(baseline)]);
      } finally {
        await lw.stop();
        await srv.stop();
        fs.rmSync(srv.dir, { recursive: true, force: true });
      }
    }
  }
  c.printTable(['server', 'window', 'messages', 'p50 ms', 'p99 ms', 'max ms'], rows);
  const s = res.ssas;
  if (s) {
    const ratioRows = [['ssas busy p99 / ssas baseline p99', c.ratioCell(s.busy.p99, s.baseline.p99)]];
    if (res.nginx) {
      ratioRows.push(['ssas baseline p99 / nginx-rtmp p99', c.ratioCell(s.baseline.p99, res.nginx.baseline.p99)]);
      ratioRows.push(['ssas busy p99 / nginx-rtmp p99', c.ratioCell(s.busy.p99, res.nginx.baseline.p99)]);
    }
    c.printTable(['latency ratio', 'value'], ratioRows);
    const ok = s.busy.p99 <= 5 && s.spins.every((/** @type {any} */ x) => !x.ok);
    console.log(
      (ok ? chalk.green('goal met') : chalk.red('goal missed')) +
        chalk.dim(` (relay p99 within 5 ms while another instance spins): p99 ${c.fmt(s.busy.p99, 2)} ms, max ${c.fmt(s.busy.max, 2)} ms over ${s.busy.n} messages`),
    );
    console.log(chalk.dim(`  server CPU during the loops: ${s.spins.map((/** @type {any} */ x) => c.fmt(x.serverCpuPct, 0) + ' %').join(', ')} (each spinning isolate thread takes a core; ${os.cpus().length} cores)`));
  }
  return res;
}

/** @param {{n:number, p50:number, p99:number, max:number}} s */
function latCells(s) {
  return [String(s.n), c.fmt(s.p50, 2), c.fmt(s.p99, 2), c.fmt(s.max, 2)];
}

module.exports = { bridge };
