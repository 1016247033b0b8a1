/**
 * FMS's access log: one record per client event (connect-pending, connect, disconnect, publish, unpublish,
 * play, stop, record, recordstop), with the W3C extended fields FMS wrote to `logs/access.00.log`, and one
 * short line per event on the server log (`info`, namespace `access`).
 *
 * Events and x-status codes are those of the FMS 2 administration guide (Logger.xml Events): connect-pending
 * 100; connect 200 accepted, 302 redirected, 400 bad request, 401 rejected by the script, 404 no such
 * application, 500 the application failed to start, 503 the instance shut down while the client waited;
 * play 200, 401 access denied by the application, 404 stream not found. For the events the guide gives no
 * codes for, ssas writes 200, publish 401 (no write access) and 409 (the name is already being published,
 * FMS's "resource" conflict), and stop/unpublish 408 when the client's connection went first. The x-category
 * is `session` for connect and disconnect and `stream` for the rest, and the field order is FMS 3.5's
 * default Logger.xml `<Fields>` list [recall]. Fields without a value are `-`.
 *
 * `cs-stream-bytes` / `sc-stream-bytes` are the bytes the connection received / sent while the stream was
 * published / played (ssas counts bytes per connection, not per stream: exact for a client with one stream).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { getLogger } from '../logger';
import type { ClientSession, SessionStream } from './session';
import { W3cLogFile, clock, day, escapeField } from './log-file';

export type AccessEventName = 'connect-pending' | 'connect' | 'disconnect' | 'publish' | 'unpublish' | 'play' | 'stop' | 'record' | 'recordstop';

/** What an event knows besides its session. */
export interface AccessFacts {
  /** The client NetStream of a stream event. */
  stream?: SessionStream;
  /** Stream name as the client gave it (prefix kept, query string apart). */
  name?: string;
  query?: string;
  /** Full path of the recorded or played file. */
  file?: string;
  /** play() start position (seconds). */
  position?: number;
  /** Why a connect failed, for the console line. */
  reason?: string;
}

export const ACCESS_FIELDS = [
  'x-event',
  'x-category',
  'date',
  'time',
  'tz',
  'x-ctx',
  's-ip',
  'x-pid',
  'x-cpu-load',
  'x-mem-load',
  'x-adaptor',
  'x-vhost',
  'x-app',
  'x-appinst',
  'x-duration',
  'x-status',
  'c-ip',
  'c-proto',
  's-uri',
  'cs-uri-stem',
  'cs-uri-query',
  'c-referrer',
  'c-user-agent',
  'c-client-id',
  'cs-bytes',
  'sc-bytes',
  'c-connect-type',
  'x-sname',
  'x-sname-query',
  'x-suri-query',
  'x-suri-stem',
  'x-suri',
  'x-file-name',
  'x-file-ext',
  'x-file-size',
  'x-file-length',
  'x-spos',
  'cs-stream-bytes',
  'sc-stream-bytes',
  'x-service-name',
  'x-sc-qos-bytes',
  'x-comment',
] as const;

export type AccessField = (typeof ACCESS_FIELDS)[number];

export interface AccessRecord {
  event: AccessEventName;
  status: number;
  time: Date;
  fields: Record<AccessField, string>;
  /** The short console line. */
  summary: string;
}

export type AccessListener = (record: AccessRecord) => void;

const log = getLogger('access');

/** When each session connected and each stream started, and the connection's byte counts then. */
interface Mark {
  t: number;
  bytesIn: number;
  bytesOut: number;
}

const tzName = (t: Date): string => {
  const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(t).find((p) => p.type === 'timeZoneName');
  return part?.value ?? 'UTC';
};

const fileExt = (file: string | undefined): string => (file ? path.extname(file).slice(1).toLowerCase() : '');

