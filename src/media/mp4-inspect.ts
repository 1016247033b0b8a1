/**
 * ISO base media file format box readers (ISO/IEC 14496-12:2015 4.2 box header incl. largesize and size 0,
 * 8.2.2 mvhd, 8.3.2 tkhd, 8.4.2 mdhd, 8.4.3 hdlr, 8.5.2 stsd with 8.5.2.2 visual/audio sample entries (QuickTime
 * sound description versions 1/2 tolerated), 8.6.1.2 stts, 8.6.1.3 ctts, 8.6.2 stss, 8.7.3 stsz/stz2,
 * 8.7.4 stsc, 8.7.5 stco/co64, 8.6.6 elst; ISO/IEC 14496-14 esds with ISO/IEC 14496-1 7.2.6 descriptors).
 * Pure functions over a Buffer holding (at least) the box; every count is checked against the bytes present
 * before anything is allocated from it. `inspectMp4` is the generic tree dump used by tests and tools.
 */
import { MediaError } from '../errors';

export interface BoxHeader {
  type: string;
  /** Offset of the box (its size field) in the buffer. */
  start: number;
  headerSize: number;
  /** Offset just past the box. */
  end: number;
}

export function corrupt(what: string, details?: Record<string, unknown>): MediaError {
  return new MediaError('ERR_MEDIA_CORRUPT', `corrupt MP4: ${what}`, details);
}

/** The box header at `pos`; the box must end by `limit`. Size 0 means "to `limit`". */
export function boxHeaderAt(buf: Buffer, pos: number, limit: number): BoxHeader {
  if (pos + 8 > limit) throw corrupt('box header past its parent', { pos, limit });
  let size = buf.readUInt32BE(pos);
  const type = buf.toString('latin1', pos + 4, pos + 8);
  let headerSize = 8;
  if (size === 1) {
    if (pos + 16 > limit) throw corrupt('largesize past its parent', { pos, type });
    size = Number(buf.readBigUInt64BE(pos + 8));
    headerSize = 16;
  } else if (size === 0) {
    size = limit - pos;
  }
  if (size < headerSize || pos + size > limit) throw corrupt(`box '${type}' size ${size}`, { pos, limit, type });
  return { type, start: pos, headerSize, end: pos + size };
}

/** Child boxes of [start, end). */
export function* childBoxes(buf: Buffer, start: number, end: number): Generator<BoxHeader> {
  let pos = start;
  while (pos + 8 <= end) {
    const h = boxHeaderAt(buf, pos, end);
    yield h;
    pos = h.end;
  }
}

export function findChild(buf: Buffer, parent: BoxHeader, type: string): BoxHeader | undefined {
  for (const h of childBoxes(buf, parent.start + parent.headerSize, parent.end)) if (h.type === type) return h;
  return undefined;
}

export function findChildren(buf: Buffer, parent: BoxHeader, type: string): BoxHeader[] {
  const out: BoxHeader[] = [];
  for (const h of childBoxes(buf, parent.start + parent.headerSize, parent.end)) if (h.type === type) out.push(h);
  return out;
}

/** Follows a path of box types below `parent`. */
export function findPath(buf: Buffer, parent: BoxHeader, ...types: string[]): BoxHeader | undefined {
  let cur: BoxHeader | undefined = parent;
  for (const t of types) {
    if (!cur) return undefined;
    cur = findChild(buf, cur, t);
  }
  return cur;
}

/** Payload view of a full box after version/flags, with bounds-checked readers. */
class FullBoxView {
  readonly version: number;
  readonly flags: number;
  p: number;
  readonly end: number;
  constructor(
    readonly buf: Buffer,
    readonly h: BoxHeader,
  ) {
    const start = h.start + h.headerSize;
    if (start + 4 > h.end) throw corrupt(`'${h.type}' too short`);
    this.version = buf[start]!;
    this.flags = buf.readUIntBE(start + 1, 3);
    this.p = start + 4;
    this.end = h.end;
  }
  need(n: number): void {
    if (this.p + n > this.end) throw corrupt(`'${this.h.type}' too short`, { need: n, at: this.p });
  }
  u8(): number {
    this.need(1);
    return this.buf[this.p++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.p);
    this.p += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.p);
    this.p += 4;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.p);
    this.p += 4;
    return v;
  }
  u64(): number {
    this.need(8);
    const v = Number(this.buf.readBigUInt64BE(this.p));
    this.p += 8;
    return v;
  }
  i64(): number {
    this.need(8);
    const v = Number(this.buf.readBigInt64BE(this.p));
    this.p += 8;
    return v;
  }
  skip(n: number): void {
    this.need(n);
    this.p += n;
  }
  /** entry_count, checked so that count * entrySize bytes are present. */
  count(entrySize: number): number {
    const n = this.u32();
    if (n * entrySize > this.end - this.p) throw corrupt(`'${this.h.type}' entry count ${n} exceeds the box`, { count: n });
    return n;
  }
}

