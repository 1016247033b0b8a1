// @ts-check
'use strict';
/**
 * Shared pieces of the benchmarks: test clips, the three servers (ssas, node-media-server, nginx-rtmp) started
 * as child processes on ports chosen at run time, a counting (and optionally recording) TCP proxy in front of
 * a server, /proc readings, and table output.
 */
const fs = require('node:fs');
const os = require('node:os');
const net = require('node:net');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const chalk = require('chalk');

const ROOT = path.resolve(__dirname, '..', '..');
const CACHE_DIR = path.join(os.tmpdir(), 'ssas-bench-cache');
const FFMPEG = '/usr/bin/ffmpeg';
const NGINX = '/usr/sbin/nginx';
const NGINX_RTMP_MODULE = '/usr/lib/nginx/modules/ngx_rtmp_module.so';
const CLK_TCK = clockTicks();
/** Open files limit asked for every server and load process (players need one descriptor each). */
const NOFILE = 65536;

function clockTicks() {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
}

/** Every process the benchmarks start, killed when the benchmark process exits however it exits. */
/** @type {Set<import('node:child_process').ChildProcess>} */
const children = new Set();
/** @param {import('node:child_process').ChildProcess} child */
function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
process.on('exit', () => {
  for (const ch of children) ch.kill('SIGKILL');
});

/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ----- clips ------------------------------------------------------------------------------------------------

/**
 * The test clips: H.264 + AAC in FLV, 20 s, a key frame every 2 s. A little noise keeps x264 from
 * undershooting the bitrate on the synthetic picture.
 */
const CLIPS = {
  '0.6M': { size: '640x360', noise: 8, vbit: '500k', abit: '96k', file: 'clip-0.6mbit.flv' },
  '4M': { size: '1280x720', noise: 12, vbit: '3850k', abit: '128k', file: 'clip-4mbit.flv' },
};

/**
 * Makes (once, cached under os.tmpdir()) and returns a clip with its measured bitrate.
 * @param {'0.6M'|'4M'} which
 * @returns {{file:string, bitsPerSec:number, seconds:number}}
 */
function ensureClip(which) {
  const c = CLIPS[which];
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const file = path.join(CACHE_DIR, c.file);
  if (!fs.existsSync(file)) {
    const tmp = file + '.part.flv';
    process.stderr.write(chalk.dim(`generating ${which} clip into ${file} ...\n`));
    execFileSync(
      FFMPEG,
      [
        '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
        '-f', 'lavfi', '-i', `testsrc2=size=${c.size}:rate=25,noise=alls=${c.noise}:allf=t`,
        '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
        '-t', '20',
        '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', c.vbit, '-maxrate', c.vbit, '-bufsize', c.vbit,
        '-g', '50', '-keyint_min', '50', '-sc_threshold', '0', '-pix_fmt', 'yuv420p',
        '-c:a', 'aac', '-b:a', c.abit, '-ac', '2',
        '-f', 'flv', tmp,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    fs.renameSync(tmp, file);
  }
  const seconds = 20;
  return { file, bitsPerSec: (fs.statSync(file).size * 8) / seconds, seconds };
}

/**
 * The VOD clip: H.264 + AAC in MP4 (moov first), about 2 Mbit/s, 60 s, a key frame every 2 s. Made once into
 * the bench cache, like the FLV clips.
 * @returns {{file:string, bitsPerSec:number, seconds:number}}
 */
function ensureVodClip() {
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const file = path.join(CACHE_DIR, 'clip-2mbit-60s.mp4');
  const seconds = 60;
  if (!fs.existsSync(file)) {
    const tmp = file + '.part.mp4';
    process.stderr.write(chalk.dim(`generating the 2 Mbit/s 60 s MP4 clip into ${file} (about a minute) ...\n`));
    execFileSync(
      FFMPEG,
      [
        '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
        '-f', 'lavfi', '-i', 'testsrc2=size=960x540:rate=25,noise=alls=10:allf=t',
        '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
        '-t', String(seconds),
        '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '1870k', '-maxrate', '1870k', '-bufsize', '1870k',
        '-g', '50', '-keyint_min', '50', '-sc_threshold', '0', '-pix_fmt', 'yuv420p',
        '-c:a', 'aac', '-b:a', '128k', '-ac', '2',
        '-movflags', '+faststart',
        '-f', 'mp4', tmp,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    fs.renameSync(tmp, file);
  }
  return { file, bitsPerSec: (fs.statSync(file).size * 8) / seconds, seconds };
}

// ----- processes --------------------------------------------------------------------------------------------

/**
 * utime and stime of a process (all its threads), or of one of its threads, in seconds.
 * @param {number} pid @param {number} [tid] a thread (the main thread's id is the pid)
 */
function readCpu(pid, tid) {
  const stat = fs.readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5), counted from the state field (3) here.
  return { user: Number(f[11]) / CLK_TCK, sys: Number(f[12]) / CLK_TCK };
}

/** utime+stime in seconds of every thread of a process, by thread id. @param {number} pid */
function readThreadsCpu(pid) {
  /** @type {Record<string, number>} */
  const out = {};
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const c = readCpu(pid, Number(t));
      out[t] = c.user + c.sys;
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** Resident set size in MiB (and the peak), from /proc/<pid>/status. @param {number} pid */
function readRss(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (/** @type {string} */ k) => Number((new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s) || [])[1] || 0);
  return { rssMiB: kb('VmRSS') / 1024, peakMiB: kb('VmHWM') / 1024 };
}

/** A free TCP port on 127.0.0.1 (for servers that cannot be told to pick one). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = /** @type {net.AddressInfo} */ (s.address());
      s.close(() => resolve(a.port));
    });
  });
}

