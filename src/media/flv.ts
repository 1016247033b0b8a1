/**
 * FLV files: Adobe Flash Video File Format Specification v10.1, annex E (E.2 FLV header, E.3 body with
 * PreviousTagSize fields, E.4.1 FLVTAG with TimestampExtended, E.5 onMetaData).
 *
 * Reader: tags in file order, tolerant of a torn tail (stops after the last complete tag) and, unless
 * `strict`, of wrong PreviousTagSize fields (counted). Seeking uses onMetaData `keyframes` when present and
 * valid, else an index built incrementally while reading/scanning forward (tag headers only).
 * Writer: see flv-metadata.ts for how onMetaData is reserved up front and patched in place on close.
 */
import { decodeAmf0All, type AmfObject } from '../amf';
import { MediaError } from '../errors';
import { avcConfigInfo, parseAacConfig } from './codec-config';
import {
  buildPlaceholderMetadata,
  encodeFieldValue,
  encodeKeyframeRegion,
  keyframesFromMetadata,
  locateMetadata,
  keyframeRegionCapacity,
  PLACEHOLDER_INDEX_KEY,
} from './flv-metadata';
import { parseAudioPayload, parseVideoPayload } from './flv-payload';
import { emptyOutput, guarded, type MediaInfo, type MediaReader, type MediaWriter, type Patch, type WriterOutput } from './media-types';
import { parseMpegAudioHeader } from './mpeg-audio';
import { SourceReader, type RandomAccessSource } from './source';
import { AudioCodec, TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO, VideoCodec, isVideoKeyframe, type MediaTag } from './tag-info';

export const FLV_HEADER_SIZE = 9;
export const TAG_HEADER_SIZE = 11;
const FLAG_AUDIO = 0x04;
const FLAG_VIDEO = 0x01;
/** Largest onMetaData body we decode (bigger ones are passed through undecoded). */
const MAX_METADATA_BYTES = 4 * 1024 * 1024;
/** Spacing of index points in audio-only files (any audio frame is a sync point; this just bounds the index). */
const AUDIO_INDEX_SPACING_MS = 1000;
/** Tags read at open to learn codecs and sequence headers when the file does not say. */
const PROBE_TAGS = 64;

export interface FlvHeader {
  version: number;
  hasAudio: boolean;
  hasVideo: boolean;
  dataOffset: number;
}

export function parseFlvHeader(buf: Buffer): FlvHeader {
  if (buf.length < FLV_HEADER_SIZE || buf.toString('latin1', 0, 3) !== 'FLV') throw new MediaError('ERR_MEDIA_CORRUPT', 'not an FLV file');
  const dataOffset = buf.readUInt32BE(5);
  if (dataOffset < FLV_HEADER_SIZE) throw new MediaError('ERR_MEDIA_CORRUPT', `FLV DataOffset ${dataOffset}`);
  return { version: buf[3]!, hasAudio: (buf[4]! & FLAG_AUDIO) !== 0, hasVideo: (buf[4]! & FLAG_VIDEO) !== 0, dataOffset };
}

/** FLV header plus PreviousTagSize0. */
export function encodeFlvHeader(hasAudio: boolean, hasVideo: boolean): Buffer {
  const b = Buffer.alloc(FLV_HEADER_SIZE + 4);
  b.write('FLV', 0, 'latin1');
  b[3] = 1;
  b[4] = (hasAudio ? FLAG_AUDIO : 0) | (hasVideo ? FLAG_VIDEO : 0);
  b.writeUInt32BE(FLV_HEADER_SIZE, 5);
  return b;
}

/** One tag with its trailing PreviousTagSize. */
export function encodeFlvTag(type: number, timestamp: number, payload: Buffer): Buffer {
  const b = Buffer.alloc(TAG_HEADER_SIZE + payload.length + 4);
  b[0] = type;
  b.writeUIntBE(payload.length, 1, 3);
  const ts = Math.max(0, Math.floor(timestamp)) >>> 0;
  b.writeUIntBE(ts & 0xffffff, 4, 3);
  b[7] = ts >>> 24;
  payload.copy(b, TAG_HEADER_SIZE);
  b.writeUInt32BE(TAG_HEADER_SIZE + payload.length, TAG_HEADER_SIZE + payload.length);
  return b;
}

interface TagHeader {
  type: number;
  dataSize: number;
  timestamp: number;
  /** Position of the tag header. */
  position: number;
  /** Position just past the body (where the PreviousTagSize is). */
  bodyEnd: number;
}

