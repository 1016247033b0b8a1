/**
 * MP4/F4V/MOV playback reader: ISO/IEC 14496-12 (file structure, sample tables, edit lists), 14496-14 (mp4a/esds),
 * 14496-15 (avc1/avc3 + avcC). Produces FLV-style payloads (Adobe Video File Format Spec v10.1 E.4) interleaved by
 * decode time, the way FMS plays `mp4:` streams. Box headers are read by position through a RandomAccessSource;
 * only the moov box is held in memory, and sample data is read sample by sample.
 */
import type { AmfObject, AmfValue } from '../amf/types';
import { MediaError } from '../errors';
import { avcConfigInfo, parseAacConfig } from './codec-config';
import { aacRawPayload, aacSequenceHeaderPayload, avcNaluPayload, avcSequenceHeaderPayload } from './flv-payload';
import { guarded, type MediaInfo, type MediaReader } from './media-types';
import * as I from './mp4-inspect';
import { flvMp3SoundHeader, parseMpegAudioHeader } from './mpeg-audio';
import { SourceReader, type RandomAccessSource } from './source';
import { AudioCodec, TAG_AUDIO, TAG_VIDEO, VideoCodec, type MediaTag } from './tag-info';

/** Refuse moov boxes larger than this (a sane file of many hours has a few tens of MB). */
const MAX_MOOV_BYTES = 256 * 1024 * 1024;
/** Refuse tracks with more samples than this (bounds the expanded tables at ~25 bytes per sample). */
const MAX_SAMPLES = 20_000_000;
/** Bounds the top-level box walk on hostile files made of millions of tiny boxes. */
const MAX_TOP_LEVEL_BOXES = 1_000_000;

/** Box types an MP4/F4V/MOV file can start with. */
export const FIRST_BOX_TYPES = new Set(['ftyp', 'moov', 'mdat', 'free', 'skip', 'wide', 'pnot', 'uuid', 'styp', 'sidx', 'moof', 'pdin', 'junk']);

export interface Mp4Layout {
  /** Major and compatible brands from ftyp ([] when there is none). */
  brands: string[];
  moovPosition: number;
  moov: Buffer;
  /** True when a box (usually mdat) runs past the end of the file. */
  truncated: boolean;
  /** moof boxes present (fragmented file). */
  fragmented: boolean;
  /** Positions and sizes of the moof boxes, in file order. */
  fragments: { position: number; size: number }[];
}

/** Walks the top-level boxes through the source and loads moov. */
export async function readMp4Layout(source: RandomAccessSource | SourceReader): Promise<Mp4Layout> {
  return guarded(() => readLayout(source));
}

async function readLayout(source: RandomAccessSource | SourceReader): Promise<Mp4Layout> {
  const r = source instanceof SourceReader ? source : new SourceReader(source);
  const size = r.size;
  let pos = 0;
  let brands: string[] = [];
  let moovPosition = -1;
  let moovSize = 0;
  let truncated = false;
  let fragmented = false;
  const fragments: { position: number; size: number }[] = [];
  for (let n = 0; pos + 8 <= size; n++) {
    if (n > MAX_TOP_LEVEL_BOXES) throw new MediaError('ERR_MEDIA_UNSUPPORTED', 'too many top-level boxes');
    const head = await r.readExact(pos, 16 <= size - pos ? 16 : 8, 'box header');
    let boxSize = head.readUInt32BE(0);
    const type = head.toString('latin1', 4, 8);
    if (n === 0 && !FIRST_BOX_TYPES.has(type)) throw new MediaError('ERR_MEDIA_CORRUPT', 'not an MP4 file (no known box at offset 0)');
    if (!/^[\x20-\x7e]{4}$/.test(type)) break; // trailing garbage after valid boxes: ignore it like other players do
    let headerSize = 8;
    if (boxSize === 1) {
      if (head.length < 16) {
        truncated = true;
        break;
      }
      boxSize = Number(head.readBigUInt64BE(8));
      headerSize = 16;
    } else if (boxSize === 0) boxSize = size - pos;
    if (boxSize < headerSize) throw new MediaError('ERR_MEDIA_CORRUPT', `box '${type}' at ${pos} has size ${boxSize}`);
    if (pos + boxSize > size) {
      truncated = true;
      if (type === 'moov') throw new MediaError('ERR_MEDIA_TRUNCATED', 'file ends inside the moov box', { position: pos, size: boxSize });
      break;
    }
    if (type === 'ftyp' && boxSize >= 16 && boxSize <= 1024) {
      const f = await r.readExact(pos + headerSize, boxSize - headerSize, 'ftyp');
      brands = [];
      for (let q = 0; q + 4 <= f.length; q += q === 0 ? 8 : 4) brands.push(f.toString('latin1', q, q + 4));
    } else if (type === 'moov' && moovPosition < 0) {
      moovPosition = pos;
      moovSize = boxSize;
    } else if (type === 'moof') {
      fragmented = true;
      fragments.push({ position: pos, size: boxSize });
    }
    pos += boxSize;
  }
  if (moovPosition < 0) {
    if (truncated) throw new MediaError('ERR_MEDIA_TRUNCATED', 'no moov box: the file was cut short (interrupted recording?)');
    throw new MediaError('ERR_MEDIA_CORRUPT', 'no moov box');
  }
  if (moovSize > MAX_MOOV_BYTES) throw new MediaError('ERR_MEDIA_UNSUPPORTED', `moov box of ${moovSize} bytes`);
  const moov = await r.readCopy(moovPosition, moovSize, 'moov');
  return { brands, moovPosition, moov, truncated, fragmented, fragments };
}

