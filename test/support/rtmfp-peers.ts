/**
 * The RTMFP interop peers from ../shared/peers (see its README): rtmfp-cpp's tcserver / tcconn /
 * tcpublish / tcrelay, librtmfp's TestClient and MonaServer2's MonaTiny, run as tracked child processes
 * on 127.0.0.1. `bash ../shared/peers/build.sh` builds them into ~/.cache/ssas-peers/bin (CI does it in
 * .ci/run), so a missing binary is a test failure, never a skip.
 *
 * What the peers print, and what these helpers rely on:
 * - tcserver: one JSON object per line on stdout (`{"@type":"listen","bind":"127.0.0.1:P","proto":"rtmfp"}`
 *   per listener, in command-line order, then `{"@type":"run"}` once it serves; `accept`, `connect`,
 *   `play`, `publish`, `unpublish`, `close`, `stats`... afterwards). It accepts port 0 and logs the port
 *   the kernel gave it, so by default no port is chosen in advance. A port it cannot bind makes it exit 1.
 *   SIGTERM is a graceful shutdown that waits for clients (up to 300 s), so it is stopped with SIGINT.
 * - tcconn: `onConnect success {...}`, then `stream onVideo ts: T len: N` / `stream onAudio ts: T len: N`
 *   per message; statuses are multi-line JSON blocks with a `"code": "..."` line. Runs until a signal.
 * - tcpublish: `onConnect success: {...}`, `publish start.`, `publish stop.`, `end.`; exits at the end of
 *   the FLV (sent in real time; the FLV must start at timestamp 0).
 * - TestClient: `File.cpp[line] message` lines wrapped in ANSI colour codes even when not on a terminal
 *   (stripped here); `Status Event 'CODE' : text`, `Connecting to group G:...` once it joins a NetGroup;
 *   `End of the program` last. Publishing ends at the end of the file; playing runs until a signal.
 * - MonaTiny: nothing on stdout; `logs/0.log` next to its ini gets `RTMFP server started on 127.0.0.1:P`
 *   (or `RTMFP server, <error> (address=...)`, after which it keeps running doing nothing).
 *
 * The rtmfp-cpp programs and TestClient only flush stdout when their buffer fills (tcserver every 5 s),
 * so they run under coreutils' `stdbuf -oL` to make their lines visible as they happen.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SsasError } from '../../src/errors';
import { LOOPBACK } from './ports';
import type { Netns } from './netns';
import { spawnTracked, type ExitInfo, type SpawnTrackedOptions, type TrackedProcess } from './processes';
import { makeTempDir, removeDir } from './tmp';

export type RtmfpPeerName = 'tcserver' | 'tcconn' | 'tcpublish' | 'tcrelay' | 'TestClient' | 'MonaTiny';

export const RTMFP_PEER_NAMES: readonly RtmfpPeerName[] = ['tcserver', 'tcconn', 'tcpublish', 'tcrelay', 'TestClient', 'MonaTiny'];

/** The NetGroup of the shared peers' README and smoke test: version 2, group name "test". */
export const DEFAULT_GROUPSPEC = 'G:027f0201010103010c050e74657374011b00';
/** Group ID of DEFAULT_GROUPSPEC on the wire (what MonaTiny logs as "join group <id>"). */
export const DEFAULT_GROUP_ID = '763f90e4b524a0e026052bb5696bd143246f26c6eb0b9fa31b0d1ed39a092620';

// ------------------------------------------------------------------------------------------ binaries

/** Where build.sh put the binaries: $SSAS_PEERS_DIR, else ${XDG_CACHE_HOME:-~/.cache}/ssas-peers/bin. */
export function rtmfpPeersDir(): string {
  if (process.env.SSAS_PEERS_DIR) return process.env.SSAS_PEERS_DIR;
  const cache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cache, 'ssas-peers', 'bin');
}

function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile(); // follows build.sh's symlinks
  } catch {
    return false;
  }
}

/** Path of the binary, or undefined when it has not been built. */
export function findRtmfpPeer(name: RtmfpPeerName): string | undefined {
  const file = path.join(rtmfpPeersDir(), name);
  return isExecutableFile(file) ? file : undefined;
}