export interface MvhdInfo {
  timescale: number;
  duration: number;
}

export function parseMvhd(buf: Buffer, h: BoxHeader): MvhdInfo {
  const v = new FullBoxView(buf, h);
  if (v.version === 1) v.skip(16);
  else v.skip(8);
  const timescale = v.u32();
  const duration = v.version === 1 ? v.u64() : v.u32();
  return { timescale, duration };
}

export interface TkhdInfo {
  trackId: number;
  duration: number;
  width: number;
  height: number;
}

export function parseTkhd(buf: Buffer, h: BoxHeader): TkhdInfo {
  const v = new FullBoxView(buf, h);
  v.skip(v.version === 1 ? 16 : 8);
  const trackId = v.u32();
  v.skip(4);
  const duration = v.version === 1 ? v.u64() : v.u32();
  v.skip(8 + 8 + 36);
  const width = v.u32() / 65536;
  const height = v.u32() / 65536;
  return { trackId, duration, width, height };
}

export interface MdhdInfo {
  timescale: number;
  duration: number;
  language: string;
}

export function parseMdhd(buf: Buffer, h: BoxHeader): MdhdInfo {
  const v = new FullBoxView(buf, h);
  v.skip(v.version === 1 ? 16 : 8);
  const timescale = v.u32();
  const duration = v.version === 1 ? v.u64() : v.u32();
  const lang = v.u16();
  const language = String.fromCharCode(((lang >> 10) & 31) + 0x60, ((lang >> 5) & 31) + 0x60, (lang & 31) + 0x60);
  return { timescale, duration, language };
}

export function parseHdlr(buf: Buffer, h: BoxHeader): { handlerType: string; name: string } {
  const v = new FullBoxView(buf, h);
  v.skip(4);
  v.need(4);
  const handlerType = buf.toString('latin1', v.p, v.p + 4);
  v.skip(4 + 12);
  const nameEnd = buf.indexOf(0, v.p);
  const name = buf.toString('utf8', v.p, nameEnd >= 0 && nameEnd < v.end ? nameEnd : v.end);
  return { handlerType, name };
}

export interface EsdsInfo {
  esId: number;
  objectType: number;
  streamType: number;
  bufferSize: number;
  maxBitrate: number;
  avgBitrate: number;
  decoderSpecificInfo?: Buffer;
}

/** Reads an ISO/IEC 14496-1 descriptor header: tag and expandable size. */
function descriptorAt(buf: Buffer, pos: number, end: number): { tag: number; body: number; end: number } {
  if (pos + 2 > end) throw corrupt('esds descriptor header');
  const tag = buf[pos]!;
  let size = 0;
  let p = pos + 1;
  for (let i = 0; i < 4; i++) {
    if (p >= end) throw corrupt('esds descriptor size');
    const b = buf[p++]!;
    size = size * 128 + (b & 0x7f);
    if (!(b & 0x80)) break;
  }
  if (p + size > end) throw corrupt('esds descriptor past the box', { tag, size });
  return { tag, body: p, end: p + size };
}

export function parseEsds(buf: Buffer, h: BoxHeader): EsdsInfo {
  const v = new FullBoxView(buf, h);
  const es = descriptorAt(buf, v.p, v.end);
  if (es.tag !== 0x03 || es.body + 3 > es.end) throw corrupt('esds without ES_Descriptor');
  const esId = buf.readUInt16BE(es.body);
  const flags = buf[es.body + 2]!;
  let p = es.body + 3;
  if (flags & 0x80) p += 2;
  if (flags & 0x40) {
    if (p >= es.end) throw corrupt('esds URL');
    p += 1 + buf[p]!;
  }
  if (flags & 0x20) p += 2;
  while (p < es.end) {
    const d = descriptorAt(buf, p, es.end);
    if (d.tag === 0x04) {
      if (d.body + 13 > d.end) throw corrupt('DecoderConfigDescriptor too short');
      const info: EsdsInfo = {
        esId,
        objectType: buf[d.body]!,
        streamType: buf[d.body + 1]! >> 2,
        bufferSize: buf.readUIntBE(d.body + 2, 3),
        maxBitrate: buf.readUInt32BE(d.body + 5),
        avgBitrate: buf.readUInt32BE(d.body + 9),
      };
      let q = d.body + 13;
      while (q < d.end) {
        const s = descriptorAt(buf, q, d.end);
        if (s.tag === 0x05) info.decoderSpecificInfo = Buffer.from(buf.subarray(s.body, s.end));
        q = s.end;
      }
      return info;
    }
    p = d.end;
  }
  throw corrupt('esds without DecoderConfigDescriptor');
}

