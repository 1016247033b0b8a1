// @ts-check
'use strict';
/**
 * The long-running RTMFP fuzzer: the generators and oracles of scripts/fuzz/rtmfp-lib.js (the same ones
 * test/rtmfp/fuzz.test.ts runs in `npm test`) against the compiled dist/, for minutes or millions of
 * inputs, in worker threads. Each worker takes every target in turn for a short slice with a seed derived
 * from the run's seed; a watchdog in the main thread sees a worker that stops making progress (a hang)
 * and keeps the input it was on. Every failing input is written as hex under
 * test/fixtures/rtmfp-crashers/ (the jest suite replays that folder), and the exit code is 1.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { Worker, isMainThread, workerData, parentPort } = require('node:worker_threads');

const ROOT = path.join(__dirname, '..', '..');
/** The compiled code to fuzz: dist/, or --dist DIR (a build of its own, e.g. tsc --outDir DIR). */
let DIST = path.join(ROOT, 'dist');
let CRASHERS = path.join(ROOT, 'test', 'fixtures', 'rtmfp-crashers');
const lib0 = require('./rtmfp-lib.js');

const HELP = `usage: npm run fuzz -- rtmfp [options]

  --minutes N      run for N minutes (default 1 when --inputs is not given)
  --inputs N       stop after N inputs in all (1e6, 2m and 500k are understood)
  --seed S         the run's seed (default: from the clock; printed, so a run can be repeated)
  --workers N      worker threads (default: the number of CPUs, at most 4)
  --only A,B       targets or families (wire, packet, chunks, handshake, crypto, cipher, tc, flows, session, groups, endpoint)
  --hang-ms MS     a worker without progress for MS ms is a hang (default 10000)
  --slice-seed S   with --only TARGET: run the one slice of that seed in this thread (to reproduce a failure)
  --replay FILE... replay crasher files (hex written by a previous run) and report what still fails
  --crashers DIR   where failing inputs are written (default test/fixtures/rtmfp-crashers, which npm test replays)
  --dist DIR       the compiled code to fuzz (default dist/; e.g. npx tsc -p tsconfig.json --outDir DIR)
  --list           list the targets
`;

/** The work of one batch of a bytes target; a slice runs batches until SLICE_MS have passed. */
const SLICE_PLAN = lib0.SLICE_PLAN;
const SLICE_MS = 300;
/** Datagrams per round of a scenario target (a round opens its own endpoints and sessions). */
const ROUND_INPUTS = 300;

function loadModules() {
  const need = ['errors', 'rtmfp/wire', 'rtmfp/packet', 'rtmfp/chunks', 'rtmfp/handshake', 'rtmfp/crypto', 'rtmfp/tc', 'rtmfp/recv-flow', 'rtmfp/session', 'rtmfp/endpoint'];
  need.push('rtmfp/groupspec', 'rtmfp/group-messages', 'rtmfp/groups', 'rtmfp/group-publisher');
  for (const n of need) {
    if (!fs.existsSync(path.join(DIST, `${n}.js`))) throw new Error(`${path.relative(ROOT, DIST) || DIST}/${n}.js is missing: run "npm run build" first`);
  }
  const r = (n) => require(path.join(DIST, n));
  return {
    errors: r('errors'),
    wire: r('rtmfp/wire'),
    packet: r('rtmfp/packet'),
    chunks: r('rtmfp/chunks'),
    handshake: r('rtmfp/handshake'),
    crypto: r('rtmfp/crypto'),
    tc: r('rtmfp/tc'),
    recvFlow: r('rtmfp/recv-flow'),
    session: r('rtmfp/session'),
    endpoint: r('rtmfp/endpoint'),
    groupspec: r('rtmfp/groupspec'),
    groupMessages: r('rtmfp/group-messages'),
    groups: r('rtmfp/groups'),
    groupPublisher: r('rtmfp/group-publisher'),
  };
}

/** Names of src/rtmfp files newer than their compiled version (the run would fuzz stale code). */
function staleDist() {
  const out = [];
  const dir = path.join(ROOT, 'src', 'rtmfp');
  for (const f of fs.readdirSync(dir)) {
    if (!f.endsWith('.ts')) continue;
    const js = path.join(DIST, 'rtmfp', f.replace(/\.ts$/, '.js'));
    if (!fs.existsSync(js) || fs.statSync(js).mtimeMs < fs.statSync(path.join(dir, f)).mtimeMs) out.push(f);
  }
  return out;
}