/** Path of the binary; throws ERR_TEST_PEER_MISSING (the test fails) when it has not been built. */
export function requireRtmfpPeer(name: RtmfpPeerName): string {
  const found = findRtmfpPeer(name);
  if (found === undefined) {
    const file = path.join(rtmfpPeersDir(), name);
    throw new SsasError(
      'ERR_TEST_PEER_MISSING',
      `RTMFP test peer "${name}" is not built: no executable ${file}. From the project root run ` +
        '`bash ../shared/peers/build.sh` (needs `apt-get install build-essential libssl-dev`; binaries go to ' +
        '${XDG_CACHE_HOME:-~/.cache}/ssas-peers/bin, or point SSAS_PEERS_DIR at another bin folder). ' +
        'CI builds them in .ci/run, so this is a failure, not a skip',
      { peer: name, path: file },
    );
  }
  return found;
}

let stdbufPath: string | undefined;

/** coreutils' stdbuf, used to line-buffer the peers' stdout. */
function requireStdbuf(): string {
  if (stdbufPath) return stdbufPath;
  for (const candidate of ['/usr/bin/stdbuf', '/bin/stdbuf']) {
    if (isExecutableFile(candidate)) return (stdbufPath = candidate);
  }
  throw new SsasError(
    'ERR_TEST_PEER_MISSING',
    'stdbuf (coreutils) is needed to line-buffer the RTMFP peers\' output: apt-get install coreutils',
    { peer: 'stdbuf' },
  );
}

/** Spawns a peer binary under `stdbuf -oL -eL` (stdbuf execs it, so the pid is the peer's own). */
/** Where a peer runs: this machine's network, or a namespace of the test's own (netns.ts). */
export interface InNetns {
  netns?: Netns;
}

function spawnPeer(name: RtmfpPeerName, args: readonly string[], options: SpawnTrackedOptions & InNetns): TrackedProcess {
  const bin = requireRtmfpPeer(name);
  const { netns, ...opts } = options;
  if (netns) return netns.spawn(requireStdbuf(), ['-oL', '-eL', bin, ...args], { name, ...opts });
  return spawnTracked(requireStdbuf(), ['-oL', '-eL', bin, ...args], { name, ...opts });
}

// ------------------------------------------------------------------------------------------ helpers

const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