/** Builds access records from sessions and hands them to the console and the listeners (the access log file). */
export class AccessEvents {
  readonly #listeners = new Set<AccessListener>();
  readonly #sessions = new WeakMap<ClientSession, Mark>();
  /** Started publishes, plays and recordings of client streams, by the event that starts them. */
  readonly #streams = { publish: new WeakMap<SessionStream, Mark>(), play: new WeakMap<SessionStream, Mark>(), record: new WeakMap<SessionStream, Mark>() };

  /** Adds a listener; returns the function that removes it. */
  listen(l: AccessListener): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }

  emit(event: AccessEventName, session: ClientSession, status: number, facts: AccessFacts = {}): void {
    let record: AccessRecord;
    try {
      record = this.#build(event, session, status, facts);
    } catch (err) {
      log.debug(`access record for ${event} not built: ${(err as Error).message}`);
      return;
    }
    log.info(record.summary);
    for (const l of this.#listeners) {
      try {
        l(record);
      } catch {
        // A failing listener never breaks the session that reported the event.
      }
    }
  }

  #build(event: AccessEventName, s: ClientSession, status: number, facts: AccessFacts): AccessRecord {
    const now = new Date();
    const st = s.conn.stats;
    const mark = (): Mark => ({ t: now.getTime(), bytesIn: st.bytesIn, bytesOut: st.bytesOut });
    const seconds = (m: Mark | undefined): string => (m ? String(Math.round((now.getTime() - m.t) / 1000)) : '0');
    if (event === 'connect-pending' || (event === 'connect' && !this.#sessions.has(s))) this.#sessions.set(s, mark());
    const stream = facts.stream;
    let streamMark: Mark | undefined;
    if (stream && (event === 'publish' || event === 'play' || event === 'record')) {
      if (status === 200) this.#streams[event].set(stream, mark());
    } else if (stream) {
      const started = this.#streams[event === 'unpublish' ? 'publish' : event === 'stop' ? 'play' : 'record'];
      streamMark = started.get(stream);
      started.delete(stream);
    }
    const req = s.connectRequest;
    const c = s.client;
    const tcUrl = c?.uri ?? req?.tcUrl ?? '';
    const q = tcUrl.indexOf('?');
    const stem = q >= 0 ? tcUrl.slice(0, q) : tcUrl;
    const app = s.instance?.app.name ?? req?.app ?? '';
    const inst = s.instance?.instanceName ?? req?.instance ?? '';
    const name = facts.name ?? '';
    const ext = fileExt(facts.file);
    let size = '';
    if (facts.file) {
      try {
        size = String(fs.statSync(facts.file).size);
      } catch {
        size = '';
      }
    }
    const suriStem = name ? `${stem.replace(/\/$/, '')}/${name}${ext && !name.toLowerCase().endsWith(`.${ext}`) ? `.${ext}` : ''}` : '';
    const cpus = os.cpus().length || 1;
    const isSession = event === 'connect-pending' || event === 'connect' || event === 'disconnect';
    const f: Record<AccessField, string> = {
      'x-event': event,
      'x-category': isSession ? 'session' : 'stream',
      date: day(now),
      time: clock(now),
      tz: tzName(now),
      'x-ctx': isSession ? tcUrl : name,
      's-ip': s.conn.localAddress,
      'x-pid': String(process.pid),
      'x-cpu-load': String(Math.min(100, Math.round((os.loadavg()[0]! / cpus) * 100))),
      'x-mem-load': String(Math.round((1 - os.freemem() / os.totalmem()) * 100)),
      'x-adaptor': '_defaultRoot_',
      'x-vhost': '_defaultVHost_',
      'x-app': app,
      'x-appinst': inst,
      'x-duration': isSession ? (event === 'disconnect' ? seconds(this.#sessions.get(s)) : '0') : stream && streamMark ? seconds(streamMark) : '0',
      'x-status': String(status),
      'c-ip': s.conn.remoteAddress,
      'c-proto': s.conn.protocol,
      's-uri': tcUrl,
      'cs-uri-stem': stem,
      'cs-uri-query': q >= 0 ? tcUrl.slice(q + 1) : '',
      'c-referrer': c?.referrer ?? req?.swfUrl ?? '',
      'c-user-agent': c?.agent ?? req?.flashVer ?? '',
      'c-client-id': c?.id ?? '',
      'cs-bytes': String(st.bytesIn),
      'sc-bytes': String(st.bytesOut),
      'c-connect-type': 'normal',
      'x-sname': name,
      'x-sname-query': facts.query ?? '',
      'x-suri-query': facts.query ?? '',
      'x-suri-stem': suriStem,
      'x-suri': suriStem && facts.query ? `${suriStem}?${facts.query}` : suriStem,
      'x-file-name': facts.file ?? '',
      'x-file-ext': ext,
      'x-file-size': size,
      'x-file-length': event === 'recordstop' && streamMark ? seconds(streamMark) : '',
      'x-spos': stream ? String(facts.position !== undefined && facts.position > 0 ? facts.position : 0) : '',
      'cs-stream-bytes': stream && (event === 'unpublish' || event === 'publish' || event === 'recordstop' || event === 'record') ? String(streamMark ? st.bytesIn - streamMark.bytesIn : 0) : '',
      'sc-stream-bytes': stream && (event === 'stop' || event === 'play') ? String(streamMark ? st.bytesOut - streamMark.bytesOut : 0) : '',
      'x-service-name': '',
      'x-sc-qos-bytes': '',
      'x-comment': facts.reason ?? '',
    };
    const where = inst ? `${app}/${inst}` : app || '?';
    const who = c ? `${c.id} ${s.conn.remoteAddress}` : s.conn.remoteAddress;
    const what = name ? ` ${name}` : '';
    const extra = event === 'connect' && status === 200 && c?.agent ? ` (${c.agent})` : facts.reason ? ` (${facts.reason})` : facts.file && (event === 'record' || event === 'recordstop') ? ` -> ${facts.file}` : '';
    return { event, status, time: now, fields: f, summary: `${event} ${status} ${where}${what} ${who}${extra}` };
  }
}

/** The W3C header of an access log file. */
export function accessLogHeader(t: Date, software: string): string {
  return `#Version: 1.0\n#Start-Date: ${day(t)} ${clock(t)}\n#Software: ${software}\n#Date: ${day(t)}\n#Fields: ${ACCESS_FIELDS.join('\t')}\n`;
}

/** One access log line (with its newline). */
export function accessLogLine(r: AccessRecord): string {
  return ACCESS_FIELDS.map((k) => (r.fields[k] === '' ? '-' : escapeField(r.fields[k]))).join('\t') + '\n';
}

export interface AccessLogOptions {
  /** The logs folder (FMS's `logs`); the file is `<dir>/access.00.log`. */
  dir: string;
  software: string;
  maxBytes?: number;
  history?: number;
  flushMs?: number;
}

/** Writes a server's access records to `<dir>/access.00.log` (history as the application log's). */
export class AccessLogWriter {
  readonly #file: W3cLogFile;
  #detach: (() => void) | null = null;

  constructor(opts: AccessLogOptions) {
    this.#file = new W3cLogFile({
      file: path.join(opts.dir, 'access.00.log'),
      header: (t) => accessLogHeader(t, opts.software),
      maxBytes: opts.maxBytes ?? 10 * 1024 * 1024,
      history: opts.history ?? 10,
      flushMs: opts.flushMs ?? 50,
      what: 'the access log',
      logNamespace: 'access-log',
    });
  }

  get file(): string {
    return this.#file.file;
  }

  attach(events: AccessEvents): void {
    this.#detach ??= events.listen((r) => this.#file.append(accessLogLine(r)));
  }

  flush(): Promise<void> {
    return this.#file.flush();
  }

  async close(): Promise<void> {
    this.#detach?.();
    this.#detach = null;
    await this.#file.flush();
  }
}