export interface SampleEntry {
  /** Four-character code: avc1, avc3, mp4a, .mp3, ... */
  type: string;
  dataReferenceIndex: number;
  video?: { width: number; height: number; avcC?: Buffer };
  audio?: { channels: number; sampleSize: number; sampleRate: number; esds?: EsdsInfo };
}

const VISUAL_TYPES = new Set(['avc1', 'avc3', 'hvc1', 'hev1', 'mp4v', 'vp09', 'av01', 'encv', 's263']);
const AUDIO_TYPES = new Set(['mp4a', '.mp3', 'ac-3', 'ec-3', 'Opus', 'fLaC', 'alac', 'samr', 'enca', 'twos', 'sowt', 'lpcm']);

export function parseSampleEntry(buf: Buffer, h: BoxHeader): SampleEntry {
  const start = h.start + h.headerSize;
  if (start + 8 > h.end) throw corrupt(`sample entry '${h.type}' too short`);
  const entry: SampleEntry = { type: h.type, dataReferenceIndex: buf.readUInt16BE(start + 6) };
  if (VISUAL_TYPES.has(h.type)) {
    if (start + 78 > h.end) throw corrupt(`visual sample entry '${h.type}' too short`);
    entry.video = { width: buf.readUInt16BE(start + 24), height: buf.readUInt16BE(start + 26) };
    for (const c of childBoxes(buf, start + 78, h.end)) {
      if (c.type === 'avcC') entry.video.avcC = Buffer.from(buf.subarray(c.start + c.headerSize, c.end));
    }
  } else if (AUDIO_TYPES.has(h.type)) {
    if (start + 28 > h.end) throw corrupt(`audio sample entry '${h.type}' too short`);
    const soundVersion = buf.readUInt16BE(start + 8);
    let channels = buf.readUInt16BE(start + 16);
    const sampleSize = buf.readUInt16BE(start + 18);
    let sampleRate = buf.readUInt32BE(start + 24) / 65536;
    let childStart = start + 28;
    if (soundVersion === 1) childStart += 16;
    else if (soundVersion === 2) {
      childStart += 36;
      if (childStart > h.end) throw corrupt('sound description v2 too short');
      sampleRate = buf.readDoubleBE(start + 32);
      channels = buf.readUInt32BE(start + 40);
    }
    entry.audio = { channels, sampleSize, sampleRate };
    if (childStart <= h.end) {
      for (const c of childBoxes(buf, childStart, h.end)) {
        if (c.type === 'esds') entry.audio.esds = parseEsds(buf, c);
        else if (c.type === 'wave') {
          // QuickTime wraps esds in a 'wave' atom.
          for (const w of childBoxes(buf, c.start + c.headerSize, c.end)) if (w.type === 'esds') entry.audio.esds = parseEsds(buf, w);
        }
      }
    }
  }
  return entry;
}

export function parseStsd(buf: Buffer, h: BoxHeader): SampleEntry[] {
  const v = new FullBoxView(buf, h);
  const n = v.count(8);
  const out: SampleEntry[] = [];
  let p = v.p;
  for (let i = 0; i < n; i++) {
    const e = boxHeaderAt(buf, p, v.end);
    out.push(parseSampleEntry(buf, e));
    p = e.end;
  }
  return out;
}

/** stts: parallel arrays of sample counts and deltas. */
export function parseStts(buf: Buffer, h: BoxHeader): { counts: Uint32Array; deltas: Uint32Array } {
  const v = new FullBoxView(buf, h);
  const n = v.count(8);
  const counts = new Uint32Array(n);
  const deltas = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    counts[i] = v.u32();
    deltas[i] = v.u32();
  }
  return { counts, deltas };
}

/** ctts; version 0 offsets are read as signed too, as muxers wrote negative ones there before version 1 existed. */
export function parseCtts(buf: Buffer, h: BoxHeader): { counts: Uint32Array; offsets: Int32Array } {
  const v = new FullBoxView(buf, h);
  const n = v.count(8);
  const counts = new Uint32Array(n);
  const offsets = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    counts[i] = v.u32();
    offsets[i] = v.i32();
  }
  return { counts, offsets };
}

export function parseStss(buf: Buffer, h: BoxHeader): Uint32Array {
  const v = new FullBoxView(buf, h);
  const n = v.count(4);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = v.u32();
  return out;
}