/** Text without ANSI colour escapes (TestClient colours every line). */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/** Calls `onLine` for every complete stdout line of the process, however much output it captures. */
function onStdoutLines(proc: TrackedProcess, onLine: (line: string) => void): void {
  let partial = '';
  const stdout = proc.child.stdout;
  if (!stdout) return;
  stdout.on('data', (chunk: string | Buffer) => {
    partial += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let nl = partial.indexOf('\n');
    while (nl >= 0) {
      onLine(partial.slice(0, nl));
      partial = partial.slice(nl + 1);
      nl = partial.indexOf('\n');
    }
  });
  stdout.on('end', () => {
    if (partial) onLine(partial);
    partial = '';
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** `"code": "NetStream.Play.Start"` lines of rtmfp-cpp's status dumps. */
const STATUS_CODE = /"code": "([^"]+)"/;

// ------------------------------------------------------------------------------------------ tcserver

/** One JSON log line of tcserver (`@type` is accept, connect, play, publish, stats, ...). */
export interface TcserverEvent {
  '@type': string;
  '@timestamp'?: number;
  [key: string]: unknown;
}

export interface TcserverOptions extends InNetns {
  /** UDP port for RTMFP (-B). Default 0: the kernel picks it when tcserver binds, read back from its log. */
  rtmfpPort?: number;
  /** TCP port for RTMP (-b); false for no RTMP listener. Default 0 (kernel-chosen, read back). */
  rtmpPort?: number | false;
  /** More tcserver options (-H, -S, -m, -k key, -v ...). */
  extraArgs?: string[];
  startTimeoutMs?: number;
  /** Mirror its output to this process's stderr. */
  echo?: boolean;
}

export interface Tcserver {
  process: TrackedProcess;
  rtmfpPort: number;
  /** Undefined with `rtmpPort: false`. */
  rtmpPort: number | undefined;
  /** Server fingerprint (hex), from its first log line. */
  fingerprint: string;
  /** rtmfp://127.0.0.1:P/app[#stream] - the URI syntax of tcconn and tcpublish (stream after '#'). */
  rtmfpUrl(app?: string, stream?: string): string;
  /** rtmp://127.0.0.1:P/app[/stream] for ffmpeg and other RTMP clients. */
  rtmpUrl(app?: string, stream?: string): string;
  /** Every JSON line so far (optionally of one @type), in order. */
  events(type?: string): TcserverEvent[];
  /** Resolves with the first event (seen before or after the call) of that type that matches. */
  waitForEvent(type: string, match?: (e: TcserverEvent) => boolean, timeoutMs?: number): Promise<TcserverEvent>;
  /** SIGINT (tcserver's "shut down now"), SIGKILL after a grace period. */
  stop(): Promise<ExitInfo>;
  /** Milliseconds from spawn to the `run` line. */
  startupMs: number;
}

/** Starts tcserver on 127.0.0.1 and resolves once it logged `{"@type":"run"}`. */
export async function startTcserver(options: TcserverOptions = {}): Promise<Tcserver> {
  const rtmfpPort = options.rtmfpPort ?? 0;
  const rtmpPort = options.rtmpPort === false ? undefined : (options.rtmpPort ?? 0);
  const args = ['-B', `${LOOPBACK}:${rtmfpPort}`];
  if (rtmpPort !== undefined) args.push('-b', `${LOOPBACK}:${rtmpPort}`);
  args.push(...(options.extraArgs ?? []));

  const events: TcserverEvent[] = [];
  const waiters: Array<{ type: string; match: (e: TcserverEvent) => boolean; resolve: (e: TcserverEvent) => void }> = [];
  const started = Date.now();
  // SIGTERM would wait for every client to leave (default deadline 300 s).
  const proc = spawnPeer('tcserver', args, { killSignal: 'SIGINT', echo: options.echo, netns: options.netns });
  onStdoutLines(proc, (line) => {
    if (!line.startsWith('{')) return;
    let event: TcserverEvent;
    try {
      event = JSON.parse(line) as TcserverEvent;
    } catch {
      return; // pretty-printed SIGUSR2 dumps span lines
    }
    if (typeof event['@type'] !== 'string') return;
    events.push(event);
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      if (w.type === event['@type'] && w.match(event)) {
        waiters.splice(i, 1);
        w.resolve(event);
      }
    }
  });

  const waitForEvent = (type: string, match: (e: TcserverEvent) => boolean = () => true, timeoutMs = 10_000): Promise<TcserverEvent> => {
    const seen = events.find((e) => e['@type'] === type && match(e));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        type,
        match,
        resolve: (e: TcserverEvent) => {
          clearTimeout(timer);
          resolve(e);
        },
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new SsasError('ERR_TEST_PEER_TIMEOUT', `tcserver logged no matching "${type}" event within ${timeoutMs} ms\n${proc.describe()}`));
      }, timeoutMs);
      waiters.push(waiter);
      void proc.exited.then(() => {
        if (!waiters.includes(waiter)) return;
        waiters.splice(waiters.indexOf(waiter), 1);
        clearTimeout(timer);
        reject(new SsasError('ERR_TEST_PROCESS_EXITED', `tcserver exited before logging a matching "${type}" event\n${proc.describe()}`));
      });
    });
  };

  try {
    await waitForEvent('run', () => true, options.startTimeoutMs ?? 10_000);
  } catch (e) {
    await proc.kill(1000);
    throw new SsasError('ERR_TEST_PEER_START', `tcserver did not start (a port in use makes it exit 1)\n${proc.describe()}`, {}, { cause: e });
  }
  const listens = events.filter((e) => e['@type'] === 'listen');
  const portOf = (proto: string): number | undefined => {
    const bind = listens.find((e) => e.proto === proto)?.bind;
    const m = typeof bind === 'string' ? /:(\d+)$/.exec(bind) : null;
    return m ? Number(m[1]) : undefined;
  };
  const actualRtmfp = portOf('rtmfp');
  const actualRtmp = rtmpPort === undefined ? undefined : portOf('rtmp');
  if (!actualRtmfp || (rtmpPort !== undefined && !actualRtmp)) {
    await proc.kill(1000);
    throw new SsasError('ERR_TEST_PEER_START', `tcserver logged no usable "listen" lines\n${proc.describe()}`);
  }
  const fingerprint = String(events.find((e) => e['@type'] === 'rtmfp')?.fingerprint ?? '');
  const startupMs = Date.now() - started;
  return {
    process: proc,
    rtmfpPort: actualRtmfp,
    rtmpPort: actualRtmp,
    fingerprint,
    rtmfpUrl: (app = 'live', stream?: string) => `rtmfp://${LOOPBACK}:${actualRtmfp}/${app}${stream !== undefined ? `#${stream}` : ''}`,
    rtmpUrl: (app = 'live', stream?: string) => {
      if (actualRtmp === undefined) throw new Error('tcserver was started without an RTMP listener (rtmpPort: false)');
      return `rtmp://${LOOPBACK}:${actualRtmp}/${app}${stream !== undefined ? `/${stream}` : ''}`;
    },
    events: (type?: string) => (type === undefined ? [...events] : events.filter((e) => e['@type'] === type)),
    waitForEvent,
    stop: () => proc.kill(3000),
    startupMs,
  };
}