type Codec = 'avc' | 'aac' | 'mp3';

interface SampleTable {
  count: number;
  offsets: Float64Array;
  sizes: Uint32Array;
  /** Decode time in milliseconds on the presentation timeline (edit list applied). */
  ms: Float64Array;
  /** Composition offset in milliseconds. */
  ctsMs: Int32Array;
  sync: Uint8Array;
  /** 0-based sample description index. */
  entry: Uint16Array;
}

export interface Mp4TrackInfo {
  trackId: number;
  handler: string;
  /** Sample entry type (avc1, mp4a, ...). */
  sampleType: string;
  timescale: number;
  /** Media duration in the track timescale. */
  duration: number;
  language: string;
  codec?: Codec;
  sampleCount: number;
}

interface Track {
  info: Mp4TrackInfo;
  codec: Codec;
  kind: 'video' | 'audio';
  entries: I.SampleEntry[];
  /** Per sample description: the sequence header payload to send before its samples (none for MP3). */
  sequenceHeaders: (Buffer | undefined)[];
  /** Per sample description: FLV sound header byte for MP3. */
  mp3Header: number[];
  table: SampleTable;
  next: number;
  lastEntry: number;
}

function supportedCodec(handler: string, e: I.SampleEntry): Codec | undefined {
  if (handler === 'vide' && (e.type === 'avc1' || e.type === 'avc3') && e.video?.avcC) return 'avc';
  if (handler !== 'soun' || !e.audio) return undefined;
  if (e.type === '.mp3') return 'mp3';
  if (e.type !== 'mp4a' || !e.audio.esds) return undefined;
  const oti = e.audio.esds.objectType;
  if ((oti === 0x40 || oti === 0x66 || oti === 0x67 || oti === 0x68) && e.audio.esds.decoderSpecificInfo) return 'aac';
  if (oti === 0x69 || oti === 0x6b) return 'mp3';
  return undefined;
}

/** Samples in decode order, times in the track timescale, before edit lists and milliseconds. */
interface RawSamples {
  count: number;
  offsets: Float64Array;
  sizes: Uint32Array;
  dts: Float64Array;
  cto: Int32Array;
  sync: Uint8Array;
  /** 0-based sample description index. */
  entry: Uint16Array;
  /** Decode time just after the last sample. */
  end: number;
}

function allocRaw(count: number): RawSamples {
  return {
    count,
    offsets: new Float64Array(count),
    sizes: new Uint32Array(count),
    dts: new Float64Array(count),
    cto: new Int32Array(count),
    sync: new Uint8Array(count),
    entry: new Uint16Array(count),
    end: 0,
  };
}