function parseTagHeader(b: Buffer, position: number): TagHeader {
  const dataSize = b.readUIntBE(1, 3);
  return { type: b[0]!, dataSize, timestamp: b.readUIntBE(4, 3) + b[7]! * 0x1000000, position, bodyEnd: position + TAG_HEADER_SIZE + dataSize };
}

export interface FlvReaderOptions {
  /** Throw ERR_MEDIA_CORRUPT on a wrong PreviousTagSize instead of counting it. */
  strict?: boolean;
  blockSize?: number;
}

interface IndexPoint {
  ms: number;
  position: number;
}

/** What the forward scan learns about one tag (headers plus the first body bytes). */
interface ScannedTag extends TagHeader {
  /** First two body bytes (fewer for shorter bodies). */
  lead: Buffer;
}

export class FlvReader implements MediaReader {
  readonly info: MediaInfo;
  readonly header: FlvHeader;
  /** Where the index came from: the file's onMetaData or our own scan. */
  readonly indexSource: 'metadata' | 'scan';
  /** PreviousTagSize fields that did not match (tolerated unless strict). */
  previousTagSizeMismatches = 0;
  private readonly r: SourceReader;
  private readonly strict: boolean;
  private readonly firstTag: number;
  private pos: number;
  private pending: MediaTag[] = [];
  /** Scanned index (key frames, or audio points in audio-only files), complete from the start up to `frontier`. */
  private readonly index: IndexPoint[] = [];
  private frontier: number;
  private frontierTs = -1;
  private frontierLastTs = 0;
  private hasVideoTags = false;
  private readonly metaIndex: { times: number[]; positions: number[] } | undefined;
  /** Sequence headers by position, for replay after a seek. */
  private readonly configs: { position: number; type: 8 | 9; payload: Buffer }[] = [];
  private ended = false;

  private constructor(r: SourceReader, header: FlvHeader, info: MediaInfo, strict: boolean, metaIndex: { times: number[]; positions: number[] } | undefined) {
    this.r = r;
    this.header = header;
    this.info = info;
    this.strict = strict;
    this.firstTag = header.dataOffset + 4;
    this.pos = this.firstTag;
    this.frontier = this.firstTag;
    this.metaIndex = metaIndex;
    this.indexSource = metaIndex ? 'metadata' : 'scan';
  }

  static async open(source: RandomAccessSource, opts: FlvReaderOptions = {}): Promise<FlvReader> {
    return guarded(() => FlvReader.openImpl(source, opts));
  }

  private static async openImpl(source: RandomAccessSource, opts: FlvReaderOptions): Promise<FlvReader> {
    const r = new SourceReader(source, opts.blockSize);
    const header = parseFlvHeader(await r.readExact(0, FLV_HEADER_SIZE, 'FLV header'));
    const info: MediaInfo = { format: 'flv', duration: 0, fileSize: r.size, onMetaData: {} };
    let meta: AmfObject | undefined;
    const first = header.dataOffset + 4;
    const h = await r.read(first, TAG_HEADER_SIZE);
    if (h.length === TAG_HEADER_SIZE && (h[0]! & 0x1f) === TAG_SCRIPT) {
      const t = parseTagHeader(h, first);
      if (t.dataSize <= MAX_METADATA_BYTES && t.bodyEnd <= r.size) {
        const body = await r.readExact(first + TAG_HEADER_SIZE, t.dataSize, 'onMetaData');
        try {
          const values = decodeAmf0All(body);
          if (values[0] === 'onMetaData' && values[1] && typeof values[1] === 'object' && !Array.isArray(values[1])) meta = values[1] as AmfObject;
        } catch {
          // Unreadable metadata is the same as none: everything it would say is learned from the tags.
        }
      }
    }
    const metaIndex = meta ? keyframesFromMetadata(meta, r.size) : undefined;
    const reader = new FlvReader(r, header, info, opts.strict ?? false, metaIndex);
    if (meta) {
      // Our fixed-size index repeats its last entry; report it without the repeats.
      if (metaIndex) meta.keyframes = { times: metaIndex.times, filepositions: metaIndex.positions };
      info.onMetaData = meta;
    }
    await reader.probe(meta);
    return reader;
  }