// ------------------------------------------------------------------------------------------ tcconn

export interface TcconnCounts {
  videoMessages: number;
  audioMessages: number;
  videoBytes: number;
  audioBytes: number;
  /** videoBytes + audioBytes (payloads as tcconn reports them, without FLV tag headers). */
  bytes: number;
  /** `stream onData` messages (|RtmpSampleAccess, onMetaData ...). */
  dataMessages: number;
  /** Timestamps (ms) of the first and last video message, when there was one. */
  firstVideoTs?: number;
  lastVideoTs?: number;
}

export interface TcconnResult extends TcconnCounts {
  /** It printed `onConnect success`. */
  connected: boolean;
  /** Every status code it printed (connection and stream), in order. */
  statuses: string[];
  exit: ExitInfo;
  output: string;
  process: TrackedProcess;
}

export interface TcconnOptions extends InNetns {
  /**
   * tcconn options (-H, -S, -f hex, -m, -v ...). `-4` (bind 0.0.0.0 only, the servers here are IPv4) is
   * added unless the list has -4 or -6.
   */
  args?: string[];
  echo?: boolean;
}

export interface Tcconn {
  process: TrackedProcess;
  counts(): TcconnCounts;
  statuses(): string[];
  /** Resolves on `onConnect success`; rejects on `onConnect failure`, exit or timeout. */
  waitForConnect(timeoutMs?: number): Promise<void>;
  /** Resolves once at least this many video and audio messages arrived. */
  waitForMedia(minVideo: number, minAudio: number, timeoutMs?: number): Promise<void>;
  /** SIGTERM (tcconn closes its session and prints `end.`), SIGKILL after a grace period. */
  stop(): Promise<TcconnResult>;
}

const TCCONN_MEDIA = /^stream on(Video|Audio) ts: (\d+) len: (\d+)/;

/**
 * Starts tcconn playing `url` (rtmfp://host:port/app[/instance][#stream], stream "live" by default) and
 * counts what it receives until stop().
 */
