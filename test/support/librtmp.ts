/**
 * TypeScript side of test/support/python/rtmp_client.py: a real librtmp client (Debian python3-librtmp)
 * that connects with explicit app/tcUrl and extra connect arguments, makes calls, answers server calls,
 * plays a stream and reports every message it sees as JSON lines.
 */
import * as path from 'path';
import { SsasError } from '../../src/errors';
import { requirePeer } from './peers';
import { spawnTracked, type TrackedProcess } from './processes';

/**
 * JSON view of AMF0 values. Special forms: {$undefined: true}, {$date: ms}, {$ecma: {...}},
 * {$class: 'Name', ...props}, {$number: 'NaN'}, {$xml: '...'}, {$amf3: hex}.
 */
export type AmfJson = null | boolean | number | string | AmfJson[] | { [key: string]: AmfJson };

export interface LibrtmpCall {
  method: string;
  args?: AmfJson[];
  /** Wait for _result/_error (default true). */
  wait?: boolean;
  timeoutSec?: number;
}

export interface LibrtmpPlay {
  stream: string;
  /** play() start argument: -2 live or recorded, -1 live only, >= 0 recorded from that second. Default -2. */
  start?: number;
  /** play() duration argument (omitted when not given). */
  duration?: number;
  /** How long to read media, in seconds (default 3). */
  durationSec?: number;
  bufferMs?: number;
  /** Send deleteStream afterwards (default true). */
  deleteStream?: boolean;
  /** createStream result timeout. */
  timeoutSec?: number;
}

export interface LibrtmpClientOptions {
  /** rtmp://127.0.0.1:<port>/<app>[/<instance>]: host and port are taken from it. */
  url: string;
  /** app field of connect; default: the URL path (pass it explicitly: librtmp splits paths its own way). */
  app?: string;
  /** tcUrl field of connect; default: url. */
  tcUrl?: string;
  /** Merged over the default connect command object; null removes a default field. */
  connect?: Record<string, AmfJson | null>;
  /** Extra connect arguments after the command object. */
  connectArgs?: AmfJson[];
  /** Seconds to wait for the connect result (default 10). */
  timeoutSec?: number;
  calls?: LibrtmpCall[];
  /** Answer server-to-client calls of these methods with _result(value). */
  replies?: Record<string, AmfJson>;
  /** Keep reading this long after calls/play, e.g. to collect broadcasts. */
  listenSec?: number;
  play?: LibrtmpPlay;
  /** Keep ECMA array / undefined distinctions in decoded values. */
  strictAmf?: boolean;
  /** Report protocol control messages too. */
  verbose?: boolean;
  /** Hard wall-clock limit for the client process (default: derived from the job's timeouts + 10 s). */
  processTimeoutMs?: number;
}

/** One reported event. `kind` tells which fields exist (see rtmp_client.py's docstring). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type LibrtmpLine = { kind: string; [key: string]: any };

export interface LibrtmpResult {
  lines: LibrtmpLine[];
  /** The `connect` line: { ok, name: '_result'|'_error'|null, properties, info, args }. */
  connect: LibrtmpLine | undefined;
  /** `call-result` lines in call order: { method, txn, name, ok, object, args }. */
  callResults: LibrtmpLine[];
  /** Every command message received (`command` lines): { streamId, name, txn, object, args }. */
  commands: LibrtmpLine[];
  /** `play-stats` line: { audio, video, videoKeyframes, videoConfig, audioBytes, videoBytes, data, ... }. */
  playStats: LibrtmpLine | undefined;
  /** Python exit code: 0 connected (even if rejected), 2 error, 3 no connect result. */
  code: number | null;
  stderr: string;
  timedOut: boolean;
  byKind(kind: string): LibrtmpLine[];
}

export interface LibrtmpClientHandle {
  process: TrackedProcess;
  /** Lines parsed so far. */
  lines(): LibrtmpLine[];
  /** Resolves with the first line (already seen or future) matching the predicate. */
  waitForLine(predicate: (line: LibrtmpLine) => boolean, timeoutMs: number): Promise<LibrtmpLine>;
  /** Resolves when the client finishes. */
  result: Promise<LibrtmpResult>;
}