/** Expands the compact sample tables of one stbl into per-sample arrays, with every count checked. */
function expandStbl(buf: Buffer, stbl: I.BoxHeader, fileSize: number): RawSamples {
  const need = (type: string): I.BoxHeader => {
    const h = I.findChild(buf, stbl, type);
    if (!h) throw I.corrupt(`stbl without ${type}`);
    return h;
  };
  const stszBox = I.findChild(buf, stbl, 'stsz') ?? I.findChild(buf, stbl, 'stz2');
  if (!stszBox) throw I.corrupt('stbl without stsz');
  const stsz = I.parseStsz(buf, stszBox);
  const stts = I.parseStts(buf, need('stts'));
  const stsc = I.parseStsc(buf, need('stsc'));
  const stcoBox = I.findChild(buf, stbl, 'stco') ?? I.findChild(buf, stbl, 'co64');
  if (!stcoBox) throw I.corrupt('stbl without stco/co64');
  const chunkOffsets = I.parseChunkOffsets(buf, stcoBox);
  const cttsBox = I.findChild(buf, stbl, 'ctts');
  const ctts = cttsBox ? I.parseCtts(buf, cttsBox) : undefined;
  const stssBox = I.findChild(buf, stbl, 'stss');
  const stss = stssBox ? I.parseStss(buf, stssBox) : undefined;

  let count = stsz.count;
  if (stsz.sampleSize !== 0 && count * stsz.sampleSize > fileSize) throw I.corrupt('stsz claims more bytes than the file has', { count });
  if (count > MAX_SAMPLES) throw new MediaError('ERR_MEDIA_UNSUPPORTED', `track with ${count} samples`);
  let sttsTotal = 0;
  for (let i = 0; i < stts.counts.length; i++) sttsTotal += stts.counts[i]!;
  if (sttsTotal < count) count = sttsTotal; // samples without a decode time cannot be placed
  const t = allocRaw(count);
  for (let i = 0; i < count; i++) t.sizes[i] = stsz.sizes ? stsz.sizes[i]! : stsz.sampleSize;

  let dts = 0;
  let s = 0;
  for (let i = 0; i < stts.counts.length && s < count; i++) {
    const d = stts.deltas[i]!;
    for (let c = stts.counts[i]!; c > 0 && s < count; c--, s++) {
      t.dts[s] = dts;
      dts += d;
    }
  }
  t.end = dts;
  if (ctts) {
    s = 0;
    for (let i = 0; i < ctts.counts.length && s < count; i++) {
      const o = ctts.offsets[i]!;
      for (let c = ctts.counts[i]!; c > 0 && s < count; c--, s++) t.cto[s] = o;
    }
  }
  if (stss) {
    for (let i = 0; i < stss.length; i++) {
      const n = stss[i]!;
      if (n >= 1 && n <= count) t.sync[n - 1] = 1;
    }
  } else t.sync.fill(1);

  // Chunks: stsc runs give samples per chunk and the description for chunks [first_chunk, next first_chunk).
  s = 0;
  const chunks = chunkOffsets.length;
  for (let run = 0; run < stsc.firstChunk.length && s < count; run++) {
    const first = stsc.firstChunk[run]!;
    const last = run + 1 < stsc.firstChunk.length ? stsc.firstChunk[run + 1]! - 1 : chunks;
    if (first < 1 || (run > 0 && first <= stsc.firstChunk[run - 1]!)) throw I.corrupt('stsc first_chunk out of order');
    const per = stsc.samplesPerChunk[run]!;
    const entry = Math.max(0, stsc.descriptionIndex[run]! - 1);
    for (let chunk = first; chunk <= Math.min(last, chunks) && s < count; chunk++) {
      let off = chunkOffsets[chunk - 1]!;
      for (let k = 0; k < per && s < count; k++, s++) {
        t.offsets[s] = off;
        t.entry[s] = entry;
        off += t.sizes[s]!;
      }
    }
  }
  t.count = Math.min(s, count); // samples the chunk table does not place cannot be read
  return t;
}

/** Applies the edit list and converts to milliseconds; samples (partly) beyond the end of the file end the track. */
function toTable(raw: RawSamples, timescale: number, movieTimescale: number, edits: I.EditEntry[], fileSize: number): SampleTable {
  // Leading empty edits delay the track; the first real edit says which media time is shown at that point.
  let delay = 0;
  let mediaStart = 0;
  for (const e of edits) {
    if (e.mediaTime === -1) delay += e.segmentDuration;
    else {
      mediaStart = e.mediaTime;
      break;
    }
  }
  const shift = (delay * timescale) / movieTimescale - mediaStart;
  const toMs = (v: number): number => Math.round(((v + shift) * 1000) / timescale);
  let count = raw.count;
  for (let i = 0; i < count; i++) {
    if (raw.offsets[i]! + raw.sizes[i]! > fileSize) {
      count = i;
      break;
    }
  }
  const ms = new Float64Array(count);
  const ctsMs = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    ms[i] = toMs(raw.dts[i]!);
    ctsMs[i] = toMs(raw.dts[i]! + raw.cto[i]!) - ms[i]!;
  }
  return { count, offsets: raw.offsets, sizes: raw.sizes, ms, ctsMs, sync: raw.sync, entry: raw.entry };
}

interface TrackDefaults {
  descriptionIndex: number;
  duration: number;
  size: number;
  flags: number;
}

