/**
 * A named live stream inside one application instance: at most one publisher, any number of subscribers.
 *
 * Fan-out is the hot path of the whole server. Every message is wrapped once in a LiveMessage that chunks
 * itself lazily, once per (chunk size, message stream id, chunk stream id) combination, into a
 * self-contained format-0 Buffer; every player with that combination gets the same Buffer. Players that
 * cannot keep up are skipped to the next key frame (see PlayerSink in session.ts); nobody else waits.
 *
 * Late joiners get the cached metadata (@setDataFrame), the AVC/AAC sequence headers and the messages since
 * the last key frame (the "GOP cache"), so decoding starts at once.
 */
import { chunkMessageFmt0 } from '../rtmp/chunk-encoder';
import { csidFor } from '../rtmp/types';
import { isAudioSequenceHeader, isVideoKeyframe, isVideoSequenceHeader, TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO } from '../media/tag-info';
import type { AmfValue } from '../amf';

export type MediaType = typeof TAG_AUDIO | typeof TAG_VIDEO | typeof TAG_SCRIPT;

export { csidFor };

/** One media or data message of a live stream, chunked at most once per distinct player setting. */
export class LiveMessage {
  readonly type: MediaType;
  readonly timestamp: number;
  readonly payload: Buffer;
  readonly keyframe: boolean;
  /** True for messages no player may miss (sequence headers, data). */
  readonly essential: boolean;
  #chunkSize = 0;
  #streamId = -1;
  #chunked: Buffer | null = null;
  #others: Map<number, Buffer> | null = null;

  constructor(type: MediaType, timestamp: number, payload: Buffer) {
    this.type = type;
    this.timestamp = timestamp >>> 0;
    this.payload = payload;
    this.keyframe = type === TAG_VIDEO && isVideoKeyframe(payload);
    this.essential =
      type === TAG_SCRIPT || (type === TAG_VIDEO ? isVideoSequenceHeader(payload) : isAudioSequenceHeader(payload));
  }

  /** The format-0 chunking of this message for a player with this chunk size and message stream id. */
  chunked(chunkSize: number, streamId: number): Buffer {
    if (this.#chunked !== null && this.#chunkSize === chunkSize && this.#streamId === streamId) return this.#chunked;
    if (this.#chunked === null) {
      this.#chunkSize = chunkSize;
      this.#streamId = streamId;
      this.#chunked = this.#chunk(chunkSize, streamId);
      return this.#chunked;
    }
    // Rare: players with different settings. Keyed by both numbers (stream ids are small in practice).
    const key = chunkSize * 4096 + (streamId & 0xfff);
    this.#others ??= new Map();
    let b = this.#others.get(key);
    if (!b) {
      b = this.#chunk(chunkSize, streamId);
      this.#others.set(key, b);
    }
    return b;
  }

  #chunk(chunkSize: number, streamId: number): Buffer {
    return chunkMessageFmt0(
      { type: this.type, streamId, timestamp: this.timestamp, csid: csidFor(this.type), payload: this.payload },
      chunkSize,
    );
  }
}

/** Anything that receives a live stream's messages: RTMP players, recorders, relays, server-side NetStreams. */
export interface LiveSubscriber {
  /** A message from the publisher (already filtered of nothing: the subscriber decides what to drop). */
  onLiveMessage(msg: LiveMessage): void;
  /** The stream started being published (NetStream.Play.PublishNotify). */
  onPublishNotify?(stream: LiveStream): void;
  /** The stream stopped being published (NetStream.Play.UnpublishNotify). */
  onUnpublishNotify?(stream: LiveStream): void;
}

/** Whoever publishes into a LiveStream: a client NetStream or a server-side Stream. */
export interface LivePublisher {
  readonly kind: 'client' | 'server';
  /** Describes the publisher for logs and errors. */
  readonly label: string;
  /** The server outranks clients: a server-side Stream.play() forces a client publisher off. */
  forceUnpublish?(reason: string): void;
}

const GOP_CACHE_MAX_BYTES = 16 * 1024 * 1024;
const GOP_CACHE_MAX_MESSAGES = 4096;

export class LiveStream {
  readonly name: string;
  publisher: LivePublisher | null = null;
  /** Query string given with the publish name (AMS Stream.publishQueryString). */
  publishQueryString = '';
  /** Cached data frame (`@setDataFrame`), replayed to each new subscriber: [handler, ...args]. */
  dataFrames = new Map<string, { values: AmfValue[]; payload: Buffer }>();
  videoSequenceHeader: LiveMessage | null = null;
  audioSequenceHeader: LiveMessage | null = null;
  /** Messages since the last video key frame (or, for audio-only streams, a short audio tail). */
  gop: LiveMessage[] = [];
  #gopBytes = 0;
  readonly subscribers = new Set<LiveSubscriber>();
  /** Date.now() when the current publisher started. */
  publishStartedAt = 0;
  lastTimestamp = 0;
  bytesIn = 0;
  messagesIn = 0;

  constructor(name: string) {
    this.name = name;
  }

  get isPublishing(): boolean {
    return this.publisher !== null;
  }

  /** Seconds since the current publisher started (Stream.time for live streams). */
  get time(): number {
    return this.publisher ? (Date.now() - this.publishStartedAt) / 1000 : 0;
  }

