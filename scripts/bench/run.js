// @ts-check
'use strict';
/**
 * `npm run bench [-- NAME... OPTIONS]`: runs the benchmarks against the compiled server (dist/, built by
 * `npm install` / `npm run build`) and the peers installed on the machine (node-media-server from npm,
 * Debian's nginx with the rtmp module). Prints tables, then one JSON line with every raw figure.
 * See scripts/bench/README.md.
 */
const fs = require('node:fs');
const chalk = require('chalk');

const HELP = `usage: npm run bench -- [fanout] [throughput] [decode] [bridge] [vod] [record] [republish] [sharedobject] [classes] [rtmfp] [groups] [all] [options]

  fanout       0.6 Mbit/s stream to N players per server: server CPU %, RSS, players keeping up
  throughput   4 Mbit/s stream, players stepped up: CPU s per delivered GB, most players kept up (~3-4 min)
  decode       chunk decoder throughput, ssas vs node-media-server, on a captured ffmpeg publish
  bridge       script sandbox: Client.call round trips vs plain TypeScript, instance start, memory per
               instance and client, relay latency while another instance spins (~2 min)
  vod          N players of a 2 Mbit/s MP4 at real-time pace, ssas vs nginx-rtmp play (~3 min)
  record       50 simultaneous recordings: MB/s written, CPU, every frame in the files, vs nginx-rtmp (~1 min)
  republish    streams republished to K remotes by main.asc NetStream vs nginx-rtmp push: CPU, latency (~2 min)
  sharedobject 200 clients on one shared object: change-to-arrival latency vs a script broadcastMsg relay (~1 min)
  classes      script File.writeln/readln lines per second and a 1 MB XML parse, vs Node's fs / saxes (~30 s)
  rtmfp        RTMFP vs rtmfp-cpp's tcserver: 0.6 Mbit/s fan-out to RTMFP players, handshakes per second,
               one 4 Mbit/s flow (CPU s per MB) (~6 min)
  groups       RTMFP groups: a script publishes into a NetGroup (new NetStream(nc, groupspec)) to N librtmfp
               TestClients, vs the same N playing from ssas over RTMFP and with MonaTiny as the group's
               server: ssas CPU, bytes (copies) uploaded, first media, receivers kept up (root: ip netns; ~5 min)
  (no name: fanout and decode; "all" runs every benchmark; --throughput adds throughput)

options (environment variable in brackets):
  --quick              small smoke run (few players, short windows)
  --players 400,1000   fan-out player counts [BENCH_PLAYERS]
  --steps 250,500,...  throughput player steps (default 500,1000,1500,2000,3000,4000) [BENCH_STEPS]
  --servers ssas,nginx,nms                      [BENCH_SERVERS]
  --warmup SEC         warm-up before each window [BENCH_WARMUP]
  --measure SEC        measurement window [BENCH_MEASURE]
  --workers N          load client processes (default 1; bridge and vod: 2) [BENCH_WORKERS]
  --budget SEC         throughput: no new step after SEC per server (default 60) [BENCH_BUDGET]
  --decode-sec SEC     time per decode measurement [BENCH_DECODE_SEC]
  --repeat R           fan-out, bridge calls: R runs per server and N, round robin; the median is shown (bridge calls: 5 paired rounds by default) [BENCH_REPEAT]
  --profile            after fan-out, profile ssas at the largest N with perf; bridge: profile a sandbox run
  --ssas-root DIR      measure the ssas checkout in DIR (built) instead of this one [BENCH_SSAS_ROOT]
  --json FILE          also write the JSON figures to FILE
  bridge:       --parts calls,start,memory,isolation   --connections N (per worker, default 10)
                --spinners N (isolation: instances in a busy loop at once, default 1)
                --outstanding K (calls in flight per connection, default 8)   --instances N (default 30)
  vod:          --vod-steps 200,400,800,1200
  record:       --publishers N (default 50)   --record-sec SEC (seconds of the clip, default 20)
  republish:    --remotes 0,1,3,5   --streams N (media streams besides the probe, default 20)
  sharedobject: --so-clients N (default 200)   --so-sec SEC (default 20)
  classes:      --lines N (default 200000)   --xml-mb MB (default 1)   --rounds R (default 5)
  rtmfp:        --rtmfp-players 100,400   --rtmfp-parts fanout,handshake,flow   --hs-rates 25,50,100,...
                --hs-sec SEC (per rate, default 4)   --flow-sec SEC (default 10)   --repeat R (fan-out)
                --profile (ssas at the largest N under node --cpu-prof)   --servers ssas,tcserver
                --quiet-wait SEC (before each case, wait up to SEC for other work on the machine to stop)
  groups:       --group-receivers 10,50   --group-cases group,direct,mona   --first-wait SEC (default 40)
                --quiet-wait SEC (as for rtmfp)
`;