function parseArgs(argv) {
  /** @type {Record<string, any>} */
  const o = { replay: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const key = a.startsWith('--') ? (eq > 0 ? a.slice(2, eq) : a.slice(2)) : '';
    const val = () => (eq > 0 ? a.slice(eq + 1) : argv[++i]);
    if (key === 'help' || a === '-h') o.help = true;
    else if (key === 'list') o.list = true;
    else if (key === 'replay') {
      o.replay.push(val());
      while (i + 1 < argv.length && !argv[i + 1].startsWith('--')) o.replay.push(argv[++i]);
    } else if (['minutes', 'inputs', 'seed', 'workers', 'only', 'hang-ms', 'slice-seed', 'dist', 'crashers'].includes(key)) o[key] = val();
    else throw new Error(`unknown option ${a}\n${HELP}`);
  }
  return o;
}

function count(s) {
  if (s === undefined) return undefined;
  const m = /^([\d.]+)\s*([kmg]?)$/i.exec(String(s).replace(/_/g, ''));
  const n = m ? Number(m[1]) * { '': 1, k: 1e3, m: 1e6, g: 1e9 }[m[2].toLowerCase()] : Number(s);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`not a positive number: ${s}`);
  return Math.round(n);
}

function selectTargets(targets, only) {
  if (!only) return targets;
  const want = String(only).split(',').map((x) => x.trim());
  const sel = targets.filter((t) => want.includes(t.name) || want.includes(t.family));
  const unknown = want.filter((w) => !targets.some((t) => t.name === w || t.family === w));
  if (unknown.length) throw new Error(`unknown target or family: ${unknown.join(', ')}`);
  return sel;
}

// ---------------------------------------------------------------------------------------------------------
// Worker

const SLOT_BYTES = 1 << 20;

function workerMain() {
  const { seed, names, control, slot, index, dist } = workerData;
  DIST = dist;
  const meta = new Int32Array(control); // [heartbeat, stop, input length, target index, batch seed]
  const bytes = new Uint8Array(slot);
  const m = loadModules();
  const lib = lib0.createTargets(m);
  const targets = names.map((n) => lib.byName[n]);
  /** @type {Record<string, {inputs: number, failures: number, busyMs: number, maxMs: number}>} */
  const stats = {};
  for (const t of targets) stats[t.name] = { inputs: 0, failures: 0, busyMs: 0, maxMs: 0 };
  let current = 0;
  const beforeInput = (input) => {
    Atomics.add(meta, 0, 1);
    const n = Math.min(input.length, SLOT_BYTES);
    bytes.set(input.subarray(0, n));
    meta[2] = n;
    meta[3] = current;
  };
  // A frequent failure would flood the main thread: a few inputs per distinct message are enough (the
  // stats still count them all).
  const posted = new Map();
  const onFailure = (f) => {
    const key = `${f.target}: ${f.message.split('\n')[0].replace(/0x[0-9a-f]+|\d+/gi, 'N').slice(0, 160)}`;
    const n = posted.get(key) ?? 0;
    posted.set(key, n + 1);
    if (n < 5) parentPort?.postMessage({ type: 'failure', failure: { ...f, input: Buffer.from(f.input).toString('hex') } });
  };
  let lastReport = performance.now();
  for (let slice = 0; Atomics.load(meta, 1) === 0; slice++) {
    const ti = slice % targets.length;
    const t = targets[ti];
    current = names.indexOf(t.name);
    const t0 = performance.now();
    const deadline = t0 + SLICE_MS;
    const stop = () => performance.now() > deadline || Atomics.load(meta, 1) !== 0;
    const st = stats[t.name];
    // Batches (or rounds) of the target, each with its own seed, until the slice is over: every target
    // gets the same time whatever its speed. A failure names its batch seed (--slice-seed).
    for (let b = 0; b === 0 || !stop(); b++) {
      const s = lib0.mixSeed(lib0.mixSeed(seed, slice), b);
      meta[4] = s | 0;
      const r = t.kind === 'bytes' ? lib0.runBatch(lib, t, s, SLICE_PLAN, { beforeInput, onFailure, stop }) : lib0.runRound(t, s, ROUND_INPUTS, { beforeInput, onFailure });
      st.inputs += r.inputs;
      st.failures += r.failures;
      st.maxMs = Math.max(st.maxMs, r.maxMs);
    }
    st.busyMs += performance.now() - t0;
    if (performance.now() - lastReport > 250) {
      parentPort?.postMessage({ type: 'stats', index, stats });
      lastReport = performance.now();
    }
  }
  parentPort?.postMessage({ type: 'stats', index, stats, final: true });
}