/** trex defaults by track id (ISO/IEC 14496-12 8.8.3). */
function parseTrex(buf: Buffer, moov: I.BoxHeader): Map<number, TrackDefaults> {
  const out = new Map<number, TrackDefaults>();
  const mvex = I.findChild(buf, moov, 'mvex');
  if (!mvex) return out;
  for (const h of I.findChildren(buf, mvex, 'trex')) {
    const p = h.start + h.headerSize + 4;
    if (p + 20 > h.end) throw I.corrupt('trex too short');
    out.set(buf.readUInt32BE(p), {
      descriptionIndex: buf.readUInt32BE(p + 4),
      duration: buf.readUInt32BE(p + 8),
      size: buf.readUInt32BE(p + 12),
      flags: buf.readUInt32BE(p + 16),
    });
  }
  return out;
}

/** Growable per-sample columns for fragment samples. */
class SampleColumns {
  offsets: number[] = [];
  sizes: number[] = [];
  dts: number[] = [];
  cto: number[] = [];
  sync: number[] = [];
  entry: number[] = [];
  end = 0;
}

/**
 * Adds the samples of one moof (ISO/IEC 14496-12 8.8.4-8.8.8, 8.8.12: tfhd, tfdt, trun) to the columns of the
 * tracks we play. Data offsets are relative to the moof unless tfhd gives a base (the ffmpeg/DASH convention).
 */
function addFragment(buf: Buffer, moofPos: number, wanted: Map<number, SampleColumns>, trex: Map<number, TrackDefaults>, fileSize: number, total: { n: number }): void {
  const moof = I.boxHeaderAt(buf, 0, buf.length);
  for (const traf of I.findChildren(buf, moof, 'traf')) {
    const tfhdBox = I.findChild(buf, traf, 'tfhd');
    if (!tfhdBox) throw I.corrupt('traf without tfhd');
    let p = tfhdBox.start + tfhdBox.headerSize;
    const need = (box: I.BoxHeader, n: number): void => {
      if (p + n > box.end) throw I.corrupt(`'${box.type}' too short`);
    };
    need(tfhdBox, 8);
    const tfFlags = buf.readUIntBE(p + 1, 3);
    const trackId = buf.readUInt32BE(p + 4);
    p += 8;
    const cols = wanted.get(trackId);
    if (!cols) continue;
    const d = trex.get(trackId) ?? { descriptionIndex: 1, duration: 0, size: 0, flags: 0 };
    let base = moofPos;
    let descriptionIndex = d.descriptionIndex;
    let defDuration = d.duration;
    let defSize = d.size;
    let defFlags = d.flags;
    if (tfFlags & 0x01) {
      need(tfhdBox, 8);
      base = Number(buf.readBigUInt64BE(p));
      p += 8;
    }
    if (tfFlags & 0x02) {
      need(tfhdBox, 4);
      descriptionIndex = buf.readUInt32BE(p);
      p += 4;
    }
    if (tfFlags & 0x08) {
      need(tfhdBox, 4);
      defDuration = buf.readUInt32BE(p);
      p += 4;
    }
    if (tfFlags & 0x10) {
      need(tfhdBox, 4);
      defSize = buf.readUInt32BE(p);
      p += 4;
    }
    if (tfFlags & 0x20) {
      need(tfhdBox, 4);
      defFlags = buf.readUInt32BE(p);
    }
    const tfdt = I.findChild(buf, traf, 'tfdt');
    let dts = cols.end;
    if (tfdt) {
      p = tfdt.start + tfdt.headerSize;
      need(tfdt, 8);
      dts = buf[p] === 1 ? (need(tfdt, 12), Number(buf.readBigUInt64BE(p + 4))) : buf.readUInt32BE(p + 4);
    }
    let dataPos = base;
    for (const trun of I.findChildren(buf, traf, 'trun')) {
      p = trun.start + trun.headerSize;
      need(trun, 8);
      const version = buf[p]!;
      const flags = buf.readUIntBE(p + 1, 3);
      const n = buf.readUInt32BE(p + 4);
      p += 8;
      if (flags & 0x01) {
        need(trun, 4);
        dataPos = base + buf.readInt32BE(p);
        p += 4;
      }
      let firstFlags: number | undefined;
      if (flags & 0x04) {
        need(trun, 4);
        firstFlags = buf.readUInt32BE(p);
        p += 4;
      }
      const per = ((flags & 0x100 ? 1 : 0) + (flags & 0x200 ? 1 : 0) + (flags & 0x400 ? 1 : 0) + (flags & 0x800 ? 1 : 0)) * 4;
      // Counts are bounded by the bytes describing them, or by the file when every sample uses the defaults.
      if (per > 0 ? n * per > trun.end - p : n * Math.max(1, defSize) > fileSize) throw I.corrupt('trun sample count exceeds the box or file', { n });
      if ((total.n += n) > MAX_SAMPLES) throw new MediaError('ERR_MEDIA_UNSUPPORTED', 'too many fragment samples');
      for (let i = 0; i < n; i++) {
        const duration = flags & 0x100 ? buf.readUInt32BE((p += 4) - 4) : defDuration;
        const size = flags & 0x200 ? buf.readUInt32BE((p += 4) - 4) : defSize;
        const sflags = flags & 0x400 ? buf.readUInt32BE((p += 4) - 4) : i === 0 && firstFlags !== undefined ? firstFlags : defFlags;
        const cto = flags & 0x800 ? (version === 0 ? buf.readUInt32BE((p += 4) - 4) | 0 : buf.readInt32BE((p += 4) - 4)) : 0;
        cols.offsets.push(dataPos);
        cols.sizes.push(size);
        cols.dts.push(dts);
        cols.cto.push(cto);
        cols.sync.push(sflags & 0x00010000 ? 0 : 1); // sample_is_non_sync_sample
        cols.entry.push(Math.max(0, descriptionIndex - 1));
        dataPos += size;
        dts += duration;
      }
    }
    cols.end = dts;
  }
}

