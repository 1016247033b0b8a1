/**
 * The shell's own test client (`.connect`, `.call`, `.publish`, `.play`): an RtmpClient that acts like a
 * Flash client against the running server, and reports what the server sends it as shell events.
 * Server-to-client calls are answered with null, so a script's Client.call(...) with a result object
 * completes.
 */
import type { AmfValue } from '../amf';
import type { InfoObject } from '../rtmp/command';
import { RtmpClient, type ClientStream } from '../net/rtmp-client';
import { FileSource, openMediaReader } from '../media';
import { NetError } from '../errors';
import { describeHostValue, formatValue, type FormatOptions } from './format';
import type { ShellEvent } from './session';

export interface PlayStats {
  name: string;
  audio: number;
  video: number;
  data: number;
  statuses: string[];
}

export interface PublishStats {
  name: string;
  file: string;
  audio: number;
  video: number;
  done: boolean;
}

function statusText(info: InfoObject): string {
  return `${info.code}${info.description ? ` (${info.description})` : ''}`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class ShellClient {
  readonly rtmp: RtmpClient;
  readonly url: string;
  #emit: (ev: ShellEvent) => void;
  #fmt: FormatOptions;
  #publishing: { stream: ClientStream; stats: PublishStats; stop: boolean } | null = null;
  #playing: { stream: ClientStream; stats: PlayStats } | null = null;

  private constructor(rtmp: RtmpClient, url: string, emit: (ev: ShellEvent) => void, fmt: FormatOptions) {
    this.rtmp = rtmp;
    this.url = url;
    this.#emit = emit;
    this.#fmt = fmt;
  }

  static async connect(url: string, args: AmfValue[], emit: (ev: ShellEvent) => void, fmt: FormatOptions): Promise<ShellClient> {
    const rtmp = await RtmpClient.connect(url, { args, timeoutMs: 10000 });
    const shell = new ShellClient(rtmp, url, emit, fmt);
    // Every server call gets an answer (null) unless a handler exists: a prototype whose lookups never miss.
    Object.setPrototypeOf(rtmp.handlers, new Proxy({}, { get: () => () => null }));
    rtmp.onCommand = (name, cargs) => shell.#onCall(name, cargs);
    rtmp.onStatus = (info) => emit({ kind: 'status', text: `test client: ${statusText(info)}` });
    rtmp.onClose = (err) => emit({ kind: 'status', text: `test client: connection closed${err ? ` (${err.code})` : ''}` });
    return shell;
  }

  #onCall(name: string, args: AmfValue[]): void {
    const shown = args.map((a) => formatValue(describeHostValue(a), { ...this.#fmt, rawStrings: false, breakLength: 1000 })).join(', ');
    this.#emit({ kind: 'status', text: `test client ← ${name}(${shown})` });
  }

  get closed(): boolean {
    return this.rtmp.closed;
  }

  call(method: string, args: AmfValue[]): Promise<AmfValue> {
    return this.rtmp.call(method, ...args);
  }

  /** Publishes a media file live at its own pace; resolves once publishing started. */
  async publish(file: string, name: string): Promise<PublishStats> {
    if (this.#publishing && !this.#publishing.stats.done) throw new NetError('ERR_REPL_BUSY', `already publishing ${this.#publishing.stats.name} (.stop first)`);
    const source = await FileSource.open(file);
    let started = false;
    try {
      const reader = await openMediaReader(source);
      const stream = await this.rtmp.createStream();
      stream.onEvent = (ev) => {
        if (ev.kind === 'status') this.#emit({ kind: 'status', text: `test client publish ${name}: ${statusText(ev.info)}` });
      };
      await stream.publish(name, 'live');
      started = true;
      const stats: PublishStats = { name, file, audio: 0, video: 0, done: false };
      const job = { stream, stats, stop: false };
      this.#publishing = job;
      if (Object.keys(reader.info.onMetaData).length > 0) stream.send('@setDataFrame', 'onMetaData', reader.info.onMetaData);
      void (async () => {
        const t0 = Date.now();
        let first: number | null = null;
        try {
          for (;;) {
            if (job.stop || this.rtmp.closed) break;
            const tag = await reader.next();
            if (!tag) break;
            if (tag.type === 18) continue;
            first ??= tag.timestamp;
            const wait = t0 + (tag.timestamp - first) - Date.now();
            if (wait > 5) await sleep(wait);
            if (job.stop || this.rtmp.closed) break;
            stream.sendMedia(tag.type, tag.timestamp, tag.payload);
            if (tag.type === 8) stats.audio++;
            else stats.video++;
          }
        } catch (err) {
          this.#emit({ kind: 'error', text: `test client publish ${name}: ${(err as Error).message}` });
        } finally {
          stats.done = true;
          await source.close().catch(() => undefined);
          if (!this.rtmp.closed) stream.closeStream();
          this.#emit({ kind: 'status', text: `test client published ${name}: ${stats.video} video and ${stats.audio} audio messages${job.stop ? ' (stopped)' : ''}` });
        }
      })();
      return stats;
    } finally {
      if (!started) await source.close().catch(() => undefined);
    }
  }

  /** Plays a stream; resolves with the first status (Play.Start or the error). */
  async play(name: string): Promise<{ info: InfoObject; stats: PlayStats }> {
    if (this.#playing) this.#stopPlaying();
    const stream = await this.rtmp.createStream();
    const stats: PlayStats = { name, audio: 0, video: 0, data: 0, statuses: [] };
    this.#playing = { stream, stats };
    stream.onEvent = (ev) => {
      if (ev.kind === 'status') {
        stats.statuses.push(ev.info.code);
        this.#emit({ kind: 'status', text: `test client play ${name}: ${statusText(ev.info)}` });
      } else if (ev.kind === 'media') {
        if (ev.msg.type === 8) stats.audio++;
        else stats.video++;
      } else if (ev.kind === 'data') {
        stats.data++;
        const code = (ev.args[0] as { code?: string } | undefined)?.code;
        if (ev.name === 'onPlayStatus' && code) {
          stats.statuses.push(code);
          this.#emit({ kind: 'status', text: `test client play ${name}: ${code} after ${stats.video} video and ${stats.audio} audio messages` });
        }
      }
    };
    const info = await stream.play(name);
    return { info, stats };
  }

  get playStats(): PlayStats | null {
    return this.#playing?.stats ?? null;
  }

  get publishStats(): PublishStats | null {
    return this.#publishing?.stats ?? null;
  }

  #stopPlaying(): void {
    const p = this.#playing;
    this.#playing = null;
    if (p && !this.rtmp.closed) p.stream.deleteStream();
  }

  /** Stops publishing and playing. */
  stop(): void {
    if (this.#publishing) this.#publishing.stop = true;
    this.#stopPlaying();
  }

  close(): void {
    this.stop();
    this.rtmp.close();
  }
}