export function startTcconn(url: string, options: TcconnOptions = {}): Tcconn {
  const extra = options.args ?? [];
  const args = extra.includes('-4') || extra.includes('-6') ? [...extra, url] : ['-4', ...extra, url];
  const counts: TcconnCounts = { videoMessages: 0, audioMessages: 0, videoBytes: 0, audioBytes: 0, bytes: 0, dataMessages: 0 };
  const statuses: string[] = [];
  let connected: boolean | undefined;
  const proc = spawnPeer('tcconn', args, { echo: options.echo, killGraceMs: 3000, netns: options.netns });
  onStdoutLines(proc, (line) => {
    const m = TCCONN_MEDIA.exec(line);
    if (m) {
      const ts = Number(m[2]);
      const len = Number(m[3]);
      if (m[1] === 'Video') {
        counts.videoMessages++;
        counts.videoBytes += len;
        counts.firstVideoTs ??= ts;
        counts.lastVideoTs = ts;
      } else {
        counts.audioMessages++;
        counts.audioBytes += len;
      }
      counts.bytes += len;
      return;
    }
    if (line.startsWith('stream onData ')) counts.dataMessages++;
    else if (line.startsWith('onConnect success')) connected = true;
    else if (line.startsWith('onConnect failure')) connected = false;
    const s = STATUS_CODE.exec(line);
    if (s) statuses.push(s[1]!);
  });

  const snapshot = (): TcconnCounts => ({ ...counts });
  const poll = async (cond: () => boolean, timeoutMs: number, what: string): Promise<void> => {
    const end = Date.now() + timeoutMs;
    while (!cond()) {
      if (!proc.running) throw new SsasError('ERR_TEST_PROCESS_EXITED', `tcconn exited before ${what}\n${proc.describe()}`);
      if (connected === false) throw new SsasError('ERR_TEST_PEER_CONNECT', `tcconn could not connect (${what})\n${proc.describe()}`);
      if (Date.now() > end) throw new SsasError('ERR_TEST_PEER_TIMEOUT', `tcconn: no ${what} within ${timeoutMs} ms\n${proc.describe()}`);
      await sleep(20);
    }
  };
  return {
    process: proc,
    counts: snapshot,
    statuses: () => [...statuses],
    waitForConnect: (timeoutMs = 15_000) => poll(() => connected === true, timeoutMs, 'onConnect success'),
    waitForMedia: (minVideo, minAudio, timeoutMs = 15_000) =>
      poll(() => counts.videoMessages >= minVideo && counts.audioMessages >= minAudio, timeoutMs, `${minVideo} video + ${minAudio} audio messages`),
    stop: async () => {
      const exit = await proc.kill();
      return { ...snapshot(), connected: connected === true, statuses: [...statuses], exit, output: proc.output(), process: proc };
    },
  };
}

/**
 * Plays `url` with tcconn for `durationMs` (counted from spawn; it needs well under a second to connect
 * on loopback), then stops it and returns what it received.
 */
export async function runTcconn(url: string, options: TcconnOptions & { durationMs: number }): Promise<TcconnResult> {
  const conn = startTcconn(url, options);
  await Promise.race([sleep(options.durationMs), conn.process.exited]);
  return conn.stop();
}

// ------------------------------------------------------------------------------------------ tcpublish

export interface TcpublishResult extends ExitInfo {
  /** It printed `publish start.` (the server answered NetStream.Publish.Start). */
  published: boolean;
  /** It printed `publish stop.` (it reached the end of the file). */
  finished: boolean;
  statuses: string[];
  timedOut: boolean;
  output: string;
  process: TrackedProcess;
}

export interface TcpublishOptions extends InNetns {
  /** tcpublish options (-L, -R, -H, -S, -f hex ...); `-4` is added unless the list has -4 or -6. */
  args?: string[];
  /** Hard limit, then SIGTERM/SIGKILL. Default 60 s (it sends in real time). */
  timeoutMs?: number;
  echo?: boolean;
}

/**
 * Publishes an FLV (starting at timestamp 0) in real time to `url` (rtmfp://host:port/app[#stream],
 * stream name defaults to the file name without .flv); resolves when tcpublish exits.
 */
export async function runTcpublish(url: string, flvFile: string, options: TcpublishOptions = {}): Promise<TcpublishResult> {
  const extra = options.args ?? [];
  const args = extra.includes('-4') || extra.includes('-6') ? [...extra, url, flvFile] : ['-4', ...extra, url, flvFile];
  const statuses: string[] = [];
  let published = false;
  let finished = false;
  const proc = spawnPeer('tcpublish', args, { echo: options.echo, killGraceMs: 3000, netns: options.netns });
  onStdoutLines(proc, (line) => {
    if (line.startsWith('publish start.')) published = true;
    else if (line.startsWith('publish stop.')) finished = true;
    const s = STATUS_CODE.exec(line);
    if (s) statuses.push(s[1]!);
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void proc.kill();
  }, options.timeoutMs ?? 60_000);
  const exit = await proc.exited;
  clearTimeout(timer);
  return { ...exit, published, finished, statuses, timedOut, output: proc.output(), process: proc };
}