function appendColumns(raw: RawSamples, cols: SampleColumns): RawSamples {
  const n = cols.sizes.length;
  if (n === 0) return raw;
  const out = allocRaw(raw.count + n);
  out.offsets.set(raw.offsets.subarray(0, raw.count));
  out.sizes.set(raw.sizes.subarray(0, raw.count));
  out.dts.set(raw.dts.subarray(0, raw.count));
  out.cto.set(raw.cto.subarray(0, raw.count));
  out.sync.set(raw.sync.subarray(0, raw.count));
  out.entry.set(raw.entry.subarray(0, raw.count));
  out.offsets.set(cols.offsets, raw.count);
  out.sizes.set(cols.sizes, raw.count);
  out.dts.set(cols.dts, raw.count);
  out.cto.set(cols.cto, raw.count);
  out.sync.set(cols.sync, raw.count);
  out.entry.set(cols.entry, raw.count);
  out.end = cols.end;
  return out;
}

/** Refuse single moof boxes larger than this. */
const MAX_MOOF_BYTES = 64 * 1024 * 1024;

export interface Mp4ReaderOptions {
  /** Read at most this many bytes per source call for small reads (default 64 KiB). */
  blockSize?: number;
}

export class Mp4Reader implements MediaReader {
  readonly info: MediaInfo;
  readonly tracks: Mp4TrackInfo[];
  readonly layout: Omit<Mp4Layout, 'moov'>;
  private readonly active: Track[];
  private pending: MediaTag[] = [];

  private constructor(
    private readonly reader: SourceReader,
    layout: Omit<Mp4Layout, 'moov'>,
    tracks: Mp4TrackInfo[],
    active: Track[],
    info: MediaInfo,
  ) {
    this.layout = { brands: layout.brands, moovPosition: layout.moovPosition, truncated: layout.truncated, fragmented: layout.fragmented, fragments: layout.fragments };
    this.tracks = tracks;
    this.active = active;
    this.info = info;
    this.queueSequenceHeaders(0);
  }

  static async open(source: RandomAccessSource, opts: Mp4ReaderOptions = {}): Promise<Mp4Reader> {
    return guarded(() => Mp4Reader.openImpl(source, opts));
  }

  /**
   * Another reader of the same file (another source on it), sharing this one's parsed moov and sample tables:
   * the many players of one file parse it once. Only the reading position is per reader.
   */
  fork(source: RandomAccessSource, opts: Mp4ReaderOptions = {}): Mp4Reader {
    const active = this.active.map((t) => ({ ...t, next: 0, lastEntry: -1 }));
    return new Mp4Reader(new SourceReader(source, opts.blockSize), this.layout, this.tracks, active, this.info);
  }

