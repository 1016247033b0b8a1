// @ts-check
'use strict';
/**
 * RTMFP groups (issue 13): a server-side script publishes into an RTMFP NetGroup with
 * `new NetStream(nc, groupspec)`, and N librtmfp TestClients play the stream from the group. "Stream data
 * is routed to the RTMFP group, it is not copied at the server": the benchmark measures what ssas uploads
 * and what it costs, against the same N receivers playing the stream from ssas over plain RTMFP.
 *
 *   group   the script's member publishes into the group; ssas is also the group's rendezvous server
 *           (the script's NetConnection dials ssas itself)
 *   direct  the same N TestClients play `origin/src` from ssas over RTMFP, no group: the copy-at-the-server
 *           baseline
 *   mona    MonaServer2's MonaTiny is the rendezvous; the ssas script's member publishes into the group
 *
 * librtmfp announces every interface address to its peers, so nothing runs in this machine's network: two
 * network namespaces of the benchmark's own, joined by a veth pair. "ssas" (10.78.0.1) holds ssas and the
 * ffmpeg publisher (RTMP over its lo); "peers" (10.78.0.2) holds the TestClients (and MonaTiny), whose
 * peer-to-peer traffic stays on that namespace's lo. Everything ssas sends to the receivers and to MonaTiny
 * crosses the veth, and only ssas sends there, so the veth's transmit counters (/proc/<ssas pid>/net/dev)
 * are ssas's UDP output; the script member's traffic with its own server stays on lo and is not counted.
 * Needs root (`ip netns`), ffmpeg, librtmfp's TestClient and MonaTiny built by ../shared/peers/build.sh.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const chalk = require('chalk');
const c = require('./common');

const KEEP_UP = 0.9;
/** "First media": a receiver's FLV has this many bytes. */
const FIRST_BYTES = 20_000;
/** The NetGroup of the script below: GroupSpecifier("test") with multicast, posting, server channel, member updates. */
const GROUPSPEC = 'G:027f0201010103010c050e74657374011b00';
const APP = 'origin';
const SSAS_ADDR = '10.78.0.1';
const PEERS_ADDR = '10.78.0.2';
/** Inside the benchmark's own namespace nothing else listens. */
const SSAS_PORT = 19350;
/** Ethernet + IPv4 + UDP headers of a datagram on the veth (its counters include them). */
const UDP_FRAME_OVERHEAD = 14 + 20 + 8;
/** % of each core above which the machine counts as saturated in a window. */
const SATURATED = 90;

/**
 * The publishing script: on the publish of `src` (ffmpeg over RTMP), a NetConnection to the group's server,
 * `new NetStream(nc, groupspec)`, attach, publish "grouped"; NetStream.multicastInfo traced every 500 ms with
 * the wall clock. `mode` = direct publishes nothing into a group (the receivers play `src` itself).
 */
const MAIN_ASC = String.raw`
var ns = null;
application.onPublish = function (client, stream) {
  if (stream.name != "src" || application.config.mode == "direct") return;
  var nc = new NetConnection();
  nc.onStatus = function (info) {
    trace("group nc " + info.code);
    if (info.code != "NetConnection.Connect.Success") return;
    var gs = new GroupSpecifier("test");
    gs.multicastEnabled = true;
    gs.postingEnabled = true;
    gs.serverChannelEnabled = true;
    gs.ipMulticastMemberUpdatesEnabled = true;
    ns = new NetStream(nc, gs);
    ns.onStatus = function (i) { trace("group ns " + i.code); };
    setInterval(function () {
      var i = ns.multicastInfo;
      trace("mcinfo " + JSON.stringify({ t: new Date().getTime(), pushed: i.bytesPushedToPeers, requested: i.bytesRequestedByPeers, control: i.sendControlBytesPerSecond, time: ns.time }));
    }, 500);
    ns.attach(stream);
    ns.publish("grouped");
  };
  nc.connect(application.config.rendezvous);
};
`;

const TESTCLIENT = path.join(c.peersBin(), 'TestClient');
const MONATINY = path.join(c.peersBin(), 'MonaTiny');
const STDBUF = ['/usr/bin/stdbuf', '/bin/stdbuf'].find((f) => fs.existsSync(f)) ?? '';
const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].find((f) => fs.existsSync(f)) ?? 'ip';

/** @param {number} n */
const fmt1 = (n) => c.fmt(n, 1);

/** @param {string} s */
const stripAnsi = (s) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');