  /** Fills `info` from onMetaData and the first tags; duration from metadata or the last tag. */
  private async probe(meta: AmfObject | undefined): Promise<void> {
    const info = this.info;
    const num = (k: string): number | undefined => {
      const v = meta?.[k];
      return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined;
    };
    if (meta) {
      info.width = num('width');
      info.height = num('height');
      info.framerate = num('framerate') ?? num('videoframerate');
      info.audioSampleRate = num('audiosamplerate');
      info.audioSampleSize = num('audiosamplesize');
      if (typeof meta.stereo === 'boolean') info.audioChannels = meta.stereo ? 2 : 1;
      const vc = meta.videocodecid;
      const ac = meta.audiocodecid;
      if (typeof vc === 'number') info.videoCodecId = vc;
      if (typeof ac === 'number') info.audioCodecId = ac;
      if (typeof vc === 'string') info.videoCodec = vc;
      if (typeof ac === 'string') info.audioCodec = ac;
    }
    const seen: ScannedTag[] = [];
    await this.scan((t) => {
      seen.push(t);
      return seen.length >= PROBE_TAGS || (seen.some(isMediaOf(9)) && seen.some(isMediaOf(8)));
    });
    for (const c of this.configs) {
      try {
        const payload = await this.configPayload(c);
        if (c.type === TAG_VIDEO) {
          const sps = avcConfigInfo(payload.subarray(5));
          if (sps) {
            info.width ??= sps.width;
            info.height ??= sps.height;
          }
        } else {
          const asc = parseAacConfig(payload.subarray(2));
          info.audioSampleRate ??= asc.sampleRate;
          info.audioChannels ??= asc.channels;
        }
      } catch {
        // Broken configs are the decoder's problem.
      }
    }
    const v = seen.find((t) => t.type === TAG_VIDEO && t.lead.length > 0);
    const a = seen.find((t) => t.type === TAG_AUDIO && t.lead.length > 0);
    if (v) info.videoCodecId ??= v.lead[0]! & 0x0f;
    if (a) {
      info.audioCodecId ??= a.lead[0]! >> 4;
      if (info.audioCodecId === AudioCodec.MP3 && info.audioSampleRate === undefined) {
        const mp3 = parseMpegAudioHeader(await this.r.read(a.position + TAG_HEADER_SIZE + 1, 4));
        if (mp3) {
          info.audioSampleRate = mp3.sampleRate;
          info.audioChannels ??= mp3.channels;
        }
      }
      info.audioSampleSize ??= (a.lead[0]! >> 1) & 1 ? 16 : 8;
      info.audioChannels ??= a.lead[0]! & 1 ? 2 : 1;
      info.audioSampleRate ??= [5512, 11025, 22050, 44100][(a.lead[0]! >> 2) & 3];
    }
    if (info.videoCodecId === VideoCodec.AVC) info.videoCodec ??= 'avc1';
    if (info.audioCodecId === AudioCodec.AAC) info.audioCodec ??= 'mp4a';
    if (info.audioCodecId === AudioCodec.MP3) info.audioCodec ??= '.mp3';
    const duration = num('duration');
    info.duration = duration ?? (await this.lastTimestamp()) / 1000;
  }

  /**
   * Timestamp of the last complete tag, via the final PreviousTagSize, or by scanning when the tail is torn.
   * (The last tag, not the largest timestamp: that is what ffmpeg reports for FLVs without a duration.)
   */
  async lastTimestamp(): Promise<number> {
    const chain = await this.tailChain(1);
    if (chain) return chain[0]!.timestamp;
    await this.scan(() => false);
    return this.frontierLastTs;
  }

  /** Up to `n` last tags following PreviousTagSize back from the end; undefined when the tail does not check out. */
  private async tailChain(n: number): Promise<TagHeader[] | undefined> {
    const out: TagHeader[] = [];
    let end = this.r.size;
    while (out.length < n && end - 4 > this.firstTag) {
      const prev = (await this.r.readExact(end - 4, 4, 'PreviousTagSize')).readUInt32BE(0);
      const pos = end - 4 - prev;
      if (prev < TAG_HEADER_SIZE || pos < this.firstTag) return out.length ? out : undefined;
      const t = parseTagHeader(await this.r.readExact(pos, TAG_HEADER_SIZE, 'tag header'), pos);
      if (t.dataSize + TAG_HEADER_SIZE !== prev || ![8, 9, 18].includes(t.type & 0x1f)) return out.length ? out : undefined;
      out.push(t);
      end = pos;
    }
    return out.length ? out : undefined;
  }