  private static async openImpl(source: RandomAccessSource, opts: Mp4ReaderOptions): Promise<Mp4Reader> {
    const reader = new SourceReader(source, opts.blockSize);
    const layout = await readMp4Layout(reader);
    const buf = layout.moov;
    const moov = I.boxHeaderAt(buf, 0, buf.length);
    const mvhdBox = I.findChild(buf, moov, 'mvhd');
    if (!mvhdBox) throw I.corrupt('moov without mvhd');
    const mvhd = I.parseMvhd(buf, mvhdBox);
    if (mvhd.timescale === 0) throw I.corrupt('mvhd timescale 0');
    const tracks: Mp4TrackInfo[] = [];
    const active: Track[] = [];
    const pendingTracks: { trackId: number; raw: RawSamples; timescale: number; edits: I.EditEntry[]; info: Mp4TrackInfo }[] = [];
    for (const trak of I.findChildren(buf, moov, 'trak')) {
      const tkhdBox = I.findChild(buf, trak, 'tkhd');
      const mdhdBox = I.findPath(buf, trak, 'mdia', 'mdhd');
      const hdlrBox = I.findPath(buf, trak, 'mdia', 'hdlr');
      const stbl = I.findPath(buf, trak, 'mdia', 'minf', 'stbl');
      if (!tkhdBox || !mdhdBox || !hdlrBox || !stbl) throw I.corrupt('trak without tkhd/mdhd/hdlr/stbl');
      const tkhd = I.parseTkhd(buf, tkhdBox);
      const mdhd = I.parseMdhd(buf, mdhdBox);
      const { handlerType } = I.parseHdlr(buf, hdlrBox);
      const stsdBox = I.findChild(buf, stbl, 'stsd');
      if (!stsdBox) throw I.corrupt('stbl without stsd');
      const entries = I.parseStsd(buf, stsdBox);
      const first = entries[0];
      const codec = first ? supportedCodec(handlerType, first) : undefined;
      const info: Mp4TrackInfo = {
        trackId: tkhd.trackId,
        handler: handlerType,
        sampleType: first?.type ?? '',
        timescale: mdhd.timescale,
        duration: mdhd.duration,
        language: mdhd.language,
        sampleCount: 0,
      };
      if (codec) info.codec = codec;
      tracks.push(info);
      const kind = codec === 'avc' ? 'video' : 'audio';
      if (!codec || mdhd.timescale === 0 || active.some((t) => t.kind === kind)) continue;
      const elstBox = I.findPath(buf, trak, 'edts', 'elst');
      const edits = elstBox ? I.parseElst(buf, elstBox) : [];
      pendingTracks.push({ trackId: tkhd.trackId, raw: expandStbl(buf, stbl, reader.size), timescale: mdhd.timescale, edits, info });
      const table: SampleTable = { count: 0, offsets: new Float64Array(0), sizes: new Uint32Array(0), ms: new Float64Array(0), ctsMs: new Int32Array(0), sync: new Uint8Array(0), entry: new Uint16Array(0) };
      const sequenceHeaders = entries.map((e) => {
        if (codec === 'avc' && e.video?.avcC) return avcSequenceHeaderPayload(e.video.avcC);
        if (codec === 'aac' && e.audio?.esds?.decoderSpecificInfo) return aacSequenceHeaderPayload(e.audio.esds.decoderSpecificInfo);
        return undefined;
      });
      const mp3Header = entries.map((e) => flvMp3SoundHeader(e.audio?.sampleRate ?? 44100, e.audio?.channels === 1 ? 1 : 2));
      active.push({ info, codec, kind, entries, sequenceHeaders, mp3Header, table, next: 0, lastEntry: -1 });
    }
    if (layout.fragments.length > 0 && pendingTracks.length > 0) {
      const trex = parseTrex(buf, moov);
      const wanted = new Map(pendingTracks.map((t) => [t.trackId, Object.assign(new SampleColumns(), { end: t.raw.end })]));
      const total = { n: 0 };
      for (const f of layout.fragments) {
        if (f.size > MAX_MOOF_BYTES) throw new MediaError('ERR_MEDIA_UNSUPPORTED', `moof box of ${f.size} bytes`);
        addFragment(await reader.readCopy(f.position, f.size, 'moof'), f.position, wanted, trex, reader.size, total);
      }
      for (const t of pendingTracks) t.raw = appendColumns(t.raw, wanted.get(t.trackId)!);
    }
    pendingTracks.forEach((t, i) => {
      const table = toTable(t.raw, t.timescale, mvhd.timescale, t.edits, reader.size);
      active[i]!.table = table;
      t.info.sampleCount = table.count;
      // Fragmented files leave mdhd durations at 0: the samples say how long the track is.
      if (t.info.duration === 0) t.info.duration = t.raw.end;
    });
    if (active.length === 0) {
      throw new MediaError('ERR_MEDIA_NO_SUPPORTED_TRACK', 'no H.264, AAC or MP3 track', { tracks: tracks.map((t) => `${t.handler}:${t.sampleType}`) });
    }
    // FLV timestamps cannot be negative: an edit list that starts media before zero shifts the whole file.
    let minMs = Infinity;
    for (const t of active) if (t.table.count > 0) minMs = Math.min(minMs, t.table.ms[0]!);
    if (minMs < 0 && Number.isFinite(minMs)) for (const t of active) for (let i = 0; i < t.table.count; i++) t.table.ms[i]! -= minMs;
    if (active.length === 2 && active[0]!.kind === 'audio') active.reverse(); // video first on equal timestamps
    const info = await Mp4Reader.describe(reader, layout, mvhd, tracks, active);
    await Mp4Reader.refineMp3(reader, active);
    return new Mp4Reader(reader, layout, tracks, active, info);
  }