/** @param {string} f */
function fileSize(f) {
  try {
    return fs.statSync(f).size;
  } catch {
    return 0;
  }
}

/** @param {string} f */
function readText(f) {
  try {
    return fs.readFileSync(f, 'utf8');
  } catch {
    return '';
  }
}

/** utime+stime of a process that may have exited (then its last reading stands). @param {number} pid */
function cpuOf(pid) {
  try {
    return c.readCpu(pid);
  } catch {
    return null;
  }
}

// ----- network namespaces -----------------------------------------------------------------------------------

/** Namespaces and folders still to remove, also when the benchmark exits on an error or Ctrl-C. */
/** @type {Set<string>} */
const liveNetns = new Set();
/** @type {Set<string>} */
const liveDirs = new Set();
process.on('exit', () => {
  // common.js has SIGKILLed the processes by now; a namespace is freed once its last process is gone.
  for (const n of liveNetns) removeNetns(n);
  for (const d of liveDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** @param {string} name */
function removeNetns(name) {
  try {
    execFileSync(IP, ['netns', 'delete', name], { stdio: 'pipe' });
  } catch {
    // already gone
  }
  liveNetns.delete(name);
}

/** @param {string} ns @param {string[]} argv */
function nsRun(ns, argv) {
  return execFileSync(IP, ['netns', 'exec', ns, ...argv], { stdio: 'pipe' }).toString();
}

let netnsCounter = 0;

/**
 * The two namespaces of one case, `lo` up in both, joined by veth va (ssas side, 10.78.0.1/24) - vb (peers
 * side, 10.78.0.2/24), IPv6 off on the veth (no neighbour discovery in its counters).
 */
function createNetnsPair() {
  const tag = `${process.pid}-${++netnsCounter}`;
  const ssas = `ssas-bench-grp-s-${tag}`;
  const peers = `ssas-bench-grp-p-${tag}`;
  for (const n of [ssas, peers]) {
    execFileSync(IP, ['netns', 'add', n], { stdio: 'pipe' });
    liveNetns.add(n);
  }
  try {
    nsRun(ssas, [IP, 'link', 'set', 'lo', 'up']);
    nsRun(peers, [IP, 'link', 'set', 'lo', 'up']);
    nsRun(ssas, [IP, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', peers]);
    for (const [n, dev, addr] of [[ssas, 'va', SSAS_ADDR], [peers, 'vb', PEERS_ADDR]]) {
      nsRun(n, [IP, 'addr', 'add', `${addr}/24`, 'dev', dev]);
      nsRun(n, ['sh', '-c', `echo 1 > /proc/sys/net/ipv6/conf/${dev}/disable_ipv6`]);
      nsRun(n, [IP, 'link', 'set', dev, 'up']);
    }
  } catch (e) {
    removeNetns(ssas);
    removeNetns(peers);
    throw e;
  }
  return {
    ssas,
    peers,
    delete() {
      removeNetns(ssas);
      removeNetns(peers);
    },
  };
}

/** Why the benchmark cannot run here ('' when it can): root for ip netns, the peers, ffmpeg, stdbuf. */
function missing() {
  if (!fs.existsSync('/usr/bin/ffmpeg')) return '/usr/bin/ffmpeg not installed';
  if (!STDBUF) return 'stdbuf (coreutils) not installed';
  if (!fs.existsSync(TESTCLIENT)) return `${TESTCLIENT} not built (bash ../shared/peers/build.sh)`;
  const ssas = c.peerMissing('ssas');
  if (ssas) return ssas;
  try {
    const p = createNetnsPair();
    p.delete();
  } catch (e) {
    return `network namespaces refused (${String(/** @type {Error} */ (e).message).split('\n')[0]}): run as root`;
  }
  return '';
}

/**
 * Spawns argv inside a namespace with the open files limit raised (`ip netns exec` and bash's `exec` keep the
 * pid: /proc/<pid> is the program itself). Output goes to a log file.
 * @param {string} ns @param {string[]} argv @param {{log:string, cwd?:string}} opts
 */
function spawnIn(ns, argv, opts) {
  const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const out = fs.openSync(opts.log, 'a');
  const child = spawn(IP, ['netns', 'exec', ns, 'bash', '-c', `ulimit -n ${c.NOFILE} 2>/dev/null || ulimit -n $(ulimit -Hn); exec ${quoted}`], {
    cwd: opts.cwd ?? c.ROOT,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  return c.track(child);
}

/** SIGTERM (or `signal`), SIGKILL after `ms`. @param {import('node:child_process').ChildProcess} child @param {NodeJS.Signals} [signal] */
function stopProc(child, ms = 5000, signal = 'SIGTERM') {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined);
    const t = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(undefined);
    });
    child.kill(signal);
  });
}

// ----- the processes of a case ------------------------------------------------------------------------------

/**
 * ssas in the ssas namespace, every address, RTMFP at the RTMP port, on an applications folder with the
 * publishing script; resolves once both listeners are up.
 * @param {string} ns @param {string} dir @param {{mode:string, rendezvous:string}} config
 */
async function startSsas(ns, dir, config) {
  const root = process.env.BENCH_SSAS_ROOT ? path.resolve(process.env.BENCH_SSAS_ROOT) : c.ROOT;
  const cfg = Object.entries(config).map(([k, v]) => `<${k}>${v}</${k}>`).join('');
  const apps = c.writeApps(
    {
      [APP]: {
        'main.asc': MAIN_ASC,
        'Application.xml': `<Application><JSEngine><ApplicationObject><config>${cfg}</config></ApplicationObject></JSEngine></Application>\n`,
      },
    },
    path.join(dir, 'apps'),
  );
  const log = path.join(dir, 'ssas.log');
  const child = spawnIn(
    ns,
    [process.execPath, '--no-node-snapshot', path.join(root, 'scripts', 'ssas.js'), 'serve', '--apps', apps, '--host', '0.0.0.0', '--port', String(SSAS_PORT), '--log-level', 'info'],
    { log, cwd: dir },
  );
  const until = Date.now() + 20000;
  while (!/listening on rtmfp:/.test(readText(log))) {
    if (child.exitCode !== null || Date.now() > until) throw new Error(`ssas did not start in the namespace:\n${readText(log)}`);
    await c.sleep(50);
  }
  return {
    child,
    pid: /** @type {number} */ (child.pid),
    log,
    label: root === c.ROOT ? 'ssas' : `ssas (${root})`,
    // SIGINT: ssas shuts down cleanly.
    stop: () => stopProc(child, 8000, 'SIGINT'),
  };
}

/**
 * MonaTiny in the peers namespace, RTMFP only on 10.78.0.2 (kernel-chosen port, read back from its log).
 * @param {string} ns @param {string} dir
 */
async function startMonaTiny(ns, dir) {
  const home = path.join(dir, 'monatiny');
  fs.mkdirSync(home, { recursive: true });
  const ini = path.join(home, 'MonaTiny.ini');
  fs.writeFileSync(
    ini,
    ['cores=2', '[logs]', 'directory=logs', '[RTMFP]', `host=${PEERS_ADDR}`, 'port=0', '[RTMP=false]', '[RTMPS=false]', '[HTTP=false]', '[HTTPS=false]', '[WS=false]', '[WSS=false]', '[STUN=false]', '[SRT=false]', ''].join('\n'),
  );
  const logFile = path.join(home, 'logs', '0.log');
  // Log level 5 (notes): the "RTMFP server started" line, no per-packet work.
  const child = spawnIn(ns, [STDBUF, '-oL', '-eL', MONATINY, ini, '--log=5'], { log: path.join(home, 'stdout.log'), cwd: home });
  const until = Date.now() + 10000;
  for (;;) {
    const m = /RTMFP server started on [\d.]+:(\d+)|RTMFP server, ([^\n]*)/.exec(readText(logFile));
    if (m && m[1]) return { child, pid: /** @type {number} */ (child.pid), port: Number(m[1]), stop: () => stopProc(child, 3000) };
    if (m || child.exitCode !== null || Date.now() > until) {
      await stopProc(child, 1000);
      throw new Error(`MonaTiny did not start: ${readText(logFile).slice(-2000)}`);
    }
    await c.sleep(50);
  }
}

/**
 * N TestClient receivers in the peers namespace (stdbuf execs TestClient: the pid is TestClient's), each
 * writing what it plays to its own FLV. `group`: through the NetGroup; else plain RTMFP play.
 * @param {string} ns @param {string} dir @param {string} url @param {number} n @param {boolean} group
 */
async function startReceivers(ns, dir, url, n, group) {
  /** @type {{child: import('node:child_process').ChildProcess, pid:number, flv:string, log:string}[]} */
  const rx = [];
  for (let i = 0; i < n; i++) {
    const flv = path.join(dir, `rx${i}.flv`);
    const log = path.join(dir, `rx${i}.log`);
    const args = [`--url=${url}`, '--asyncread', `--mediaFile=${flv}`, '--log=6', `--host=${PEERS_ADDR}`, '--hostIPv6=::1', `--app=${APP}`];
    if (group) args.push(`--netGroup=${GROUPSPEC}`);
    const child = spawnIn(ns, [STDBUF, '-oL', '-eL', TESTCLIENT, ...args], { log, cwd: dir });
    rx.push({ child, pid: /** @type {number} */ (child.pid), flv, log });
    // Spread the starts a little (each is a DH handshake and, in a group, a join).
    if (i % 5 === 4) await c.sleep(100);
  }
  return rx;
}

/**
 * Waits until every receiver joined the group (`Connecting to group`) or, playing directly, had its play
 * start; returns how many did within the time allowed.
 * @param {{log:string, child: import('node:child_process').ChildProcess}[]} rx @param {boolean} group @param {number} timeoutMs
 */
async function waitJoined(rx, group, timeoutMs) {
  const re = group ? /Connecting to group / : /Status Event 'NetStream\.Play\.Start'/;
  const until = Date.now() + timeoutMs;
  for (;;) {
    const joined = rx.filter((r) => re.test(stripAnsi(readText(r.log)))).length;
    if (joined === rx.length || Date.now() > until || rx.every((r) => r.child.exitCode !== null)) return joined;
    await c.sleep(200);
  }
}

/** ffmpeg's FLV bytes so far (its -progress total_size, written every 100 ms). @param {string} file */
function ffmpegBytes(file) {
  const text = readText(file);
  const i = text.lastIndexOf('total_size=');
  return i < 0 ? 0 : Number(/^total_size=(\d+)/.exec(text.slice(i))?.[1] ?? 0);
}

/** Transmit counters of a device in the network namespace of `pid`. @param {number} pid @param {string} dev */
function devTx(pid, dev) {
  const line = fs.readFileSync(`/proc/${pid}/net/dev`, 'utf8').split('\n').find((l) => l.trim().startsWith(`${dev}:`));
  if (!line) return { bytes: NaN, packets: NaN };
  const f = line.slice(line.indexOf(':') + 1).trim().split(/\s+/).map(Number);
  // receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes packets ...
  return { bytes: f[8], packets: f[9] };
}

/** The mcinfo lines traced by the script: {t, pushed, requested, control, time}. @param {string} log */
function mcinfo(log) {
  /** @type {{t:number, pushed:number, requested:number, control:number, time:number}[]} */
  const out = [];
  for (const m of readText(log).matchAll(/mcinfo (\{[^\n]*\})/g)) {
    try {
      out.push(JSON.parse(m[1]));
    } catch {
      /* a partial line */
    }
  }
  return out;
}

// ----- one case ---------------------------------------------------------------------------------------------

/**
 * @typedef {object} GroupsOptions
 * @property {number[]} receivers   N per case
 * @property {string[]} cases       group, direct, mona
 * @property {number} warmupSec     after the last receiver's first 20 kB (or the wait's end)
 * @property {number} measureSec
 * @property {number} firstWaitSec  longest wait for every receiver's first 20 kB
 * @property {number} quietWaitSec  wait up to this long for the machine to be idle before each case (0: no)
 * @property {boolean} quick
 */

const CASE_LABEL = {
  group: 'group, ssas rendezvous',
  direct: 'direct RTMFP play from ssas',
  mona: 'group, MonaTiny rendezvous',
};

/**
 * @param {'group'|'direct'|'mona'} kind @param {{file:string}} clip @param {number} n @param {GroupsOptions} o
 */
async function runCase(kind, clip, n, o) {
  const pair = createNetnsPair();
  const dir = c.tempDir(`groups-${kind}`);
  liveDirs.add(dir);
  /** @type {Awaited<ReturnType<typeof startSsas>> | null} */
  let ssas = null;
  /** @type {Awaited<ReturnType<typeof startMonaTiny>> | null} */
  let mona = null;
  /** @type {import('node:child_process').ChildProcess | null} */
  let ffmpeg = null;
  /** @type {Awaited<ReturnType<typeof startReceivers>>} */
  let rx = [];
  try {
    let rendezvous = `rtmfp://${SSAS_ADDR}:${SSAS_PORT}/${APP}`;
    if (kind === 'mona') {
      mona = await startMonaTiny(pair.peers, dir);
      rendezvous = `rtmfp://${PEERS_ADDR}:${mona.port}/${APP}`;
    }
    const server = (ssas = await startSsas(pair.ssas, dir, { mode: kind === 'direct' ? 'direct' : 'group', rendezvous }));
    const url = kind === 'direct' ? `rtmfp://${SSAS_ADDR}:${SSAS_PORT}/${APP}/src` : `${rendezvous}/grouped`;
    rx = await startReceivers(pair.peers, dir, url, n, kind !== 'direct');
    const joined = await waitJoined(rx, kind !== 'direct', Math.max(30000, n * 600));
    await c.sleep(1000);

    // Publish start: ffmpeg over RTMP into ssas's `src` (on the ssas namespace's lo).
    const progress = path.join(dir, 'ffmpeg.progress');
    const ffLog = path.join(dir, 'ffmpeg.log');
    const tx0 = devTx(server.pid, 'va');
    const tPub = Date.now();
    ffmpeg = spawnIn(
      pair.ssas,
      ['/usr/bin/ffmpeg', '-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-stream_loop', '-1', '-i', clip.file, '-c', 'copy', '-stats_period', '0.1', '-progress', progress, '-f', 'flv', `rtmp://127.0.0.1:${SSAS_PORT}/${APP}/src`],
      { log: ffLog, cwd: dir },
    );
    /** @type {number[]} ms from publish start to each receiver's first 20 kB (NaN: not within the wait) */
    const first = rx.map(() => NaN);
    const firstUntil = tPub + o.firstWaitSec * 1000;
    while (first.some((x) => Number.isNaN(x)) && Date.now() < firstUntil) {
      if (ffmpeg.exitCode !== null) throw new Error(`ffmpeg exited: ${readText(ffLog)}`);
      if (server.child.exitCode !== null) throw new Error(`ssas exited: ${readText(server.log).slice(-3000)}`);
      const now = Date.now();
      rx.forEach((r, i) => {
        if (Number.isNaN(first[i]) && fileSize(r.flv) >= FIRST_BYTES) first[i] = now - tPub;
      });
      await c.sleep(100);
    }
    if (ffmpegBytes(progress) === 0) throw new Error(`ffmpeg published nothing: ${readText(ffLog)}`);
    await c.sleep(o.warmupSec * 1000);

    // The window.
    const pids = rx.map((r) => r.pid);
    const ffPid = /** @type {number} */ (ffmpeg.pid);
    const monaPid = mona ? mona.pid : 0;
    const read = () => ({
      at: Date.now(),
      ssas: c.readCpu(server.pid),
      main: c.readCpu(server.pid, server.pid),
      tx: devTx(server.pid, 'va'),
      stream: ffmpegBytes(progress),
      sizes: rx.map((r) => fileSize(r.flv)),
      rxCpu: pids.map(cpuOf),
      mona: monaPid ? cpuOf(monaPid) : null,
      ff: cpuOf(ffPid),
      machine: machineCpu(),
    });
    const a = read();
    await c.sleep(o.measureSec * 1000);
    const b = read();
    const wall = (b.at - a.at) / 1000;
    const stream = b.stream - a.stream;
    const gains = b.sizes.map((s, i) => s - a.sizes[i]);
    const keptUp = gains.filter((g) => stream > 0 && g >= KEEP_UP * stream).length;
    const txBytes = b.tx.bytes - a.tx.bytes;
    const txPackets = b.tx.packets - a.tx.packets;
    const udpBytes = txBytes - UDP_FRAME_OVERHEAD * txPackets;
    let rxCpu = 0;
    b.rxCpu.forEach((x, i) => {
      const y = a.rxCpu[i];
      if (x && y) rxCpu += c.cpuPct(y, x, wall);
    });
    // multicastInfo over the window: the samples nearest to its ends (traced every 500 ms with their time).
    const infos = mcinfo(server.log);
    const near = (/** @type {number} */ t) => infos.reduce((best, s) => (best === null || Math.abs(s.t - t) < Math.abs(best.t - t) ? s : best), /** @type {any} */ (null));
    const i0 = near(a.at);
    const i1 = near(b.at);
    const infoSec = i0 && i1 && i1.t > i0.t ? (i1.t - i0.t) / 1000 : NaN;
    const groupBytesPerSec = infoSec > 0 ? (i1.pushed + i1.requested - i0.pushed - i0.requested) / infoSec : NaN;
    const pushedShare = infoSec > 0 ? (i1.pushed - i0.pushed) / Math.max(1, i1.pushed + i1.requested - i0.pushed - i0.requested) : NaN;
    const streamPerSec = stream / wall;
    const reached = first.filter((x) => !Number.isNaN(x));
    const cpuSec = b.ssas.user + b.ssas.sys - a.ssas.user - a.ssas.sys;
    const gs = [...gains].sort((x, y) => x - y);
    const ssasPct = c.cpuPct(a.ssas, b.ssas, wall);
    const monaPct = a.mona && b.mona ? Math.max(0, c.cpuPct(a.mona, b.mona, wall)) : NaN;
    const ffPct = a.ff && b.ff ? c.cpuPct(a.ff, b.ff, wall) : NaN;
    const machinePct = (100 * (b.machine.busy - a.machine.busy)) / wall;
    return {
      case: kind,
      label: CASE_LABEL[kind],
      receivers: n,
      joined,
      wallSec: wall,
      streamBytes: stream,
      streamBytesPerSec: streamPerSec,
      cpuPct: ssasPct,
      userPct: (100 * (b.ssas.user - a.ssas.user)) / wall,
      sysPct: (100 * (b.ssas.sys - a.ssas.sys)) / wall,
      mainThreadPct: c.cpuPct(a.main, b.main, wall),
      cpuSec,
      ...c.readRss(server.pid),
      udpBytes,
      udpBytesPerSec: udpBytes / wall,
      udpPacketsPerSec: txPackets / wall,
      udpCopies: stream > 0 ? udpBytes / stream : NaN,
      // From the publish start to the window (joins, first media, warm-up).
      udpCopiesBeforeWindow: a.stream > 0 ? (a.tx.bytes - tx0.bytes - UDP_FRAME_OVERHEAD * (a.tx.packets - tx0.packets)) / a.stream : NaN,
      groupBytesPerSec,
      groupCopies: streamPerSec > 0 ? groupBytesPerSec / streamPerSec : NaN,
      pushedShare,
      firstMs: first,
      firstReached: reached.length,
      lastFirstMs: reached.length === n ? Math.max(...reached) : NaN,
      medianFirstMs: reached.length ? [...reached].sort((x, y) => x - y)[Math.floor(reached.length / 2)] : NaN,
      keptUp,
      minRatio: stream > 0 && gs.length ? gs[0] / stream : 0,
      medianRatio: stream > 0 && gs.length ? gs[Math.floor(gs.length / 2)] / stream : 0,
      receiversCpuPct: rxCpu,
      monaCpuPct: monaPct,
      ffmpegCpuPct: ffPct,
      machinePct,
      // Everything else the machine ran in the window (this process, the kernel's threads, other work).
      otherPct: Math.max(0, machinePct - ssasPct - rxCpu - (Number.isFinite(monaPct) ? monaPct : 0) - (Number.isFinite(ffPct) ? ffPct : 0)),
    };
  } catch (e) {
    // Keep what the processes said for the error.
    const tail = (/** @type {string} */ f, /** @type {number} */ k) => readText(f).trimEnd().split('\n').slice(-k).join('\n');
    const more = [ssas ? `--- ssas\n${tail(ssas.log, 30)}` : '', rx[0] ? `--- receiver 0\n${stripAnsi(tail(rx[0].log, 15))}` : ''].filter(Boolean).join('\n');
    throw new Error(`${CASE_LABEL[kind]} with ${n} receivers: ${/** @type {Error} */ (e).message}\n${more}`);
  } finally {
    await Promise.all(rx.map((r) => stopProc(r.child, 5000)));
    if (ffmpeg) await stopProc(ffmpeg, 3000);
    if (ssas) await ssas.stop();
    if (mona) await mona.stop();
    pair.delete();
    liveDirs.delete(dir);
    if (process.env.BENCH_GROUPS_KEEP) process.stderr.write(chalk.dim(` [kept ${dir}]`));
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * With --quiet-wait SEC: before a case, waits (up to SEC) until the machine is below 25 % of one core busy
 * over 2 s (nothing of the benchmark runs then), so that other work does not share the window.
 * @param {number} maxSec
 */
async function waitQuiet(maxSec) {
  if (!(maxSec > 0)) return;
  const until = Date.now() + maxSec * 1000;
  let said = false;
  for (;;) {
    const a = machineCpu();
    await c.sleep(2000);
    const pct = (100 * (machineCpu().busy - a.busy)) / 2;
    if (pct < 25) return;
    if (Date.now() > until) {
      process.stderr.write(chalk.yellow(` [machine still ${fmt1(pct)} % busy after ${maxSec} s: measuring anyway]`));
      return;
    }
    if (!said) process.stderr.write(chalk.dim(` [waiting for other work (${fmt1(pct)} % of a core) to stop]`));
    said = true;
  }
}

/** Busy time of the whole machine (all cores, seconds), from /proc/stat. */
function machineCpu() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.slice(0, 8).reduce((x, y) => x + y, 0);
  return { busy: (total - idle) / c.CLK_TCK };
}

// ----- entry ------------------------------------------------------------------------------------------------

/** @param {any} r */
function keptUpCell(r) {
  return { text: `${r.keptUp}/${r.receivers}`, color: r.keptUp === r.receivers ? chalk.green : chalk.red };
}

/** @param {any} r @param {number} waitSec */
function firstCell(r, waitSec) {
  if (r.firstReached === r.receivers) return { text: c.fmt(r.lastFirstMs / 1000, 1) };
  return { text: `> ${waitSec} (${r.firstReached}/${r.receivers})`, color: chalk.red };
}

/** @param {GroupsOptions} o */
async function groups(o) {
  console.log(chalk.bold.cyan('\nRTMFP groups (issue 13): a script publishes into a NetGroup with new NetStream(nc, groupspec), N TestClient receivers'));
  console.log(chalk.dim(`  ${c.machineLine()}`));
  /** @type {Record<string, unknown>} */
  const out = { bench: 'groups' };
  const why = missing();
  if (why) {
    console.log(chalk.yellow(`  skipping: ${why}`));
    return { ...out, skipped: why };
  }
  /** @type {('group'|'direct'|'mona')[]} */
  const cases = [];
  for (const k of o.cases) {
    if (k !== 'group' && k !== 'direct' && k !== 'mona') console.log(chalk.yellow(`  unknown case "${k}" (group, direct, mona)`));
    else if (k === 'mona' && !fs.existsSync(MONATINY)) console.log(chalk.yellow(`  skipping mona: ${MONATINY} not built (bash ../shared/peers/build.sh)`));
    else cases.push(k);
  }
  const clip = c.ensureClip('0.6M');
  console.log(
    chalk.dim(
      `  clip ${path.basename(clip.file)} ${(clip.bitsPerSec / 1e6).toFixed(2)} Mbit/s, published by ffmpeg -re over RTMP into ssas's ${APP}/src; main.asc onPublish: NetConnection to the rendezvous, ` +
        `new NetStream(nc, GroupSpecifier("test")), attach, publish("grouped"); receivers: librtmfp TestClient --netGroup (group cases) or plain RTMFP play of ${APP}/src (direct)`,
    ),
  );
  console.log(
    chalk.dim(
      `  namespaces: ssas + ffmpeg (${SSAS_ADDR}) | TestClients + MonaTiny (${PEERS_ADDR}), one veth between them: ssas UDP out = the veth's transmit bytes minus ${UDP_FRAME_OVERHEAD} bytes of headers per datagram; ` +
        `receivers start and join first, then the publish starts; warm-up ${o.warmupSec} s after the last receiver's first ${FIRST_BYTES / 1000} kB, window ${o.measureSec} s; ` +
        `kept up = the receiver's FLV grew by >= ${KEEP_UP * 100} % of ffmpeg's FLV bytes (its -progress total_size) in the window`,
    ),
  );
  console.log(
    chalk.yellow(
      `  note: ${os.cpus().length} cores shared by ssas, ffmpeg and N TestClients (each a full RTMFP client; in a group they also serve each other): see receivers CPU %`,
    ),
  );
  /** @type {any[]} */
  const results = [];
  /** @type {string[]} */
  const failures = [];
  for (const n of o.receivers) {
    for (const kind of cases) {
      process.stderr.write(chalk.dim(`  ${CASE_LABEL[kind]}, ${n} receivers ...`));
      await waitQuiet(o.quietWaitSec);
      try {
        const r = await runCase(kind, clip, n, o);
        results.push(r);
        process.stderr.write(
          chalk.dim(
            ` ${r.joined}/${n} joined, ${r.firstReached === n ? `last first ${FIRST_BYTES / 1000} kB after ${c.fmt(r.lastFirstMs / 1000, 1)} s` : `${r.firstReached}/${n} had ${FIRST_BYTES / 1000} kB within ${o.firstWaitSec} s`}, ${fmt1(r.cpuPct)} % CPU, ` +
              `${c.fmt(r.udpBytesPerSec / 1000, 0)} kB/s out = ${c.fmt(r.udpCopies, 2)} copies, ${r.keptUp}/${n} kept up, receivers ${fmt1(r.receiversCpuPct)} %\n`,
          ),
        );
      } catch (e) {
        const msg = String(/** @type {Error} */ (e).message);
        failures.push(msg);
        process.stderr.write(chalk.red(` failed: ${msg.split('\n')[0]}\n`));
      }
    }
  }
  if (results.length) {
    const cores = os.cpus().length;
    const streamKBps = results.reduce((x, r) => x + r.streamBytesPerSec, 0) / results.length / 1000;
    console.log(chalk.dim(`  stream: ${c.fmt(streamKBps, 1)} kB/s of FLV from ffmpeg on average over the windows; copies = bytes ssas sent / stream bytes, same window`));
    c.printTable(
      ['case', 'receivers', 'kept up', 'last 20 kB s', 'ssas CPU %', 'user %', 'sys %', 'main thread %', 'RSS MiB', 'UDP out kB/s', 'copies (UDP)', 'group media kB/s', 'copies (multicastInfo)', 'receivers CPU %', 'MonaTiny CPU %', 'other CPU %', 'machine %'],
      results.map((r) => [
        r.label,
        String(r.receivers),
        keptUpCell(r),
        firstCell(r, o.firstWaitSec),
        fmt1(r.cpuPct),
        fmt1(r.userPct),
        fmt1(r.sysPct),
        fmt1(r.mainThreadPct),
        c.fmt(r.rssMiB, 0),
        c.fmt(r.udpBytesPerSec / 1000, 1),
        c.fmt(r.udpCopies, 2),
        r.case === 'direct' ? '' : c.fmt(r.groupBytesPerSec / 1000, 1),
        r.case === 'direct' ? '' : c.fmt(r.groupCopies, 2),
        { text: fmt1(r.receiversCpuPct), color: r.receiversCpuPct > 150 ? chalk.yellow : undefined },
        r.case === 'mona' ? fmt1(r.monaCpuPct) : '',
        { text: fmt1(r.otherPct), color: r.otherPct > 15 ? chalk.yellow : undefined },
        { text: fmt1(r.machinePct), color: r.machinePct > SATURATED * cores ? chalk.yellow : undefined },
      ]),
    );
    const saturated = results.filter((r) => r.machinePct > SATURATED * cores);
    if (saturated.length) {
      console.log(
        chalk.yellow(
          `  machine saturated (> ${SATURATED} % of each of the ${cores} cores busy) in: ${saturated.map((r) => `${r.case} @${r.receivers}`).join(', ')}: ` +
            'the receivers (and ssas) waited for CPU there, so kept up / first media describe the machine more than the server',
        ),
      );
    }
    const ratioRows = [];
    for (const n of o.receivers) {
      const g = results.find((r) => r.case === 'group' && r.receivers === n);
      const d = results.find((r) => r.case === 'direct' && r.receivers === n);
      const m = results.find((r) => r.case === 'mona' && r.receivers === n);
      if (!g && !d && !m) continue;
      const na = { text: 'n/a', color: chalk.dim };
      ratioRows.push([
        String(n),
        g && d ? c.ratioCell(g.cpuPct, d.cpuPct) : na,
        g && d ? c.ratioCell(g.udpBytes, d.udpBytes) : na,
        m && d ? c.ratioCell(m.cpuPct, d.cpuPct) : na,
        m && d ? c.ratioCell(m.udpBytes, d.udpBytes) : na,
        g && m ? c.ratioCell(g.cpuPct, m.cpuPct) : na,
        g && m ? c.ratioCell(g.udpBytes, m.udpBytes) : na,
      ]);
    }
    console.log(chalk.bold('ratios (same run; lower is better for the first)'));
    c.printTable(
      ['receivers', 'CPU group/direct', 'bytes out group/direct', 'CPU MonaTiny-group/direct', 'bytes out MonaTiny-group/direct', 'CPU ssas-rdv/MonaTiny-rdv', 'bytes out ssas-rdv/MonaTiny-rdv'],
      ratioRows,
    );
    for (const r of results) {
      if (r.joined < r.receivers) console.log(chalk.yellow(`  ${r.label} @${r.receivers}: ${r.joined} receivers joined in time`));
    }
  }
  for (const f of failures) console.log(chalk.red(`  ${f}`));
  return { ...out, clipMbit: clip.bitsPerSec / 1e6, warmupSec: o.warmupSec, measureSec: o.measureSec, keepUp: KEEP_UP, firstBytes: FIRST_BYTES, results, failures };
}

module.exports = { groups };