/** Resolves once something accepts TCP connections on the port. @param {number} port @param {number} timeoutMs */
async function waitForPort(port, timeoutMs = 15000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.on('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/**
 * Spawns a command through bash with a raised open files limit (`exec` keeps the pid, so /proc/<pid> is the
 * server itself). Output goes to a log file, never to a pipe nobody reads.
 * @param {string[]} argv
 * @param {{cwd?:string, log:string, env?:NodeJS.ProcessEnv}} opts
 */
function spawnWithLimit(argv, opts) {
  const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const out = fs.openSync(opts.log, 'a');
  const child = spawn('bash', ['-c', `ulimit -n ${NOFILE} 2>/dev/null || ulimit -n $(ulimit -Hn); exec ${quoted}`], {
    cwd: opts.cwd ?? ROOT,
    stdio: ['ignore', out, out],
    env: opts.env ?? process.env,
  });
  fs.closeSync(out);
  return track(child);
}

/** The open files limit the servers actually get (the hard limit may be lower than NOFILE). */
function effectiveNofile() {
  try {
    const hard = execFileSync('bash', ['-c', `ulimit -n ${NOFILE} 2>/dev/null; ulimit -n`]).toString().trim();
    return Number(hard);
  } catch {
    return 0;
  }
}

/**
 * @typedef {object} RunningServer
 * @property {string} kind
 * @property {string} label
 * @property {number} pid
 * @property {number} port
 * @property {string} app
 * @property {string} dir   temp folder with its config and logs
 * @property {() => Promise<void>} stop
 */

/**
 * Asks a child to stop — SIGTERM, or an IPC message such as `{ cmd: 'exit' }` for our forked workers — and
 * kills it if it is still there after `ms`.
 * @param {import('node:child_process').ChildProcess} child @param {number} ms @param {object} [message]
 */
function stopChild(child, ms = 5000, message) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined);
    const t = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(undefined);
    });
    if (message) child.send(message);
    else child.kill('SIGTERM');
  });
}

/** @param {string} kind */
function tempDir(kind) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `ssas-bench-${kind}-`));
}

/**
 * ssas on the bundled sample applications (app `live`), or on the applications folder `opts.apps`.
 * BENCH_SSAS_ROOT (or --ssas-root) names another checkout to measure instead of this one (built, with its own
 * scripts/ssas.js and dist/).
 * @param {{nodeArgs?: string[], apps?: string, args?: string[]}} [opts]
 * @returns {Promise<RunningServer>}
 */