// ------------------------------------------------------------------------------------------ MonaTiny

export interface MonaTinyOptions extends InNetns {
  /**
   * UDP port for RTMFP (e.g. from freeUdpPort()). Default 0: the kernel picks it when MonaTiny binds and
   * it is read back from the log.
   */
  port?: number;
  /** --log level, 0..8 (default 7: handshakes, "join group", "Rendezvous request from"). */
  logLevel?: number;
  /** More MonaTiny options (--dump, --dumpLimit=N). */
  args?: string[];
  /** Raw ini lines appended after the [RTMFP] keys (still in the [RTMFP] section). */
  rtmfpIni?: string[];
  startTimeoutMs?: number;
  /** Keep the temp dir (ini, logs) after the process exits. */
  keepDir?: boolean;
}

export interface MonaTiny {
  port: number;
  /** rtmfp://127.0.0.1:P/app[/stream] - TestClient's URL syntax (last path part = stream name). */
  url(app?: string, stream?: string): string;
  dir: string;
  iniFile: string;
  logFile: string;
  /** Current logs/0.log (kept in memory after exit, when the temp dir is removed). */
  log(): string;
  /** Polls the log until the regex matches. */
  waitForLog(regex: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  process: TrackedProcess;
  stop(): Promise<ExitInfo>;
  startupMs: number;
}

function monaTinyIni(port: number, extra: readonly string[]): string {
  // Only RTMFP; everything else off so nothing binds 80/443/1935 (ini of ../shared/peers/README.md).
  return [
    'cores=2',
    '[logs]',
    'directory=logs',
    '[RTMFP]',
    `host=${LOOPBACK}`,
    `port=${port}`,
    ...extra,
    '[RTMP=false]',
    '[RTMPS=false]',
    '[HTTP=false]',
    '[HTTPS=false]',
    '[WS=false]',
    '[WSS=false]',
    '[STUN=false]',
    '[SRT=false]',
    '',
  ].join('\n');
}

/** Starts MonaTiny as an RTMFP-only server in a temp dir; resolves once its log says the server started. */
export async function startMonaTiny(options: MonaTinyOptions = {}): Promise<MonaTiny> {
  requireRtmfpPeer('MonaTiny'); // before the temp dir, so a missing binary leaves nothing behind
  const logLevel = options.logLevel ?? 7;
  if (logLevel < 5) throw new Error('startMonaTiny: logLevel must be at least 5 (the "RTMFP server started" line is a NOTE)');
  const dir = makeTempDir('monatiny');
  const iniFile = path.join(dir, 'MonaTiny.ini');
  const logFile = path.join(dir, 'logs', '0.log');
  fs.writeFileSync(iniFile, monaTinyIni(options.port ?? 0, options.rtmfpIni ?? []));
  let finalLog: string | undefined;
  const started = Date.now();
  const proc = spawnPeer('MonaTiny', [iniFile, `--log=${logLevel}`, ...(options.args ?? [])], {
    netns: options.netns,
    cwd: dir,
    onExit: () => {
      finalLog = readText(logFile);
      if (!options.keepDir) removeDir(dir);
    },
  });
  const log = (): string => finalLog ?? readText(logFile);
  const waitForLog = async (regex: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const m = log().match(regex);
      if (m) return m;
      if (!proc.running) {
        throw new SsasError('ERR_TEST_PROCESS_EXITED', `MonaTiny exited before its log matched ${regex}\n${proc.describe()}\n--- ${logFile} ---\n${log().slice(-3000)}`);
      }
      if (Date.now() > end) {
        throw new SsasError('ERR_TEST_PEER_TIMEOUT', `MonaTiny's log did not match ${regex} within ${timeoutMs} ms\n--- ${logFile} ---\n${log().slice(-3000)}`);
      }
      await sleep(25);
    }
  };
  let port: number;
  try {
    const m = await waitForLog(/RTMFP server started on [\d.]+:(\d+)|RTMFP server, ([^\n]*)/, options.startTimeoutMs ?? 10_000);
    if (m[2] !== undefined) {
      throw new SsasError('ERR_TEST_PEER_START', `MonaTiny could not open its RTMFP port: ${m[2].trim()}\n--- ${logFile} ---\n${log().slice(-3000)}`, {
        port: options.port,
      });
    }
    port = Number(m[1]);
  } catch (e) {
    await proc.kill(1000);
    throw e;
  }
  return {
    port,
    url: (app = 'app', stream?: string) => `rtmfp://${LOOPBACK}:${port}/${app}${stream !== undefined ? `/${stream}` : ''}`,
    dir,
    iniFile,
    logFile,
    log,
    waitForLog,
    process: proc,
    stop: () => proc.kill(3000),
    startupMs: Date.now() - started,
  };
}