  /**
   * Reads tag headers forward from the frontier (not delivering them), extending the index and recording
   * sequence headers, until `stop` says so or the data ends. Bounded by the file size: each step advances.
   */
  private async scan(stop: (t: ScannedTag) => boolean): Promise<void> {
    for (;;) {
      const t = await this.readHeaderAt(this.frontier);
      if (!t) return;
      this.learn(t);
      this.frontier = t.bodyEnd + 4;
      if (stop(t)) return;
    }
  }

  /** Tag header (+ first body bytes) at `pos`, or undefined at the end of complete data. */
  private async readHeaderAt(pos: number): Promise<ScannedTag | undefined> {
    const b = await this.r.read(pos, TAG_HEADER_SIZE + 2);
    if (b.length < TAG_HEADER_SIZE) return undefined;
    const t = parseTagHeader(b, pos);
    if (t.bodyEnd > this.r.size) return undefined; // torn last tag
    const type = t.type & 0x1f;
    if (t.type & 0x20) throw new MediaError('ERR_MEDIA_UNSUPPORTED', 'encrypted FLV tag', { position: pos });
    if (type !== TAG_AUDIO && type !== TAG_VIDEO && type !== TAG_SCRIPT) {
      throw new MediaError('ERR_MEDIA_CORRUPT', `FLV tag type ${type} at ${pos}`, { position: pos });
    }
    t.type = type;
    if (t.bodyEnd + 4 <= this.r.size) {
      const prev = (await this.r.read(t.bodyEnd, 4)).readUInt32BE(0);
      // Counted once per tag: when it is first met at the scan frontier.
      if (prev !== t.dataSize + TAG_HEADER_SIZE && pos >= this.frontier) {
        if (this.strict) throw new MediaError('ERR_MEDIA_CORRUPT', `PreviousTagSize ${prev} after tag at ${pos}`, { position: pos });
        this.previousTagSizeMismatches++;
      }
    }
    return { ...t, lead: Buffer.from(b.subarray(TAG_HEADER_SIZE, Math.min(b.length, TAG_HEADER_SIZE + t.dataSize))) };
  }

  /** Index and config bookkeeping for a tag at the frontier. */
  private learn(t: ScannedTag): void {
    if (t.position !== this.frontier) return;
    this.frontierTs = Math.max(this.frontierTs, t.timestamp);
    this.frontierLastTs = t.timestamp;
    if (t.type === TAG_VIDEO) {
      this.hasVideoTags = true;
      const isConfig = t.lead.length >= 2 && (t.lead[0]! & 0x0f) === VideoCodec.AVC && t.lead[1] === 0;
      if (isConfig) this.configs.push({ position: t.position, type: TAG_VIDEO, payload: Buffer.alloc(0) });
      else if (isSeekableKeyframe(t.lead)) this.addIndex(t.timestamp, t.position);
    } else if (t.type === TAG_AUDIO) {
      const isConfig = t.lead.length >= 2 && t.lead[0]! >> 4 === AudioCodec.AAC && t.lead[1] === 0;
      if (isConfig) this.configs.push({ position: t.position, type: TAG_AUDIO, payload: Buffer.alloc(0) });
      else if (!this.hasVideoTags && !this.header.hasVideo) {
        const last = this.index[this.index.length - 1];
        if (!last || t.timestamp - last.ms >= AUDIO_INDEX_SPACING_MS) this.addIndex(t.timestamp, t.position);
      }
    }
  }

  private addIndex(ms: number, position: number): void {
    const last = this.index[this.index.length - 1];
    if (!last || position > last.position) this.index.push({ ms, position });
  }

  /** Payload of a config recorded by position (read lazily: the scan only saw its first bytes). */
  private async configPayload(c: { position: number; payload: Buffer }): Promise<Buffer> {
    if (c.payload.length === 0) {
      const h = parseTagHeader(await this.r.readExact(c.position, TAG_HEADER_SIZE, 'tag header'), c.position);
      c.payload = await this.r.readCopy(c.position + TAG_HEADER_SIZE, h.dataSize, 'sequence header');
    }
    return c.payload;
  }

  async next(): Promise<MediaTag | null> {
    return guarded(() => this.nextImpl());
  }