async function startSsas(opts = {}) {
  const root = process.env.BENCH_SSAS_ROOT ? path.resolve(process.env.BENCH_SSAS_ROOT) : ROOT;
  const dir = tempDir('ssas');
  const log = path.join(dir, 'ssas.log');
  const child = spawnWithLimit(
    [
      process.execPath,
      '--no-node-snapshot',
      ...(opts.nodeArgs ?? []),
      path.join(root, 'scripts', 'ssas.js'),
      'serve',
      '--port', '0',
      '--apps', opts.apps ?? path.join(root, 'sandbox', 'applications'),
      '--log-level', 'warn',
      ...(opts.args ?? []),
    ],
    { log, cwd: dir },
  );
  const until = Date.now() + 20000;
  let port = 0;
  while (!port) {
    const m = /listening on rtmp:\/\/[^:]+:(\d+)/.exec(fs.readFileSync(log, 'utf8'));
    if (m) port = Number(m[1]);
    else if (child.exitCode !== null || Date.now() > until) {
      throw new Error(`ssas did not start:\n${fs.readFileSync(log, 'utf8')}`);
    } else await sleep(50);
  }
  return {
    kind: 'ssas',
    label: root === ROOT ? 'ssas' : `ssas (${root})`,
    pid: /** @type {number} */ (child.pid),
    port,
    app: 'live',
    dir,
    stop: async () => {
      // SIGINT: ssas shuts down cleanly (and writes a --cpu-prof profile when asked for one).
      await new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(undefined);
        const t = setTimeout(() => child.kill('SIGKILL'), 8000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve(undefined);
        });
        child.kill('SIGINT');
      });
    },
  };
}

/**
 * node-media-server 4.x through its own launcher (bin/app.js) with a temporary copy of its config: it writes
 * generated secrets back into the file on first start. HTTP, HTTPS and RTMPS listeners are left out.
 * @returns {Promise<RunningServer>}
 */
async function startNms() {
  const nmsRoot = path.dirname(require.resolve('node-media-server/package.json'));
  const version = JSON.parse(fs.readFileSync(path.join(nmsRoot, 'package.json'), 'utf8')).version;
  const dir = tempDir('nms');
  const port = await freePort();
  const config = JSON.parse(fs.readFileSync(path.join(nmsRoot, 'bin', 'config.json'), 'utf8'));
  config.bind = '127.0.0.1';
  config.rtmp = { port };
  delete config.rtmps;
  delete config.http;
  delete config.https;
  config.webadmin = { enable: false };
  config.store = { ...(config.store ?? {}), path: './data' };
  config.record = { ...(config.record ?? {}), auto: false, path: './record' };
  const cfgFile = path.join(dir, 'config.json');
  fs.writeFileSync(cfgFile, JSON.stringify(config, null, 2));
  const log = path.join(dir, 'nms.log');
  const child = spawnWithLimit([process.execPath, path.join(nmsRoot, 'bin', 'app.js'), '-c', cfgFile], { log, cwd: dir });
  await waitForPort(port);
  return {
    kind: 'nms',
    label: `node-media-server ${version}`,
    pid: /** @type {number} */ (child.pid),
    port,
    app: 'live',
    dir,
    stop: () => stopChild(child),
  };
}

/**
 * nginx with the Debian rtmp module: one process (no master), one worker's worth of event loop, default
 * rtmp settings (chunk_size 4096, ack_window 5000000). `opts.applications` replaces the default
 * `application live { live on; }` with raw config lines (vod, record, push).
 * @param {{applications?: string}} [opts]
 * @returns {Promise<RunningServer>}
 */