export function parseStsc(buf: Buffer, h: BoxHeader): { firstChunk: Uint32Array; samplesPerChunk: Uint32Array; descriptionIndex: Uint32Array } {
  const v = new FullBoxView(buf, h);
  const n = v.count(12);
  const firstChunk = new Uint32Array(n);
  const samplesPerChunk = new Uint32Array(n);
  const descriptionIndex = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    firstChunk[i] = v.u32();
    samplesPerChunk[i] = v.u32();
    descriptionIndex[i] = v.u32();
  }
  return { firstChunk, samplesPerChunk, descriptionIndex };
}

/** stsz or stz2. With a constant size, `sizes` is absent and `count` is only as trustworthy as the caller checks. */
export function parseStsz(buf: Buffer, h: BoxHeader): { sampleSize: number; count: number; sizes?: Uint32Array } {
  const v = new FullBoxView(buf, h);
  if (h.type === 'stz2') {
    v.skip(3);
    const field = v.u8();
    if (field !== 4 && field !== 8 && field !== 16) throw corrupt('stz2 field size', { field });
    const n = v.count(field / 8);
    const sizes = new Uint32Array(n);
    if (field === 4) {
      for (let i = 0; i < n; i += 2) {
        const b = v.u8();
        sizes[i] = b >> 4;
        if (i + 1 < n) sizes[i + 1] = b & 15;
      }
    } else for (let i = 0; i < n; i++) sizes[i] = field === 8 ? v.u8() : v.u16();
    return { sampleSize: 0, count: n, sizes };
  }
  const sampleSize = v.u32();
  if (sampleSize !== 0) return { sampleSize, count: v.u32() };
  const n = v.count(4);
  const sizes = new Uint32Array(n);
  for (let i = 0; i < n; i++) sizes[i] = v.u32();
  return { sampleSize: 0, count: n, sizes };
}

export function parseChunkOffsets(buf: Buffer, h: BoxHeader): Float64Array {
  const v = new FullBoxView(buf, h);
  const large = h.type === 'co64';
  const n = v.count(large ? 8 : 4);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = large ? v.u64() : v.u32();
  return out;
}

export interface EditEntry {
  /** Movie timescale. */
  segmentDuration: number;
  /** Media timescale; -1 for an empty edit. */
  mediaTime: number;
  rate: number;
}

export function parseElst(buf: Buffer, h: BoxHeader): EditEntry[] {
  const v = new FullBoxView(buf, h);
  const n = v.count(v.version === 1 ? 20 : 12);
  const out: EditEntry[] = [];
  for (let i = 0; i < n; i++) {
    const segmentDuration = v.version === 1 ? v.u64() : v.u32();
    const mediaTime = v.version === 1 ? v.i64() : v.i32();
    const rate = v.i32() / 65536;
    out.push({ segmentDuration, mediaTime, rate });
  }
  return out;
}

export interface InspectedBox {
  type: string;
  offset: number;
  size: number;
  fields?: unknown;
  children?: InspectedBox[];
}

const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl', 'dinf', 'edts', 'mvex', 'moof', 'traf', 'udta', 'mfra']);
const PARSERS: Record<string, (buf: Buffer, h: BoxHeader) => unknown> = {
  mvhd: parseMvhd,
  tkhd: parseTkhd,
  mdhd: parseMdhd,
  hdlr: parseHdlr,
  stsd: parseStsd,
  stts: parseStts,
  ctts: parseCtts,
  stss: parseStss,
  stsc: parseStsc,
  stsz: parseStsz,
  stz2: parseStsz,
  stco: parseChunkOffsets,
  co64: parseChunkOffsets,
  elst: parseElst,
  ftyp: (buf, h) => {
    const p = h.start + h.headerSize;
    if (p + 8 > h.end) throw corrupt('ftyp too short');
    const compatible: string[] = [];
    for (let q = p + 8; q + 4 <= h.end; q += 4) compatible.push(buf.toString('latin1', q, q + 4));
    return { majorBrand: buf.toString('latin1', p, p + 4), minorVersion: buf.readUInt32BE(p + 4), compatible };
  },
};

/** The box tree of an in-memory MP4 (or any slice of boxes), with the fields of the boxes we know. */
export function inspectMp4(buf: Buffer, start = 0, end = buf.length, base = 0): InspectedBox[] {
  const out: InspectedBox[] = [];
  for (const h of childBoxes(buf, start, end)) {
    const node: InspectedBox = { type: h.type, offset: base + h.start, size: h.end - h.start };
    if (CONTAINERS.has(h.type)) node.children = inspectMp4(buf, h.start + h.headerSize, h.end, base);
    else if (PARSERS[h.type]) node.fields = PARSERS[h.type]!(buf, h);
    out.push(node);
  }
  return out;
}