  private async nextImpl(): Promise<MediaTag | null> {
    const queued = this.pending.shift();
    if (queued) return queued;
    if (this.ended) return null;
    const t = await this.readHeaderAt(this.pos);
    if (!t) {
      this.ended = true;
      return null;
    }
    this.learn(t);
    if (t.position === this.frontier) this.frontier = t.bodyEnd + 4;
    const payload = await this.r.readCopy(t.position + TAG_HEADER_SIZE, t.dataSize, 'tag body');
    const cfg = this.configs.find((c) => c.position === t.position);
    if (cfg && cfg.payload.length === 0) cfg.payload = payload;
    this.pos = t.bodyEnd + 4;
    return { type: t.type as 8 | 9 | 18, timestamp: t.timestamp, payload };
  }

  async seek(ms: number): Promise<number> {
    return guarded(() => this.seekImpl(ms));
  }

  private async seekImpl(ms: number): Promise<number> {
    const target = Math.max(0, ms);
    let point: IndexPoint | undefined;
    if (this.metaIndex) {
      const { times, positions } = this.metaIndex;
      let i = times.length - 1;
      while (i > 0 && times[i]! * 1000 > target) i--;
      const t = await this.readHeaderAt(positions[i]!).catch(() => undefined);
      if (t && t.type === TAG_VIDEO && isSeekableKeyframe(t.lead)) point = { ms: t.timestamp, position: t.position };
    }
    if (!point) {
      if (this.frontierTs <= target) await this.scan((t) => t.timestamp > target);
      for (const p of this.index) {
        if (p.ms > target && point) break;
        point = p;
      }
    }
    let position = point?.position ?? this.firstTag;
    let at = point?.ms ?? 0;
    if (!this.hasVideoTags && !this.header.hasVideo) {
      // Audio only: walk forward from the index point to the last audio tag at or before the target.
      for (let p = position; ; ) {
        const t = await this.readHeaderAt(p);
        if (!t || t.timestamp > target) break;
        if (t.type === TAG_AUDIO && !(t.lead[0]! >> 4 === AudioCodec.AAC && t.lead[1] === 0)) {
          position = t.position;
          at = t.timestamp;
        }
        p = t.bodyEnd + 4;
      }
    }
    this.pos = position;
    this.ended = false;
    this.pending = [];
    if (position > this.firstTag) {
      for (const type of [TAG_VIDEO, TAG_AUDIO] as const) {
        let best: (typeof this.configs)[number] | undefined;
        for (const c of this.configs) if (c.type === type && c.position < position) best = c;
        if (best) this.pending.push({ type, timestamp: at, payload: await this.configPayload(best) });
      }
    }
    return at;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<MediaTag> {
    for (let tag = await this.next(); tag; tag = await this.next()) yield tag;
  }
}

/** A key frame that starts pictures: not an AVC sequence header or end of sequence, not an info frame. */
function isSeekableKeyframe(lead: Buffer): boolean {
  if (lead.length === 0 || !isVideoKeyframe(lead)) return false;
  if ((lead[0]! & 0x0f) === VideoCodec.AVC) return lead[1] === 1;
  return true;
}

function isMediaOf(type: 8 | 9): (t: ScannedTag) => boolean {
  return (t) => {
    if (t.type !== type || t.lead.length < 1) return false;
    if (type === 9) return !((t.lead[0]! & 0x0f) === VideoCodec.AVC && t.lead[1] === 0);
    return !(t.lead[0]! >> 4 === AudioCodec.AAC && t.lead[1] === 0);
  };
}

/** Duration in seconds: onMetaData duration, else the last tag's timestamp. */
export async function flvLength(source: RandomAccessSource): Promise<number> {
  return (await FlvReader.open(source)).info.duration;
}

// ------------------------------------------------------------------------------------------------- append

/** What appending to an existing FLV needs to know about it. */
export interface FlvAppendInfo {
  /** Cut the file here before appending (end of the last complete tag and its PreviousTagSize). */
  appendPosition: number;
  /** Where the appended timeline continues (ms): onMetaData duration, else the last timestamp plus one frame. */
  endTime: number;
  lastTimestamp: number;
  headerFlags: number;
  /** Absolute position of the onMetaData tag body, when it is the first tag. */
  metadataPosition?: number;
  metadataFields?: Map<string, { position: number; marker: number }>;
  /** Our keyframe region, with the index already stored there. */
  keyframeRegion?: { position: number; capacity: number; times: number[]; positions: number[] };
}

export async function inspectFlvForAppend(source: RandomAccessSource): Promise<FlvAppendInfo> {
  return guarded(() => inspectForAppend(source));
}

async function inspectForAppend(source: RandomAccessSource): Promise<FlvAppendInfo> {
  const reader = await FlvReader.open(source);
  const r = new SourceReader(source);
  const header = reader.header;
  const first = header.dataOffset + 4;
  let appendPosition = first;
  let lastTimestamp = 0;
  const lastByType = new Map<number, number[]>();
  // Walk every tag header: appending needs the exact end of the complete data and per-track frame spacing.
  for (let p = first; p + TAG_HEADER_SIZE <= r.size; ) {
    const b = await r.read(p, TAG_HEADER_SIZE);
    const t = parseTagHeader(b, p);
    if (t.bodyEnd + 4 > r.size || ![8, 9, 18].includes(t.type & 0x1f)) break;
    appendPosition = t.bodyEnd + 4;
    lastTimestamp = Math.max(lastTimestamp, t.timestamp);
    const list = lastByType.get(t.type & 0x1f) ?? [];
    list.push(t.timestamp);
    if (list.length > 2) list.shift();
    lastByType.set(t.type & 0x1f, list);
    p = appendPosition;
  }
  let frameEnd = lastTimestamp;
  for (const [type, list] of lastByType) {
    if (type === TAG_SCRIPT) continue;
    const delta = list.length === 2 ? Math.max(0, list[1]! - list[0]!) : 0;
    frameEnd = Math.max(frameEnd, list[list.length - 1]! + delta);
  }
  const metaDuration = reader.info.onMetaData.duration;
  const endTime = typeof metaDuration === 'number' && metaDuration > 0 ? Math.round(metaDuration * 1000) : frameEnd;
  const info: FlvAppendInfo = { appendPosition, endTime, lastTimestamp, headerFlags: (await r.readExact(4, 1, 'FLV header'))[0]! };
  const h = await r.read(first, TAG_HEADER_SIZE);
  if (h.length === TAG_HEADER_SIZE && (h[0]! & 0x1f) === TAG_SCRIPT) {
    const t = parseTagHeader(h, first);
    if (t.bodyEnd <= appendPosition && t.dataSize <= MAX_METADATA_BYTES) {
      const body = await r.readExact(first + TAG_HEADER_SIZE, t.dataSize, 'onMetaData');
      const layout = locateMetadata(body);
      if (layout && layout.name === 'onMetaData') {
        const bodyPos = first + TAG_HEADER_SIZE;
        info.metadataPosition = bodyPos;
        info.metadataFields = new Map([...layout.fields].map(([k, f]) => [k, { position: bodyPos + f.valueOffset, marker: f.marker }]));
        const name = layout.fields.has('keyframes') ? 'keyframes' : PLACEHOLDER_INDEX_KEY;
        const kf = layout.keyOffsets.get(name);
        const field = layout.fields.get(name);
        if (kf !== undefined && field) {
          const capacity = keyframeRegionCapacity(field.end - kf);
          // Only a region laid out exactly as we write it can be rewritten in place.
          const timesCount = field.valueOffset + 1 + 2 + 5 + 1;
          const posCount = timesCount + 4 + 9 * capacity + 2 + 13 + 1;
          if (capacity > 0 && posCount + 4 <= body.length && body.readUInt32BE(timesCount) === capacity && body.readUInt32BE(posCount) === capacity) {
            const idx = name === 'keyframes' ? keyframesFromMetadata(reader.info.onMetaData, r.size) : undefined;
            info.keyframeRegion = { position: bodyPos + kf, capacity, times: idx?.times ?? [], positions: idx?.positions ?? [] };
          }
        }
      }
    }
  }
  return info;
}

// ------------------------------------------------------------------------------------------------- writer

export interface FlvWriterOptions {
  /** Header flags before any tag is seen (they are patched on close to what was written). */
  hasAudio?: boolean;
  hasVideo?: boolean;
  /** Other onMetaData properties to store (e.g. what the publisher sent with @setDataFrame). */
  metadata?: AmfObject;
  /** Key frames the onMetaData index has room for (18 bytes each; 0 = no index). Default 900. */
  keyframeIndexEntries?: number;
  /** Append to an existing file described by inspectFlvForAppend. */
  append?: FlvAppendInfo;
  /** With `append`: extra milliseconds between the old end and the new data (FMS "appendWithGap"). */
  appendGap?: number;
}

interface TrackStats {
  first: number;
  last: number;
  prev: number;
  count: number;
  bytes: number;
}

/**
 * Pure FLV recorder. Timestamps are rebased so that the first tag written lands at 0 (or, when appending,
 * at the old end time plus the gap); tags stamped earlier than the first one are clamped to it.
 */
export class FlvWriter implements MediaWriter {
  private pos = 0;
  private started = false;
  private ended = false;
  private t0: number | undefined;
  private readonly base: number;
  private flags: number;
  private metaFields = new Map<string, { position: number; marker: number }>();
  private keyframeRegion: { position: number; capacity: number } | undefined;
  private readonly keyTimes: number[] = [];
  private readonly keyPositions: number[] = [];
  private readonly tracks = new Map<number, TrackStats>();
  private readonly facts: Record<string, number | boolean> = {};
  private lastTs: number;
  private lastKey: { ts: number; position: number } | undefined;