/** @param {string[]} argv */
function parse(argv) {
  /** @type {Record<string, string | boolean>} */
  const opts = {};
  const names = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const key = eq > 0 ? a.slice(2, eq) : a.slice(2);
      if (['quick', 'profile', 'throughput', 'help'].includes(key)) opts[key] = true;
      else opts[key] = eq > 0 ? a.slice(eq + 1) : (argv[++i] ?? '');
    } else if (a === '-h') opts.help = true;
    else names.push(a);
  }
  return { names, opts };
}

/** @param {string | boolean | undefined} v @param {string | undefined} env @param {number[]} dflt */
function list(v, env, dflt) {
  const s = typeof v === 'string' ? v : env;
  if (!s) return dflt;
  return s.split(',').map((x) => Number(x.trim())).filter((x) => Number.isFinite(x) && x > 0);
}

/** @param {string | boolean | undefined} v @param {string | undefined} env @param {number} dflt */
function num(v, env, dflt) {
  const s = typeof v === 'string' ? v : env;
  const n = s === undefined || s === '' ? NaN : Number(s);
  return Number.isFinite(n) && n > 0 ? n : dflt;
}

async function main() {
  const { names, opts } = parse(process.argv.slice(2));
  if (opts.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const known = ['fanout', 'throughput', 'decode', 'bridge', 'vod', 'record', 'republish', 'sharedobject', 'classes', 'rtmfp', 'groups', 'all'];
  for (const n of names) {
    if (!known.includes(n)) {
      process.stderr.write(`unknown benchmark "${n}"\n${HELP}`);
      return 2;
    }
  }
  let todo = names.length ? names : ['fanout', 'decode'];
  if (todo.includes('all')) todo = ['fanout', 'throughput', 'decode', 'bridge', 'vod', 'record', 'republish', 'sharedobject', 'classes', 'rtmfp', 'groups'];
  if (opts.throughput && !todo.includes('throughput')) todo.push('throughput');
  const quick = opts.quick === true;
  if (typeof opts['ssas-root'] === 'string' && opts['ssas-root']) process.env.BENCH_SSAS_ROOT = opts['ssas-root'];
  const env = process.env;
  const servers = (typeof opts.servers === 'string' ? opts.servers : env.BENCH_SERVERS || 'ssas,nginx,nms')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const workers = num(opts.workers, env.BENCH_WORKERS, 1);
  const workers2 = num(opts.workers, env.BENCH_WORKERS, 2);
  const given = (/** @type {string} */ k, /** @type {string | undefined} */ e) => typeof opts[k] === 'string' || (e !== undefined && e !== '');

  const { fanout, throughput } = require('./fanout');
  const { decode } = require('./decode');
  const { bridge } = require('./bridge');
  const { vod } = require('./vod');
  const { record } = require('./record');
  const { republish } = require('./republish');
  const { sharedobject } = require('./sharedobject');
  const { classes } = require('./classes');
  const { rtmfp } = require('./rtmfp');
  const { groups } = require('./groups');
  // The newer benchmarks keep their own window lengths unless --warmup / --measure say otherwise.
  const warm = (/** @type {number} */ d) => (given('warmup', env.BENCH_WARMUP) ? num(opts.warmup, env.BENCH_WARMUP, d) : d);
  const meas = (/** @type {number} */ d) => (given('measure', env.BENCH_MEASURE) ? num(opts.measure, env.BENCH_MEASURE, d) : d);
  /** @type {Record<string, unknown>} */
  const out = { version: 1, date: new Date().toISOString(), quick };
  for (const name of todo) {
    if (name === 'fanout') {
      out.fanout = await fanout({
        servers,
        players: list(opts.players, env.BENCH_PLAYERS, quick ? [50, 200] : [400, 1000]),
        warmupSec: num(opts.warmup, env.BENCH_WARMUP, quick ? 2 : 5),
        measureSec: num(opts.measure, env.BENCH_MEASURE, quick ? 4 : 15),
        workers,
        profile: opts.profile === true,
        repeat: num(opts.repeat, env.BENCH_REPEAT, 1),
      });
    } else if (name === 'throughput') {
      out.throughput = await throughput({
        servers,
        steps: list(opts.steps, env.BENCH_STEPS, quick ? [50, 100] : [500, 1000, 1500, 2000, 3000, 4000]),
        warmupSec: num(opts.warmup, env.BENCH_WARMUP, quick ? 1 : 3),
        measureSec: num(opts.measure, env.BENCH_MEASURE, quick ? 3 : 6),
        workers,
        budgetSec: num(opts.budget, env.BENCH_BUDGET, quick ? 30 : 60),
      });
    } else if (name === 'decode') {
      out.decode = await decode({ seconds: num(opts['decode-sec'], env.BENCH_DECODE_SEC, quick ? 0.5 : 2) });
    } else if (name === 'bridge') {
      out.bridge = await bridge({
        quick,
        workers: workers2,
        clients: num(opts.connections, undefined, quick ? 5 : 10),
        outstanding: num(opts.outstanding, undefined, 8),
        warmupSec: warm(quick ? 1 : 2),
        measureSec: meas(quick ? 3 : 8),
        // Call throughput on a shared 2-core VM varies by +-30 % from run to run: 5 paired rounds, median.
        repeat: num(opts.repeat, env.BENCH_REPEAT, quick ? 1 : 5),
        instances: num(opts.instances, undefined, quick ? 10 : 30),
        idleInstances: quick ? 5 : 20,
        memClients: quick ? 50 : 200,
        spins: quick ? 1 : 2,
        spinners: num(opts.spinners, undefined, 1),
        baselineSec: quick ? 2 : 5,
        servers,
        parts: (typeof opts.parts === 'string' ? opts.parts : 'calls,start,memory,isolation').split(',').map((x) => x.trim()),
        profile: opts.profile === true,
      });
    } else if (name === 'vod') {
      out.vod = await vod({
        servers,
        steps: list(opts['vod-steps'], undefined, quick ? [20, 50] : [200, 400, 800, 1200]),
        warmupSec: warm(quick ? 2 : 3),
        measureSec: meas(quick ? 3 : 8),
        workers: workers2,
      });
    } else if (name === 'record') {
      out.record = await record({
        servers,
        publishers: num(opts.publishers, undefined, quick ? 10 : 50),
        seconds: num(opts['record-sec'], undefined, quick ? 5 : 20),
      });
    } else if (name === 'republish') {
      out.republish = await republish({
        servers,
        ks: typeof opts.remotes === 'string' ? opts.remotes.split(',').map(Number).filter((x) => Number.isInteger(x) && x >= 0) : quick ? [0, 1, 3] : [0, 1, 3, 5],
        streams: num(opts.streams, undefined, quick ? 4 : 20),
        settleSec: warm(quick ? 2 : 3),
        measureSec: meas(quick ? 3 : 8),
      });
    } else if (name === 'sharedobject') {
      out.sharedobject = await sharedobject({
        clients: num(opts['so-clients'], undefined, quick ? 50 : 200),
        workers: workers2,
        seconds: num(opts['so-sec'], undefined, quick ? 5 : 20),
        periodMs: 1000,
      });
    } else if (name === 'classes') {
      out.classes = await classes({
        lines: num(opts.lines, undefined, quick ? 20000 : 200000),
        xmlBytes: Math.round(num(opts['xml-mb'], undefined, 1) * 1024 * 1024),
        rounds: num(opts.rounds, undefined, quick ? 2 : 5),
      });
    } else if (name === 'rtmfp') {
      // Its own pair of servers: --servers picks among ssas and tcserver only.
      const rtmfpServers = given('servers', env.BENCH_SERVERS) ? servers.filter((s) => s === 'ssas' || s === 'tcserver') : ['ssas', 'tcserver'];
      out.rtmfp = await rtmfp({
        servers: rtmfpServers,
        parts: (typeof opts['rtmfp-parts'] === 'string' ? opts['rtmfp-parts'] : 'fanout,handshake,flow').split(',').map((x) => x.trim()),
        players: list(opts['rtmfp-players'], undefined, quick ? [20, 50] : [100, 400]),
        warmupSec: warm(quick ? 2 : 5),
        measureSec: meas(quick ? 4 : 15),
        workers: workers2,
        repeat: num(opts.repeat, env.BENCH_REPEAT, 1),
        hsRates: list(opts['hs-rates'], undefined, quick ? [25, 50, 100] : [25, 50, 100, 200, 400, 800]),
        hsSec: num(opts['hs-sec'], undefined, quick ? 2 : 4),
        flowWarmupSec: warm(quick ? 2 : 3),
        flowSec: num(opts['flow-sec'], undefined, quick ? 4 : 10),
        profile: opts.profile === true,
        quick,
        quietWaitSec: num(opts['quiet-wait'], undefined, 0),
      });
    } else if (name === 'groups') {
      out.groups = await groups({
        receivers: list(opts['group-receivers'], undefined, quick ? [5, 10] : [10, 50]),
        cases: (typeof opts['group-cases'] === 'string' ? opts['group-cases'] : 'group,direct,mona').split(',').map((x) => x.trim()),
        warmupSec: warm(quick ? 2 : 5),
        measureSec: meas(quick ? 6 : 15),
        firstWaitSec: num(opts['first-wait'], undefined, 40),
        quietWaitSec: num(opts['quiet-wait'], undefined, 0),
        quick,
      });
    }
  }
  const json = JSON.stringify(out);
  console.log(chalk.dim('\nraw figures (JSON):'));
  console.log(json);
  if (typeof opts.json === 'string' && opts.json) fs.writeFileSync(opts.json, json + '\n');
  return 0;
}

// Ctrl-C / kill: exit through process.exit so that common.js stops every server, player and ffmpeg.
for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) {
  process.on(sig, () => {
    process.stderr.write(chalk.yellow(`\n${sig}: stopping\n`));
    process.exit(130);
  });
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(chalk.red(`bench failed: ${(err && err.stack) || err}\n`));
    process.exit(1);
  },
);