// ------------------------------------------------------------------------------------------ TestClient

export type TestClientMode = 'play' | 'publish';

export interface TestClientOptions extends InNetns {
  /** rtmfp://host:port/app/stream - the last path part is the stream name. */
  url: string;
  /** play (--asyncread, the default) or publish (--write). */
  mode?: TestClientMode;
  /** publish: the FLV to send (required). play: where to write what arrives (default <dir>/received.flv). */
  mediaFile?: string;
  /** Join this NetGroup (groupspec, e.g. DEFAULT_GROUPSPEC) and publish/play through it. */
  netGroup?: string;
  /** More TestClient options (--peerId=..., --fallbackUrl=..., --audioUnbuffered, --dump ...). */
  args?: string[];
  /** --log level 0..8 (default 6: statuses, group and P2P progress). */
  logLevel?: number;
  /**
   * Bind 127.0.0.1 and [::1] (--host, --hostIPv6; default true). Otherwise librtmfp binds every interface
   * and announces the machine's non-loopback addresses to its peers, so P2P media leaves loopback.
   */
  bindLoopback?: boolean;
  /**
   * Folder for received.flv and the --logfile (default: a new temp dir that is left in place so the
   * caller can read what was received; remove it with removeDir(result.dir)).
   */
  dir?: string;
  echo?: boolean;
}

export interface TestClientResult extends ExitInfo {
  timedOut: boolean;
  /** stdout + stderr without colour codes. */
  output: string;
  /** Status codes from `Status Event 'CODE'` lines, in order. */
  statuses: string[];
  /** Its peer ID (hex), once connected. */
  peerId?: string;
  /** Last NetGroup summary with at least one peer: `Peers connected to group test : 1/1 ; ... P2P success : 1/1`. */
  group?: { name: string; peersConnected: string; p2pSuccess: string };
  mode: TestClientMode;
  /** The FLV it sent or wrote. */
  mediaFile: string;
  /** Size of mediaFile now (for play: what was received). */
  mediaBytes: number;
  /** --logfile (flushed per line, with timestamps and levels). */
  logFile: string;
  dir: string;
  process: TrackedProcess;
}