  constructor(private readonly opts: FlvWriterOptions = {}) {
    this.flags = (opts.hasAudio ? FLAG_AUDIO : 0) | (opts.hasVideo ? FLAG_VIDEO : 0);
    this.base = opts.append ? opts.append.endTime + Math.max(0, opts.appendGap ?? 0) : 0;
    this.lastTs = opts.append?.lastTimestamp ?? 0;
    if (opts.append) {
      this.flags |= opts.append.headerFlags & (FLAG_AUDIO | FLAG_VIDEO);
      const region = opts.append.keyframeRegion;
      if (region) {
        this.keyTimes.push(...region.times);
        this.keyPositions.push(...region.positions);
      }
    }
    const m = opts.metadata ?? {};
    for (const k of ['width', 'height', 'framerate', 'videodatarate', 'audiodatarate', 'audiosamplerate', 'audiosamplesize', 'videocodecid', 'audiocodecid']) {
      if (typeof m[k] === 'number') this.facts[k] = m[k] as number;
    }
    if (typeof m.stereo === 'boolean') this.facts.stereo = m.stereo;
  }

  get position(): number {
    return this.pos;
  }

  start(): WriterOutput {
    if (this.started) throw new MediaError('ERR_MEDIA_WRITER_STATE', 'start() called twice');
    this.started = true;
    const out = emptyOutput();
    const app = this.opts.append;
    if (app) {
      out.truncateTo = app.appendPosition;
      this.pos = app.appendPosition;
      this.metaFields = app.metadataFields ?? new Map();
      if (app.keyframeRegion) this.keyframeRegion = { position: app.keyframeRegion.position, capacity: app.keyframeRegion.capacity };
      return out;
    }
    const head = encodeFlvHeader((this.flags & FLAG_AUDIO) !== 0, (this.flags & FLAG_VIDEO) !== 0);
    const meta = buildPlaceholderMetadata(this.opts.metadata ?? {}, this.facts, Math.max(0, Math.floor(this.opts.keyframeIndexEntries ?? 900)));
    const bodyPos = head.length + TAG_HEADER_SIZE;
    for (const [k, off] of meta.fields) this.metaFields.set(k, { position: bodyPos + off, marker: meta.body[off]! });
    if (meta.keyframeRegion) this.keyframeRegion = { position: bodyPos + meta.keyframeRegion.offset, capacity: meta.keyframeRegion.capacity };
    const tag = encodeFlvTag(TAG_SCRIPT, 0, meta.body);
    out.data.push(head, tag);
    this.pos = head.length + tag.length;
    return out;
  }