export const RTMP_CLIENT_SCRIPT = path.join(__dirname, 'python', 'rtmp_client.py');

function defaultLimitMs(o: LibrtmpClientOptions): number {
  let sec = o.timeoutSec ?? 10;
  for (const c of o.calls ?? []) sec += c.timeoutSec ?? 5;
  if (o.play) sec += (o.play.timeoutSec ?? 5) + (o.play.durationSec ?? 3);
  sec += o.listenSec ?? 0;
  return sec * 1000 + 10_000;
}

/** Starts the Python client and returns at once (for tests that act while it is connected). */
export function startLibrtmpClient(options: LibrtmpClientOptions): LibrtmpClientHandle {
  requirePeer('pythonLibrtmp');
  const python = requirePeer('python3');
  const { processTimeoutMs, ...job } = options;
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' };
  // A pyenv or venv environment must not leak into Debian's interpreter.
  delete env.PYTHONPATH;
  delete env.PYTHONHOME;
  const proc = spawnTracked(python, [RTMP_CLIENT_SCRIPT, '-'], { name: 'librtmp-client', env, input: JSON.stringify(job) });
  const lines: LibrtmpLine[] = [];
  const waiters: { predicate: (l: LibrtmpLine) => boolean; resolve: (l: LibrtmpLine) => void }[] = [];
  let partial = '';
  proc.child.stdout?.on('data', (chunk: string) => {
    partial += chunk;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const text = partial.slice(0, nl).trim();
      partial = partial.slice(nl + 1);
      if (!text) continue;
      let line: LibrtmpLine;
      try {
        line = JSON.parse(text) as LibrtmpLine;
      } catch {
        line = { kind: 'unparsed', text };
      }
      lines.push(line);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i].predicate(line)) {
          waiters[i].resolve(line);
          waiters.splice(i, 1);
        }
      }
    }
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void proc.kill(500);
  }, processTimeoutMs ?? defaultLimitMs(options));
  const result = proc.exited.then((info): LibrtmpResult => {
    clearTimeout(timer);
    const byKind = (kind: string): LibrtmpLine[] => lines.filter((l) => l.kind === kind);
    return {
      lines,
      connect: lines.find((l) => l.kind === 'connect'),
      callResults: byKind('call-result'),
      commands: byKind('command'),
      playStats: lines.find((l) => l.kind === 'play-stats'),
      code: info.code,
      stderr: proc.stderr(),
      timedOut,
      byKind,
    };
  });
  return {
    process: proc,
    lines: () => [...lines],
    waitForLine: (predicate, timeoutMs) => {
      const seen = lines.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise<LibrtmpLine>((resolve, reject) => {
        const waiter = {
          predicate,
          resolve: (l: LibrtmpLine) => {
            clearTimeout(t);
            resolve(l);
          },
        };
        const t = setTimeout(() => {
          const i = waiters.indexOf(waiter);
          if (i >= 0) waiters.splice(i, 1);
          reject(new SsasError('ERR_TEST_LIBRTMP_TIMEOUT', `librtmp client: no matching line within ${timeoutMs} ms\n${proc.describe()}`));
        }, timeoutMs);
        waiters.push(waiter);
        void proc.exited.then(() => {
          // Lines are all parsed before 'close'; a waiter still pending now can never match.
          setImmediate(() => {
            const i = waiters.indexOf(waiter);
            if (i < 0) return;
            waiters.splice(i, 1);
            clearTimeout(t);
            reject(new SsasError('ERR_TEST_LIBRTMP_EXITED', `librtmp client exited without a matching line\n${proc.describe()}`));
          });
        });
      });
    },
    result,
  };
}

/** Runs the Python librtmp client to completion and returns everything it reported. */
export function librtmpClient(options: LibrtmpClientOptions): Promise<LibrtmpResult> {
  return startLibrtmpClient(options).result;
}