async function startNginx(opts = {}) {
  const dir = tempDir('nginx');
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(
    conf,
    [
      `load_module ${NGINX_RTMP_MODULE};`,
      'daemon off;',
      'master_process off;',
      'worker_processes 1;',
      `worker_rlimit_nofile ${NOFILE};`,
      'user root;',
      `pid ${path.join(dir, 'nginx.pid')};`,
      `error_log ${path.join(dir, 'error.log')} warn;`,
      'events { worker_connections 16384; }',
      'rtmp {',
      '  server {',
      `    listen 127.0.0.1:${port};`,
      opts.applications ?? '    application live { live on; }',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  const log = path.join(dir, 'stderr.log');
  const child = spawnWithLimit([NGINX, '-p', dir, '-e', path.join(dir, 'error.log'), '-c', conf], { log, cwd: dir });
  try {
    await waitForPort(port);
  } catch (e) {
    throw new Error(`nginx did not start: ${fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : ''}${(/** @type {Error} */ (e)).message}`);
  }
  let version = '';
  try {
    version = execFileSync(NGINX, ['-v'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  } catch {
    /* version is cosmetic */
  }
  void version;
  return {
    kind: 'nginx',
    label: 'nginx-rtmp',
    pid: /** @type {number} */ (child.pid),
    port,
    app: 'live',
    dir,
    stop: () => stopChild(child),
  };
}

/**
 * @param {string} kind
 * @param {{nodeArgs?: string[], apps?: string, args?: string[], applications?: string}} [opts] apps/args for
 *   ssas, applications for nginx
 */
function startServer(kind, opts) {
  if (kind === 'ssas') return startSsas(opts);
  if (kind === 'nms') return startNms();
  if (kind === 'nginx') return startNginx(opts);
  throw new Error(`unknown server ${kind}`);
}

/** Why a peer cannot be measured here, or '' when it can. @param {string} kind */
function peerMissing(kind) {
  if (kind === 'nginx' && (!fs.existsSync(NGINX) || !fs.existsSync(NGINX_RTMP_MODULE))) {
    return `${NGINX} or ${NGINX_RTMP_MODULE} not installed`;
  }
  if (kind === 'nms') {
    try {
      require.resolve('node-media-server/package.json');
    } catch {
      return 'node-media-server is not installed (npm install)';
    }
  }
  const ssasRoot = process.env.BENCH_SSAS_ROOT ? path.resolve(process.env.BENCH_SSAS_ROOT) : ROOT;
  if (kind === 'ssas' && !fs.existsSync(path.join(ssasRoot, 'dist', 'cli', 'main.js'))) return `${ssasRoot}/dist missing: run npm run build`;
  return '';
}

// ----- publisher through a counting proxy -------------------------------------------------------------------

/**
 * A TCP proxy on 127.0.0.1 that forwards to `targetPort`, counting (and optionally recording) what clients
 * send. Used in front of the server for the publisher: it gives the exact bytes the publisher sent.
 * @param {number} targetPort
 * @param {{record?: boolean}} [opts]
 */
async function startProxy(targetPort, opts = {}) {
  /** @type {{bytesUp:number, recorded:Buffer[], connections:number}} */
  const state = { bytesUp: 0, recorded: [], connections: 0 };
  /** @type {Set<net.Socket>} */
  const sockets = new Set();
  const srv = net.createServer((c) => {
    state.connections++;
    const s = net.connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(c);
    sockets.add(s);
    c.setNoDelay(true);
    s.setNoDelay(true);
    c.on('data', (/** @type {Buffer} */ d) => {
      state.bytesUp += d.length;
      if (opts.record) state.recorded.push(Buffer.from(d));
    });
    c.pipe(s);
    s.pipe(c);
    const end = () => {
      c.destroy();
      s.destroy();
      sockets.delete(c);
      sockets.delete(s);
    };
    c.on('error', end);
    s.on('error', end);
    c.on('close', end);
    s.on('close', end);
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(undefined)));
  const port = /** @type {net.AddressInfo} */ (srv.address()).port;
  return {
    port,
    state,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        srv.close(() => resolve(undefined));
      }),
  };
}

/**
 * ffmpeg publishing a clip: at real time in a loop (`-re -stream_loop -1`), or once as fast as it can.
 * @param {string} file @param {string} url @param {{realtime?: boolean, log: string}} opts
 */
function startPublisher(file, url, opts) {
  const args = ['-hide_banner', '-loglevel', 'error', '-nostdin'];
  if (opts.realtime !== false) args.push('-re', '-stream_loop', '-1');
  args.push('-i', file, '-c', 'copy', '-f', 'flv', url);
  const out = fs.openSync(opts.log, 'a');
  const child = spawn(FFMPEG, args, { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  return track(child);
}

// ----- client workers and the in-process ssas host ------------------------------------------------------------

/**
 * A forked rtmp-worker.js (ssas's own RtmpClient in a process apart from the server): `req(cmd, params)`
 * resolves with the worker's answer.
 */
class RtmpWorker {
  constructor() {
    this.proc = track(
      require('node:child_process').fork(path.join(__dirname, 'rtmp-worker.js'), [], {
        execArgv: ['--max-semi-space-size=16'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    /** @type {Map<number, {resolve:(v:any)=>void, reject:(e:Error)=>void}>} */
    this.waiting = new Map();
    this.nextId = 1;
    this.proc.on('message', (/** @type {any} */ m) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.type === 'error') w.reject(new Error(`rtmp-worker: ${m.message}`));
      else w.resolve(m);
    });
    this.proc.on('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`rtmp-worker exited (${code})`));
      this.waiting.clear();
    });
  }

  get pid() {
    return /** @type {number} */ (this.proc.pid);
  }

  /** @param {string} cmd @param {Record<string, unknown>} [params] @returns {Promise<any>} */
  req(cmd, params = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.proc.send({ cmd, id, ...params });
    });
  }

  async stop() {
    await stopChild(this.proc, 3000, { cmd: 'exit' });
  }
}

/**
 * ssas in server-host.js (the CLI's createServer, or with `mode` 'plain' a Server whose logic answers `echo`
 * in TypeScript), forked with IPC so that it can report isolate heaps and load times.
 * @param {'script'|'plain'} mode @param {string} apps @param {{nodeArgs?: string[]}} [opts]
 */
async function startHost(mode, apps, opts = {}) {
  const root = process.env.BENCH_SSAS_ROOT ? path.resolve(process.env.BENCH_SSAS_ROOT) : ROOT;
  const dir = tempDir(`host-${mode}`);
  const log = fs.openSync(path.join(dir, 'host.log'), 'a');
  const child = track(
    require('node:child_process').fork(path.join(__dirname, 'server-host.js'), ['--mode', mode, '--apps', apps, '--root', root], {
      execArgv: ['--no-node-snapshot', '--expose-gc', ...(opts.nodeArgs ?? [])],
      stdio: ['ignore', log, log, 'ipc'],
      cwd: dir,
    }),
  );
  fs.closeSync(log);
  /** @type {Map<number, (m:any)=>void>} */
  const waiting = new Map();
  let nextId = 1;
  const port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server-host did not start: ${fs.readFileSync(path.join(dir, 'host.log'), 'utf8')}`)), 20000);
    child.on('message', (/** @type {any} */ m) => {
      if (m.type === 'listening') {
        clearTimeout(t);
        resolve(m.port);
      } else waiting.get(m.id)?.(m);
    });
    child.once('exit', () => reject(new Error(`server-host exited: ${fs.readFileSync(path.join(dir, 'host.log'), 'utf8')}`)));
  });
  return {
    kind: 'ssas',
    label: mode === 'plain' ? 'plain TypeScript (no sandbox)' : 'ssas (sandbox)',
    pid: /** @type {number} */ (child.pid),
    port: /** @type {number} */ (port),
    dir,
    /** @param {string} cmd @param {Record<string, unknown>} [params] @returns {Promise<any>} */
    req(cmd, params = {}) {
      const id = nextId++;
      return new Promise((resolve) => {
        waiting.set(id, (m) => {
          waiting.delete(id);
          resolve(m);
        });
        child.send({ cmd, id, ...params });
      });
    },
    async stop() {
      if (child.exitCode === null) {
        await new Promise((resolve) => {
          const t = setTimeout(() => child.kill('SIGKILL'), 8000);
          child.once('exit', () => {
            clearTimeout(t);
            resolve(undefined);
          });
          child.send({ cmd: 'stop' });
        });
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Writes application folders: {name: {file: text}} under a new temp folder (or `into`), returns its path.
 * @param {Record<string, Record<string, string>>} apps @param {string} [into]
 */
function writeApps(apps, into) {
  const dir = into ?? tempDir('apps');
  for (const [name, files] of Object.entries(apps)) {
    fs.mkdirSync(path.join(dir, name), { recursive: true });
    for (const [f, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, name, f)), { recursive: true });
      fs.writeFileSync(path.join(dir, name, f), text);
    }
  }
  return dir;
}

// ----- statistics -------------------------------------------------------------------------------------------

/** Percentile (nearest rank) of a sorted array. @param {number[]} sorted @param {number} p 0-100 */
function pct(sorted, p) {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** count, median, p90, p99, max of a list of numbers. @param {number[]} xs */
function summarize(xs) {
  const s = Float64Array.from(xs).sort();
  return { n: s.length, p50: pct(/** @type {any} */ (s), 50), p90: pct(/** @type {any} */ (s), 90), p99: pct(/** @type {any} */ (s), 99), max: s.length ? s[s.length - 1] : NaN, mean: s.length ? s.reduce((a, b) => a + b, 0) / s.length : NaN };
}

/** CPU of a process between two readings, in % of one core. @param {{user:number, sys:number}} a @param {{user:number, sys:number}} b @param {number} sec */
function cpuPct(a, b, sec) {
  return (100 * (b.user + b.sys - a.user - a.sys)) / sec;
}

// ----- output -----------------------------------------------------------------------------------------------

/**
 * Prints a table; cells may be strings or {text, color} (color: a chalk function applied after padding).
 * @param {string[]} headers
 * @param {Array<Array<string | {text:string, color?:(s:string)=>string}>>} rows
 * @param {{right?: number[]}} [opts] indexes of right-aligned columns (default: all but the first)
 */
function printTable(headers, rows, opts = {}) {
  const cell = (/** @type {any} */ c) => (typeof c === 'string' ? { text: c } : c);
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => cell(r[i] ?? '').text.length)));
  const right = new Set(opts.right ?? headers.map((_, i) => i).filter((i) => i > 0));
  const pad = (/** @type {string} */ s, /** @type {number} */ i) => (right.has(i) ? s.padStart(widths[i]) : s.padEnd(widths[i]));
  const line = (/** @type {string} */ l, /** @type {string} */ m, /** @type {string} */ r) =>
    chalk.dim(l + widths.map((w) => '─'.repeat(w + 2)).join(m) + r);
  console.log(line('┌', '┬', '┐'));
  console.log(chalk.dim('│') + headers.map((h, i) => ' ' + chalk.bold(pad(h, i)) + ' ').join(chalk.dim('│')) + chalk.dim('│'));
  console.log(line('├', '┼', '┤'));
  for (const r of rows) {
    const cells = headers.map((_, i) => {
      const c = cell(r[i] ?? '');
      const p = pad(c.text, i);
      return ' ' + (c.color ? c.color(p) : p) + ' ';
    });
    console.log(chalk.dim('│') + cells.join(chalk.dim('│')) + chalk.dim('│'));
  }
  console.log(line('└', '┴', '┘'));
}

/**
 * A ratio cell: ssas figure over a peer's, green when ssas is at or under `good` (costs: lower is better).
 * @param {number} ssas @param {number} peer @param {{higherIsBetter?: boolean}} [o]
 */
function ratioCell(ssas, peer, o = {}) {
  if (!(peer > 0) || !Number.isFinite(ssas)) return { text: 'n/a', color: chalk.dim };
  const r = ssas / peer;
  const good = o.higherIsBetter ? r >= 1 : r <= 1;
  return { text: `${r.toFixed(2)}x`, color: good ? chalk.green : chalk.red };
}

/** @param {number} n @param {number} [d] */
const fmt = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

/** The machine, for the heading of each benchmark. */
function machineLine() {
  const cpus = os.cpus();
  return `${cpus.length} cores (${cpus[0]?.model ?? '?'}), Node ${process.version}, ${os.platform()} ${os.release()}`;
}

/** Where ../shared/peers/build.sh puts the RTMFP peers (as test/support/rtmfp-peers.ts finds them). */
function peersBin() {
  if (process.env.SSAS_PEERS_DIR) return process.env.SSAS_PEERS_DIR;
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'ssas-peers', 'bin');
}

/**
 * The run with the median CPU, carrying every run's CPU and the worst keep-up figures.
 * @param {any[]} runs
 */
function medianRun(runs) {
  const sorted = [...runs].sort((a, b) => a.cpuPct - b.cpuPct);
  const mid = sorted[Math.floor((sorted.length - 1) / 2)];
  return {
    ...mid,
    runs: runs.length,
    cpuPctRuns: runs.map((r) => r.cpuPct),
    behind: Math.max(...runs.map((r) => r.behind)),
    failed: Math.max(...runs.map((r) => r.failed)),
    minRatio: Math.min(...runs.map((r) => r.minRatio)),
  };
}

module.exports = {
  peersBin,
  medianRun,
  ROOT,
  track,
  CACHE_DIR,
  CLK_TCK,
  NOFILE,
  sleep,
  ensureClip,
  ensureVodClip,
  readCpu,
  readThreadsCpu,
  readRss,
  freePort,
  waitForPort,
  effectiveNofile,
  startServer,
  peerMissing,
  startProxy,
  startPublisher,
  stopChild,
  printTable,
  ratioCell,
  fmt,
  machineLine,
  tempDir,
  RtmpWorker,
  startHost,
  writeApps,
  pct,
  summarize,
  cpuPct,
};