  write(tag: MediaTag): WriterOutput {
    if (!this.started || this.ended) throw new MediaError('ERR_MEDIA_WRITER_STATE', 'write() outside start()/end()');
    if (this.t0 === undefined) this.t0 = tag.timestamp;
    const ts = this.base + Math.max(0, tag.timestamp - this.t0);
    const position = this.pos;
    const bytes = encodeFlvTag(tag.type, ts, tag.payload);
    this.pos += bytes.length;
    this.lastTs = Math.max(this.lastTs, ts);
    if (tag.type === TAG_VIDEO || tag.type === TAG_AUDIO) this.observe(tag, ts, position);
    const out = emptyOutput();
    out.data.push(bytes);
    return out;
  }

  private observe(tag: MediaTag, ts: number, position: number): void {
    const p = tag.payload;
    let st = this.tracks.get(tag.type);
    if (!st) {
      st = { first: ts, last: ts, prev: ts, count: 0, bytes: 0 };
      this.tracks.set(tag.type, st);
    }
    if (tag.type === TAG_VIDEO) {
      this.flags |= FLAG_VIDEO;
      const v = parseVideoPayload(p);
      if (!v) return;
      this.facts.videocodecid = v.codec;
      if (v.packetType === 0) {
        try {
          const sps = avcConfigInfo(v.config);
          if (sps) {
            this.facts.width = sps.width;
            this.facts.height = sps.height;
          }
        } catch {
          // Leave width/height as the publisher's metadata said.
        }
        return;
      }
      if (v.packetType === 2 || (p[0]! & 0x70) >> 4 === 5) return;
      if (v.keyframe) {
        this.keyTimes.push(ts / 1000);
        this.keyPositions.push(position);
        this.lastKey = { ts, position };
      }
    } else {
      this.flags |= FLAG_AUDIO;
      const a = parseAudioPayload(p);
      if (!a) return;
      this.facts.audiocodecid = a.format;
      if (a.packetType === 0) {
        try {
          const asc = parseAacConfig(a.config);
          this.facts.audiosamplerate = asc.sampleRate;
          this.facts.stereo = asc.channels >= 2;
          this.facts.audiosamplesize = 16;
        } catch {
          // Keep what we had.
        }
        return;
      }
      if (a.packetType === -1) {
        const mp3 = a.format === AudioCodec.MP3 || a.format === AudioCodec.MP3_8k ? parseMpegAudioHeader(a.data) : undefined;
        this.facts.audiosamplerate = mp3?.sampleRate ?? [5512, 11025, 22050, 44100][a.rateBits]!;
        this.facts.stereo = mp3 ? mp3.channels === 2 : a.stereo;
        this.facts.audiosamplesize = a.sixteenBit ? 16 : 8;
      }
    }
    if (st.count > 0) st.prev = st.last;
    st.last = ts;
    st.count++;
    st.bytes += p.length;
  }