  startPublishing(publisher: LivePublisher, queryString = ''): void {
    this.publisher = publisher;
    this.publishQueryString = queryString;
    this.publishStartedAt = Date.now();
    this.#resetCaches();
    for (const s of Array.from(this.subscribers)) s.onPublishNotify?.(this);
  }

  stopPublishing(publisher: LivePublisher): void {
    if (this.publisher !== publisher) return;
    this.publisher = null;
    this.publishQueryString = '';
    this.#resetCaches();
    for (const s of Array.from(this.subscribers)) s.onUnpublishNotify?.(this);
  }

  #resetCaches(): void {
    this.dataFrames.clear();
    this.videoSequenceHeader = null;
    this.audioSequenceHeader = null;
    this.gop = [];
    this.#gopBytes = 0;
  }

  /** Publishes one audio/video/data message to every subscriber. */
  push(type: MediaType, timestamp: number, payload: Buffer): LiveMessage {
    const msg = new LiveMessage(type, timestamp, payload);
    this.pushMessage(msg);
    return msg;
  }

  pushMessage(msg: LiveMessage): void {
    this.bytesIn += msg.payload.length;
    this.messagesIn++;
    this.lastTimestamp = msg.timestamp;
    if (msg.type === TAG_VIDEO) {
      if (msg.essential) this.videoSequenceHeader = msg;
      else if (msg.keyframe) {
        this.gop = [];
        this.#gopBytes = 0;
      }
    } else if (msg.type === TAG_AUDIO && msg.essential) {
      this.audioSequenceHeader = msg;
    }
    if (!msg.essential && msg.type !== TAG_SCRIPT) this.#cache(msg);
    for (const s of this.subscribers) s.onLiveMessage(msg);
  }

  #cache(msg: LiveMessage): void {
    // Without video the cache would only grow; keep audio-only streams to a short tail.
    const audioOnly = this.videoSequenceHeader === null && msg.type === TAG_AUDIO;
    if (this.gop.length >= GOP_CACHE_MAX_MESSAGES || this.#gopBytes > GOP_CACHE_MAX_BYTES || (audioOnly && this.gop.length >= 64)) {
      if (audioOnly) {
        const old = this.gop.shift();
        if (old) this.#gopBytes -= old.payload.length;
      } else {
        // A GOP too long to cache: late joiners will wait for the next key frame instead.
        this.gop = [];
        this.#gopBytes = 0;
        return;
      }
    }
    if (this.gop.length === 0 && msg.type === TAG_VIDEO && !msg.keyframe) return;
    this.gop.push(msg);
    this.#gopBytes += msg.payload.length;
  }

  /** Sets (or with `values` null clears) a data frame replayed to new subscribers (@setDataFrame/@clearDataFrame). */
  setDataFrame(handler: string, values: AmfValue[] | null, payload: Buffer | null, timestamp: number): void {
    if (values === null || payload === null) {
      this.dataFrames.delete(handler);
      return;
    }
    this.dataFrames.set(handler, { values, payload });
    this.pushMessage(new LiveMessage(TAG_SCRIPT, timestamp, payload));
  }

  /** The messages a new subscriber needs before live ones: data frames, sequence headers, the current GOP. */
  startupMessages(): LiveMessage[] {
    const out: LiveMessage[] = [];
    const ts = this.gop.length > 0 ? this.gop[0]!.timestamp : this.lastTimestamp;
    // Data frames go out at time 0, as FMS and nginx-rtmp send metadata (ffmpeg's FLV reader makes a
    // data stream of script tags with a non-zero time).
    for (const f of this.dataFrames.values()) out.push(new LiveMessage(TAG_SCRIPT, 0, f.payload));
    if (this.videoSequenceHeader) out.push(new LiveMessage(TAG_VIDEO, ts, this.videoSequenceHeader.payload));
    if (this.audioSequenceHeader) out.push(new LiveMessage(TAG_AUDIO, ts, this.audioSequenceHeader.payload));
    out.push(...this.gop);
    return out;
  }

  subscribe(s: LiveSubscriber): void {
    this.subscribers.add(s);
  }

  unsubscribe(s: LiveSubscriber): void {
    this.subscribers.delete(s);
  }

  /** True when nothing refers to this stream any more (the registry may drop it). */
  get idle(): boolean {
    return this.publisher === null && this.subscribers.size === 0;
  }
}

/** All live streams of one application instance. */
export class LiveStreamRegistry {
  readonly streams = new Map<string, LiveStream>();

  get(name: string): LiveStream | undefined {
    return this.streams.get(name);
  }

  getOrCreate(name: string): LiveStream {
    let s = this.streams.get(name);
    if (!s) {
      s = new LiveStream(name);
      this.streams.set(name, s);
    }
    return s;
  }

  /** Drops the stream if nothing uses it any more. */
  release(stream: LiveStream): void {
    if (stream.idle && this.streams.get(stream.name) === stream) this.streams.delete(stream.name);
  }
}

/** Splits "name?query" as FMS does for publish/play names. */
export function splitStreamName(raw: string): { name: string; query: string } {
  const q = raw.indexOf('?');
  return q < 0 ? { name: raw, query: '' } : { name: raw.slice(0, q), query: raw.slice(q + 1) };
}

/** The key of a live stream: FLV names may carry an explicit "flv:" prefix that means nothing for live. */
export function liveKey(name: string): string {
  return name.startsWith('flv:') ? name.slice(4) : name;
}