// ---------------------------------------------------------------------------------------------------------
// Main thread

function fmtRate(n) {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(0)}k` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : `${Math.round(n)}`;
}
function fmtTime(ms) {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

async function main(argv) {
  const chalk = require('chalk');
  const o = parseArgs(argv);
  if (o.dist !== undefined) DIST = path.resolve(String(o.dist));
  if (o.crashers !== undefined) CRASHERS = path.resolve(String(o.crashers));
  if (o.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const m = loadModules();
  const lib = lib0.createTargets(m);
  if (o.list) {
    for (const t of lib.targets) console.log(`${t.name.padEnd(20)} ${t.family.padEnd(10)} ${t.kind}`);
    return 0;
  }
  if (o.replay.length) return replay(o.replay, lib, m, chalk);
  const targets = selectTargets(lib.targets, o.only);
  if (o['slice-seed'] !== undefined) return oneSlice(targets, lib, Number(o['slice-seed']), chalk);

  const stale = staleDist();
  if (stale.length) console.log(chalk.yellow(`warning: ${path.relative(ROOT, DIST) || DIST} is older than src/rtmfp/${stale.join(', ')}: run "npm run build" to fuzz the current code`));
  const seed = o.seed !== undefined ? Number(o.seed) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;
  const maxInputs = count(o.inputs);
  const minutes = o.minutes !== undefined ? Number(o.minutes) : maxInputs ? Infinity : 1;
  const workers = Math.max(1, Number(o.workers ?? Math.min(4, os.availableParallelism?.() ?? os.cpus().length)));
  const hangMs = Number(o['hang-ms'] ?? 10_000);
  const names = targets.map((t) => t.name);
  const family = Object.fromEntries(targets.map((t) => [t.name, t.family]));
  console.log(
    chalk.bold(`rtmfp fuzz: seed ${seed}, ${workers} worker(s), ${targets.length} targets, `) +
      `${minutes === Infinity ? '' : `${minutes} min`}${minutes !== Infinity && maxInputs ? ' or ' : ''}${maxInputs ? `${fmtRate(maxInputs)} inputs` : ''}`,
  );

  /** @type {Array<Record<string, {inputs: number, failures: number, busyMs: number, maxMs: number}>>} */
  const finished = []; // stats of workers that were replaced after a hang
  const failures = { hangs: 0, written: [], keys: new Map(), perTarget: new Map() };
  const failureCount = () => failures.hangs + Object.values(totals()).reduce((a, v) => a + v.failures, 0);
  const start = performance.now();
  let stopping = false;

  const writeFailure = (f, hang = false) => {
    if (hang) failures.hangs++;
    const first = f.message.split('\n')[0];
    const key = `${f.target}: ${first.replace(/0x[0-9a-f]+|\d+/gi, 'N').slice(0, 160)}`;
    const seen = failures.keys.get(key) ?? 0;
    failures.keys.set(key, seen + 1);
    // At most 3 inputs per distinct message and 20 per target (a target whose messages all differ would
    // otherwise take every slot and hide what the others found), 200 in all.
    const mine = failures.perTarget.get(f.target) ?? 0;
    if (seen >= 3 || mine >= 20 || failures.written.length >= 200) return;
    failures.perTarget.set(f.target, mine + 1);
    fs.mkdirSync(CRASHERS, { recursive: true });
    const input = Buffer.from(f.input, 'hex');
    const file = path.join(CRASHERS, `${f.target}-${crypto.createHash('sha1').update(f.target).update(input).digest('hex').slice(0, 12)}.hex`);
    fs.writeFileSync(file, lib0.formatCrasher({ ...f, input }));
    failures.written.push(file);
    console.log(chalk.red(`FAIL ${f.target} (seed ${f.seed}, ${f.how}): ${first.slice(0, 300)}`));
    console.log(chalk.red(`     input in ${path.relative(ROOT, file)}: npm run fuzz -- rtmfp --replay ${path.relative(ROOT, file)} (or the batch: --only ${f.target} --slice-seed ${f.seed})`));
  };

  /** @type {Array<{worker: Worker, meta: Int32Array, slot: Uint8Array, stats: any, hb: number, hbAt: number, done: Promise<void>, gen: number, exited: boolean}>} */
  const pool = [];
  const spawn = (index, gen) => {
    const control = new SharedArrayBuffer(32);
    const slot = new SharedArrayBuffer(SLOT_BYTES);
    const worker = new Worker(__filename, { workerData: { fuzzWorker: true, seed: lib0.mixSeed(lib0.mixSeed(seed, index), gen), names, control, slot, index, dist: DIST } });
    const w = { worker, meta: new Int32Array(control), slot: new Uint8Array(slot), stats: {}, hb: 0, hbAt: performance.now(), gen, exited: false, done: /** @type {Promise<void>} */ (Promise.resolve()) };
    w.done = new Promise((resolve) => {
      worker.on('message', (msg) => {
        if (msg.type === 'stats') w.stats = msg.stats;
        else if (msg.type === 'failure') writeFailure(msg.failure);
      });
      worker.on('error', (err) => {
        writeFailure({ target: names[w.meta[3]] ?? 'worker', seed: w.meta[4] >>> 0, how: 'worker error', input: Buffer.from(w.slot.subarray(0, w.meta[2])).toString('hex'), message: `escaped: ${err && err.stack ? err.stack : err}` }, true);
        resolve();
      });
      worker.on('exit', () => {
        w.exited = true;
        resolve();
      });
    });
    pool[index] = w;
  };
  for (let i = 0; i < workers; i++) spawn(i, 0);

  const totals = () => {
    /** @type {Record<string, {inputs: number, failures: number, busyMs: number, maxMs: number}>} */
    const t = {};
    for (const n of names) t[n] = { inputs: 0, failures: 0, busyMs: 0, maxMs: 0 };
    for (const s of [...finished, ...pool.map((w) => w.stats)]) {
      for (const [n, v] of Object.entries(s)) {
        t[n].inputs += v.inputs;
        t[n].failures += v.failures;
        t[n].busyMs += v.busyMs;
        t[n].maxMs = Math.max(t[n].maxMs, v.maxMs);
      }
    }
    return t;
  };
  const byFamily = (t) => {
    /** @type {Record<string, {inputs: number, busyMs: number, failures: number}>} */
    const f = {};
    for (const [n, v] of Object.entries(t)) {
      const k = family[n];
      f[k] ??= { inputs: 0, busyMs: 0, failures: 0 };
      f[k].inputs += v.inputs;
      f[k].busyMs += v.busyMs;
      f[k].failures += v.failures;
    }
    return f;
  };

  let lastLine = start;
  let lastInputs = 0;
  /** @type {Record<string, {inputs: number, busyMs: number, failures: number}>} */
  let lastFam = {};
  await new Promise((resolve) => {
    const tick = setInterval(() => {
      const now = performance.now();
      // Watchdog: a worker whose heartbeat stands still is stuck on its current input.
      for (const w of pool) {
        const hb = Atomics.load(w.meta, 0);
        if (hb !== w.hb) {
          w.hb = hb;
          w.hbAt = now;
        } else if (!w.exited && now - w.hbAt > hangMs) {
          const idx = pool.indexOf(w);
          writeFailure({ target: names[w.meta[3]] ?? '?', seed: w.meta[4] >>> 0, how: 'hang', input: Buffer.from(w.slot.subarray(0, w.meta[2])).toString('hex'), message: `hang: no progress for ${Math.round(now - w.hbAt)} ms` }, true);
          w.exited = true;
          void w.worker.terminate();
          if (!stopping) {
            finished.push(w.stats);
            spawn(idx, w.gen + 1);
          }
        }
      }
      const t = totals();
      const total = Object.values(t).reduce((a, v) => a + v.inputs, 0);
      if (now - lastLine >= 10_000) {
        const fam = byFamily(t);
        const rate = ((total - lastInputs) * 1000) / (now - lastLine);
        // Per family: inputs per second of the time spent on it, over the last 10 s.
        const parts = Object.entries(fam).map(([k, v]) => {
          const p = lastFam[k] ?? { inputs: 0, busyMs: 0 };
          const busy = v.busyMs - p.busyMs;
          return `${chalk.cyan(k)} ${busy > 0 ? fmtRate(((v.inputs - p.inputs) * 1000) / busy) : '-'}/s`;
        });
        lastFam = fam;
        const nf = failureCount();
        const fails = nf ? chalk.red(`failures ${nf}`) : chalk.green('failures 0');
        console.log(`[${fmtTime(now - start)}] ${chalk.bold(fmtRate(total))} inputs, ${fmtRate(rate)}/s | ${parts.join(' ')} | ${fails}`);
        lastLine = now;
        lastInputs = total;
      }
      if (!stopping && (now - start >= minutes * 60_000 || (maxInputs && total >= maxInputs))) {
        stopping = true;
        for (const w of pool) Atomics.store(w.meta, 1, 1);
        Promise.all(pool.map((w) => w.done)).then(() => {
          clearInterval(tick);
          resolve(undefined);
        });
      }
    }, 250);
  });

  const wall = performance.now() - start;
  const t = totals();
  const total = Object.values(t).reduce((a, v) => a + v.inputs, 0);
  console.log('');
  console.log(chalk.bold(`${'target'.padEnd(20)} ${'family'.padEnd(10)} ${'inputs'.padStart(10)} ${'busy s'.padStart(8)} ${'inputs/s'.padStart(10)} ${'max ms'.padStart(8)} ${'failures'.padStart(8)}`));
  for (const [n, v] of Object.entries(t)) {
    const line = `${n.padEnd(20)} ${family[n].padEnd(10)} ${String(v.inputs).padStart(10)} ${(v.busyMs / 1000).toFixed(1).padStart(8)} ${fmtRate(v.busyMs ? (v.inputs * 1000) / v.busyMs : 0).padStart(10)} ${v.maxMs.toFixed(1).padStart(8)} ${String(v.failures).padStart(8)}`;
    console.log(v.failures ? chalk.red(line) : line);
  }
  console.log('');
  for (const [k, v] of Object.entries(byFamily(t))) console.log(`${chalk.cyan(k.padEnd(10))} ${String(v.inputs).padStart(10)} inputs ${fmtRate(v.busyMs ? (v.inputs * 1000) / v.busyMs : 0).padStart(8)}/s per worker`);
  console.log(chalk.bold(`\ntotal ${total} inputs in ${(wall / 1000).toFixed(1)} s (${fmtRate((total * 1000) / wall)}/s with ${workers} worker(s)), seed ${seed}`));
  if (failureCount()) {
    console.log(chalk.red(`${failureCount()} failure(s), ${failures.keys.size} distinct; inputs in:`));
    for (const f of failures.written) console.log(chalk.red(`  ${path.relative(ROOT, f)}`));
    return 1;
  }
  console.log(chalk.green('no failures'));
  return 0;
}

function replay(files, lib, m, chalk) {
  let bad = 0;
  for (const f of files) {
    const msg = lib0.replayCrasher(lib, m, fs.readFileSync(f, 'utf8'));
    if (msg) {
      bad++;
      console.log(chalk.red(`${f}: still fails\n  ${msg.split('\n').slice(0, 8).join('\n  ')}`));
    } else console.log(chalk.green(`${f}: passes`));
  }
  return bad ? 1 : 0;
}

function oneSlice(targets, lib, sliceSeed, chalk) {
  if (targets.length !== 1) throw new Error('--slice-seed needs --only with one target');
  const t = targets[0];
  const fails = [];
  const onFailure = (f) => fails.push(f);
  const r = t.kind === 'bytes' ? lib0.runBatch(lib, t, sliceSeed, SLICE_PLAN, { onFailure }) : lib0.runRound(t, sliceSeed, ROUND_INPUTS, { onFailure });
  console.log(`${t.name}: ${r.inputs} inputs, ${r.failures} failure(s)`);
  for (const f of fails.slice(0, 5)) console.log(chalk.red(`${f.how}: ${f.message}\n  input ${Buffer.from(f.input).toString('hex')}`));
  return fails.length ? 1 : 0;
}

if (!isMainThread && workerData && workerData.fuzzWorker) workerMain();

module.exports = { main };