  end(): WriterOutput {
    if (!this.started || this.ended) throw new MediaError('ERR_MEDIA_WRITER_STATE', 'end() outside start()');
    this.ended = true;
    const out = emptyOutput();
    let durationMs = Math.max(this.lastTs, this.opts.append?.endTime ?? 0);
    for (const st of this.tracks.values()) if (st.count > 0) durationMs = Math.max(durationMs, st.last + (st.last - st.prev));
    const ownSeconds = (durationMs - this.base) / 1000;
    const v = this.tracks.get(TAG_VIDEO);
    const a = this.tracks.get(TAG_AUDIO);
    const values: Record<string, number | boolean> = {
      ...this.facts,
      duration: durationMs / 1000,
      filesize: this.pos,
      lasttimestamp: this.lastTs / 1000,
      canSeekToEnd: this.lastKey !== undefined && this.lastKey.ts === this.lastTs,
    };
    if (this.lastKey) {
      values.lastkeyframetimestamp = this.lastKey.ts / 1000;
      values.lastkeyframelocation = this.lastKey.position;
    }
    const videoSeconds = v ? (v.last - v.first + (v.last - v.prev)) / 1000 : 0;
    if (videoSeconds > 0 && v && v.count > 1) values.framerate = Math.round((v.count / videoSeconds) * 1000) / 1000;
    if (ownSeconds > 0 && v && v.count > 1) {
      values.videodatarate = (v.bytes * 8) / ownSeconds / 1000;
    }
    if (ownSeconds > 0 && a) values.audiodatarate = (a.bytes * 8) / ownSeconds / 1000;
    // Appending must not rewrite what the earlier session measured about its own streams.
    const appendOnly = new Set(['duration', 'filesize', 'lasttimestamp', 'lastkeyframetimestamp', 'lastkeyframelocation', 'canSeekToEnd']);
    for (const [k, f] of this.metaFields) {
      const val = values[k];
      if (val === undefined || (this.opts.append && !appendOnly.has(k))) continue;
      const bytes = encodeFieldValue(f.marker, val);
      if (bytes) out.patches.push({ position: f.position, bytes });
    }
    if (this.keyframeRegion && this.keyTimes.length > 0) {
      out.patches.push({ position: this.keyframeRegion.position, bytes: encodeKeyframeRegion(this.keyframeRegion.capacity, this.keyTimes, this.keyPositions) });
    }
    out.patches.push({ position: 4, bytes: Buffer.from([this.flags]) } satisfies Patch);
    return out;
  }
}