  /** MP3 sample entries often carry no reliable rate/channels: take them from the first frame header. */
  private static async refineMp3(reader: SourceReader, active: Track[]): Promise<void> {
    for (const t of active) {
      if (t.codec !== 'mp3' || t.table.count === 0) continue;
      const head = await reader.read(t.table.offsets[0]!, 4);
      const h = parseMpegAudioHeader(head);
      if (h) t.mp3Header = t.mp3Header.map(() => flvMp3SoundHeader(h.sampleRate, h.channels));
    }
  }

  private static async describe(reader: SourceReader, layout: Mp4Layout, mvhd: I.MvhdInfo, tracks: Mp4TrackInfo[], active: Track[]): Promise<MediaInfo> {
    const video = active.find((t) => t.kind === 'video');
    const audio = active.find((t) => t.kind === 'audio');
    let trackSeconds = 0;
    for (const t of active) trackSeconds = Math.max(trackSeconds, t.info.duration / t.info.timescale);
    const duration = mvhd.duration > 0 ? mvhd.duration / mvhd.timescale : trackSeconds;
    const info: MediaInfo = { format: 'mp4', duration, fileSize: reader.size, onMetaData: {} };
    const meta: AmfObject = { duration, moovPosition: layout.moovPosition };
    if (video) {
      const e = video.entries[0]!;
      info.videoCodecId = VideoCodec.AVC;
      info.videoCodec = e.type;
      info.width = e.video!.width;
      info.height = e.video!.height;
      meta.width = info.width;
      meta.height = info.height;
      meta.videocodecid = e.type;
      try {
        const sps = avcConfigInfo(e.video!.avcC!);
        if (sps) {
          meta.avcprofile = sps.profile;
          meta.avclevel = sps.level;
          if (!info.width || !info.height) {
            info.width = meta.width = sps.width;
            info.height = meta.height = sps.height;
          }
        }
      } catch {
        // A broken SPS does not stop playback: the player decodes it (or not) itself.
      }
      const seconds = video.info.duration / video.info.timescale;
      if (seconds > 0 && video.table.count > 1) {
        info.framerate = Math.round((video.table.count / seconds) * 1000) / 1000;
        meta.videoframerate = info.framerate;
      }
    }
    if (audio) {
      const e = audio.entries[0]!;
      info.audioCodecId = audio.codec === 'aac' ? AudioCodec.AAC : AudioCodec.MP3;
      info.audioCodec = e.type;
      info.audioSampleRate = e.audio!.sampleRate || audio.info.timescale;
      info.audioChannels = e.audio!.channels;
      info.audioSampleSize = e.audio!.sampleSize || 16;
      meta.audiocodecid = e.type;
      if (audio.codec === 'aac') {
        try {
          const asc = parseAacConfig(e.audio!.esds!.decoderSpecificInfo!);
          meta.aacaot = asc.objectType;
          info.audioSampleRate = asc.sampleRate;
          info.audioChannels = asc.channels;
        } catch {
          // Keep the sample entry's values.
        }
      } else if (audio.table.count > 0) {
        const h = parseMpegAudioHeader(await reader.read(audio.table.offsets[0]!, 4));
        if (h) {
          info.audioSampleRate = h.sampleRate;
          info.audioChannels = h.channels;
        }
      }
      meta.audiosamplerate = info.audioSampleRate;
      meta.audiochannels = info.audioChannels;
    }
    meta.trackinfo = tracks.map(
      (t): AmfValue => ({ length: t.duration, timescale: t.timescale, language: t.language, sampledescription: [{ sampletype: t.sampleType }] }),
    );
    info.onMetaData = meta;
    return info;
  }