export interface TestClient {
  process: TrackedProcess;
  mode: TestClientMode;
  mediaFile: string;
  logFile: string;
  dir: string;
  /** Resolves when its (colour-stripped) output matches. */
  waitFor(regex: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Waits for `Connecting to group` (it is connected to the server and asked to join the NetGroup). */
  waitForGroupJoin(timeoutMs?: number): Promise<void>;
  /** Result once it exited by itself (publish ends at the end of the file). */
  result(): Promise<TestClientResult>;
  /** SIGTERM (it closes the stream and the files, then exits 0), SIGKILL after a grace period. */
  stop(): Promise<TestClientResult>;
}

function parseTestClientOutput(raw: string): Pick<TestClientResult, 'statuses' | 'peerId' | 'group'> & { output: string } {
  const output = stripAnsi(raw);
  const statuses = [...output.matchAll(/Status Event '([^']+)'/g)].map((m) => m[1]!);
  const peerId = /Peer ID : \s*([0-9a-f]{64})/.exec(output)?.[1];
  let group: TestClientResult['group'];
  for (const m of output.matchAll(/Peers connected to group (\S+) : (\d+\/\d+) ; target count[^;]*; P2P success : (\d+\/\d+)/g)) {
    if (!m[2]!.startsWith('0/')) group = { name: m[1]!, peersConnected: m[2]!, p2pSuccess: m[3]! };
  }
  return { output, statuses, peerId, group };
}

let testClientCounter = 0;

/** Starts librtmfp's TestClient (play or publish, optionally through a NetGroup). */
export function startTestClient(options: TestClientOptions): TestClient {
  return launchTestClient(options).client;
}

function launchTestClient(options: TestClientOptions): { client: TestClient; markTimedOut(): void } {
  const mode = options.mode ?? 'play';
  requireRtmfpPeer('TestClient'); // before the temp dir, so a missing binary leaves nothing behind
  const dir = options.dir ?? makeTempDir('testclient');
  fs.mkdirSync(dir, { recursive: true });
  let mediaFile: string;
  if (mode === 'publish') {
    if (!options.mediaFile) throw new Error('startTestClient: publish needs mediaFile (the FLV to send)');
    mediaFile = options.mediaFile;
  } else {
    mediaFile = options.mediaFile ?? path.join(dir, 'received.flv');
  }
  const logFile = path.join(dir, `testclient-${mode}-${process.pid}-${++testClientCounter}.log`);
  const args = [`--url=${options.url}`, mode === 'publish' ? '--write' : '--asyncread', `--mediaFile=${mediaFile}`];
  args.push(`--log=${options.logLevel ?? 6}`, `--logfile=${logFile}`);
  if (options.netGroup) args.push(`--netGroup=${options.netGroup}`);
  if (options.bindLoopback ?? true) args.push(`--host=${LOOPBACK}`, '--hostIPv6=::1');
  args.push(...(options.args ?? []));
  const proc = spawnPeer('TestClient', args, { echo: options.echo, killGraceMs: 5000, netns: options.netns });
  let timedOut = false;

  const build = (exit: ExitInfo): TestClientResult => ({
    ...exit,
    ...parseTestClientOutput(proc.output()),
    timedOut,
    mode,
    mediaFile,
    mediaBytes: fileSize(mediaFile),
    logFile,
    dir,
    process: proc,
  });
  const waitFor = async (regex: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const m = stripAnsi(proc.output()).match(regex);
      if (m) return m;
      if (!proc.running) throw new SsasError('ERR_TEST_PROCESS_EXITED', `TestClient exited before its output matched ${regex}\n${proc.describe()}`);
      if (Date.now() > end) throw new SsasError('ERR_TEST_PEER_TIMEOUT', `TestClient: no output matching ${regex} within ${timeoutMs} ms\n${proc.describe()}`);
      await sleep(20);
    }
  };
  const client: TestClient = {
    process: proc,
    mode,
    mediaFile,
    logFile,
    dir,
    waitFor,
    waitForGroupJoin: async (timeoutMs = 20_000) => {
      await waitFor(/Connecting to group /, timeoutMs);
    },
    result: async () => build(await proc.exited),
    stop: async () => build(await proc.kill()),
  };
  return {
    client,
    markTimedOut: () => {
      timedOut = true;
    },
  };
}

/**
 * Runs TestClient to the end: publish until the end of the file (hard limit `timeoutMs`, default 60 s),
 * play for `durationMs` (default 10 s) and then stop it. Media files and the log stay in `dir`.
 */
export async function runTestClient(options: TestClientOptions & { durationMs?: number; timeoutMs?: number }): Promise<TestClientResult> {
  const { client, markTimedOut } = launchTestClient(options);
  if (client.mode === 'play') {
    await Promise.race([sleep(options.durationMs ?? 10_000), client.process.exited]);
    return client.stop();
  }
  const timer = setTimeout(() => {
    markTimedOut();
    void client.process.kill();
  }, options.timeoutMs ?? 60_000);
  try {
    return await client.result();
  } finally {
    clearTimeout(timer);
  }
}