  private queueSequenceHeaders(ms: number): void {
    this.pending = [];
    for (const t of this.active) {
      const entry = t.next < t.table.count ? t.table.entry[t.next]! : 0;
      const sh = t.sequenceHeaders[entry];
      if (sh) this.pending.push({ type: t.kind === 'video' ? TAG_VIDEO : TAG_AUDIO, timestamp: ms, payload: sh });
      t.lastEntry = entry;
    }
  }

  async next(): Promise<MediaTag | null> {
    return guarded(() => this.nextImpl());
  }

  private async nextImpl(): Promise<MediaTag | null> {
    const queued = this.pending.shift();
    if (queued) return queued;
    let pick: Track | undefined;
    for (const t of this.active) {
      if (t.next >= t.table.count) continue;
      if (!pick || t.table.ms[t.next]! < pick.table.ms[pick.next]!) pick = t;
    }
    if (!pick) return null;
    const i = pick.next++;
    const tb = pick.table;
    const entry = tb.entry[i]!;
    if (entry !== pick.lastEntry) {
      pick.lastEntry = entry;
      const sh = pick.sequenceHeaders[entry];
      if (sh) {
        pick.next--;
        return { type: pick.kind === 'video' ? TAG_VIDEO : TAG_AUDIO, timestamp: tb.ms[i]!, payload: sh };
      }
    }
    const data = await this.reader.readExact(tb.offsets[i]!, tb.sizes[i]!, 'sample');
    const timestamp = tb.ms[i]!;
    if (pick.codec === 'avc') return { type: TAG_VIDEO, timestamp, payload: avcNaluPayload(tb.sync[i] === 1, tb.ctsMs[i]!, data) };
    if (pick.codec === 'aac') return { type: TAG_AUDIO, timestamp, payload: aacRawPayload(data) };
    return { type: TAG_AUDIO, timestamp, payload: Buffer.concat([Buffer.from([pick.mp3Header[entry]!]), data]) };
  }

  async seek(ms: number): Promise<number> {
    return guarded(() => this.seekImpl(ms));
  }

  private async seekImpl(ms: number): Promise<number> {
    const video = this.active.find((t) => t.kind === 'video' && t.table.count > 0);
    const primary = video ?? this.active.find((t) => t.table.count > 0);
    if (!primary) return 0;
    const tb = primary.table;
    let i = lastAtOrBefore(tb.ms, tb.count, ms);
    if (primary === video) {
      while (i > 0 && tb.sync[i] !== 1) i--;
      if (i < 0 || tb.sync[i] !== 1) i = tb.sync.indexOf(1);
    }
    if (i < 0) i = 0;
    primary.next = i;
    const at = tb.ms[i]!;
    for (const t of this.active) {
      if (t !== primary) t.next = lastAtOrBefore(t.table.ms, t.table.count, at - 1) + 1;
    }
    this.queueSequenceHeaders(at);
    return at;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<MediaTag> {
    for (let tag = await this.next(); tag; tag = await this.next()) yield tag;
  }
}

/** Index of the last element <= v in a non-decreasing array, or -1. */
function lastAtOrBefore(a: Float64Array, n: number, v: number): number {
  let lo = 0;
  let hi = n - 1;
  let ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! <= v) {
      ans = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return ans;
}

/** Duration in seconds from the moov alone (mvhd, else the longest track). */
export async function mp4Length(source: RandomAccessSource): Promise<number> {
  return guarded(() => mp4LengthImpl(source));
}

async function mp4LengthImpl(source: RandomAccessSource): Promise<number> {
  const { moov, fragments } = await readMp4Layout(source);
  const root = I.boxHeaderAt(moov, 0, moov.length);
  const mvhdBox = I.findChild(moov, root, 'mvhd');
  if (!mvhdBox) throw I.corrupt('moov without mvhd');
  const mvhd = I.parseMvhd(moov, mvhdBox);
  if (mvhd.duration > 0 && mvhd.timescale > 0) return mvhd.duration / mvhd.timescale;
  let seconds = 0;
  for (const trak of I.findChildren(moov, root, 'trak')) {
    const mdhdBox = I.findPath(moov, trak, 'mdia', 'mdhd');
    if (!mdhdBox) continue;
    const m = I.parseMdhd(moov, mdhdBox);
    if (m.timescale > 0) seconds = Math.max(seconds, m.duration / m.timescale);
  }
  // A fragmented file's moov may not know its length: the fragments do.
  if (seconds === 0 && fragments.length > 0) return (await Mp4Reader.open(source)).info.duration;
  return seconds;
}
