/**
 * MP3 (MPEG-1/2/2.5 audio layer III, and layer II) file reader for `mp3:` playback.
 * Specs: ISO/IEC 11172-3 / 13818-3 frame headers (see mpeg-audio.ts); ID3v2.2/2.3/2.4 (id3.org "ID3 tag version
 * 2.3.0" sections 3-4 and "ID3v2.4.0 structure" sections 3-4, 6.1 unsynchronisation) skipped and its text frames
 * exposed for the `onId3` data message; ID3v1 (last 128 bytes "TAG") and APEv2 footers ignored; the Xing/Info
 * VBR header (frames, bytes, 100-entry TOC) and the Fraunhofer VBRI header.
 *
 * Duration: frames x samples-per-frame / sample rate from Xing/Info or VBRI when present (what ffprobe
 * reports); otherwise the CBR estimate (audio bytes x 8 / first frame's bitrate), as ffprobe does too, which
 * is exact for CBR files and an estimate for header-less VBR files.
 * Seeking: exact (frame-accurate) inside the part already read or within 4 MiB of scanning ahead; beyond that
 * the Xing TOC (or the byte proportion) gives a position, re-synchronised on the next two valid frames, and
 * timestamps continue from the requested time.
 */
import { MediaError } from '../errors';
import { guarded, type MediaInfo, type MediaReader } from './media-types';
import { flvMp3SoundHeader, parseMpegAudioHeader, xingOffset, type MpegAudioHeader } from './mpeg-audio';
import { SourceReader, type RandomAccessSource } from './source';
import { AudioCodec, TAG_AUDIO, type MediaTag } from './tag-info';

/** ID3 text we parse at most; bigger tags (cover art) are skipped unread past this. */
const MAX_ID3_PARSE = 1024 * 1024;
/** How far from the expected place we look for a frame sync before giving up. */
const MAX_RESYNC = 256 * 1024;
/** Scanning ahead frame by frame is preferred to estimating as long as it reads at most this many bytes. */
const EXACT_SEEK_SCAN = 4 * 1024 * 1024;
/** One exact index point per this many frames (~1 s). */
const INDEX_EVERY = 32;

export type Id3Tags = Record<string, string>;

const V22_NAMES: Record<string, string> = {
  TT2: 'TIT2', TP1: 'TPE1', TP2: 'TPE2', TAL: 'TALB', TYE: 'TYER', TRK: 'TRCK', TCO: 'TCON', COM: 'COMM', TCM: 'TCOM', TEN: 'TENC', TT3: 'TIT3', TPA: 'TPOS', TBP: 'TBPM', TCR: 'TCOP', TXX: 'TXXX',
};
/** Names Flash's Sound.id3 used next to the frame ids. */
const FRIENDLY: Record<string, string> = { TIT2: 'songName', TPE1: 'artist', TALB: 'album', TYER: 'year', TDRC: 'year', COMM: 'comment', TCON: 'genre', TRCK: 'track' };

function syncsafe(b: Buffer, o: number): number {
  return ((b[o]! & 0x7f) << 21) | ((b[o + 1]! & 0x7f) << 14) | ((b[o + 2]! & 0x7f) << 7) | (b[o + 3]! & 0x7f);
}

function removeUnsync(b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(b.length);
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    out[n++] = b[i]!;
    if (b[i] === 0xff && b[i + 1] === 0x00) i++;
  }
  return out.subarray(0, n);
}

/** Total bytes of an ID3v2 tag starting at b[0] (header + body + footer), or 0 when there is none. */
export function id3v2Size(b: Buffer): number {
  if (b.length < 10 || b.toString('latin1', 0, 3) !== 'ID3' || b[3]! > 4 || b[3]! < 2) return 0;
  if ((b[6]! | b[7]! | b[8]! | b[9]!) & 0x80) return 0;
  return 10 + syncsafe(b, 6) + (b[5]! & 0x10 ? 10 : 0);
}

function decodeText(enc: number, b: Buffer): string {
  let s: string;
  if (enc === 1) {
    if (b.length >= 2 && b[0] === 0xfe && b[1] === 0xff) s = swap16(b.subarray(2)).toString('utf16le');
    else s = b.subarray(b.length >= 2 && b[0] === 0xff && b[1] === 0xfe ? 2 : 0).toString('utf16le');
  } else if (enc === 2) s = swap16(b).toString('utf16le');
  else if (enc === 3) s = b.toString('utf8');
  else s = b.toString('latin1');
  return s.replace(/\0+$/, '').replace(/\0/g, '/');
}

function swap16(b: Buffer): Buffer {
  const c = Buffer.from(b.subarray(0, b.length & ~1));
  return c.swap16();
}

/** Splits at the first string terminator of the encoding (1 zero byte, or an aligned zero pair for UTF-16). */
function splitTerminated(enc: number, b: Buffer): [Buffer, Buffer] {
  if (enc === 1 || enc === 2) {
    for (let i = 0; i + 1 < b.length; i += 2) if (b[i] === 0 && b[i + 1] === 0) return [b.subarray(0, i), b.subarray(i + 2)];
    return [b, Buffer.alloc(0)];
  }
  const i = b.indexOf(0);
  return i < 0 ? [b, Buffer.alloc(0)] : [b.subarray(0, i), b.subarray(i + 1)];
}

/** Text frames of an ID3v2 tag (whole tag bytes, header first), by frame id plus Flash's friendly names. */
export function parseId3v2(tag: Buffer): Id3Tags {
  const out: Id3Tags = {};
  if (tag.length < 10 || tag.toString('latin1', 0, 3) !== 'ID3') return out;
  const major = tag[3]!;
  const flags = tag[5]!;
  let body = tag.subarray(10, Math.min(tag.length, 10 + syncsafe(tag, 6)));
  if (flags & 0x80 && major < 4) body = removeUnsync(body);
  let p = 0;
  if (flags & 0x40 && major >= 3 && body.length >= 4) p = major === 3 ? 4 + body.readUInt32BE(0) : syncsafe(body, 0);
  const idLen = major === 2 ? 3 : 4;
  const headLen = major === 2 ? 6 : 10;
  while (p + headLen <= body.length) {
    const idRaw = body.toString('latin1', p, p + idLen);
    if (!/^[A-Z0-9]+$/.test(idRaw)) break; // padding or garbage ends the frames
    let size = major === 2 ? body.readUIntBE(p + 3, 3) : major === 4 ? syncsafe(body, p + 4) : body.readUInt32BE(p + 4);
    const fflags = major === 2 ? 0 : body.readUInt16BE(p + 8);
    const start = p + headLen;
    if (start + size > body.length) size = body.length - start;
    let data = body.subarray(start, start + size);
    p = start + size;
    const id = major === 2 ? (V22_NAMES[idRaw] ?? idRaw) : idRaw;
    if (major === 4) {
      if (fflags & 0x0001) data = data.subarray(4); // data length indicator
      if (fflags & 0x0002 || flags & 0x80) data = removeUnsync(data);
      if (fflags & 0x000c) continue; // compressed or encrypted: not text we can read
    } else if (major === 3 && fflags & 0x00c0) continue;
    if (data.length < 1) continue;
    const enc = data[0]!;
    let value: string | undefined;
    let name = id;
    if (id === 'TXXX') {
      const [desc, rest] = splitTerminated(enc, data.subarray(1));
      name = `TXXX:${decodeText(enc, desc)}`;
      value = decodeText(enc, rest);
    } else if (id[0] === 'T') value = decodeText(enc, data.subarray(1));
    else if (id === 'COMM' || id === 'USLT') {
      if (data.length < 4) continue;
      const [, text] = splitTerminated(enc, data.subarray(4));
      value = decodeText(enc, text);
    } else if (id === 'WXXX' || id[0] === 'W') value = id === 'WXXX' ? decodeText(0, splitTerminated(enc, data.subarray(1))[1]) : data.toString('latin1').replace(/\0+$/, '');
    if (value === undefined) continue;
    if (!(name in out)) out[name] = value;
    const friendly = id === 'TXXX' && name.toLowerCase() === 'txxx:comment' ? 'comment' : FRIENDLY[id]; // ffmpeg writes comments as TXXX
    if (friendly && !(friendly in out)) out[friendly] = value;
  }
  return out;
}

export interface XingInfo {
  kind: 'Xing' | 'Info' | 'VBRI';
  frames?: number;
  bytes?: number;
  /** 100 entries, 0..255 (Xing) or byte offsets per entry (VBRI converted to the same 0..255 scale). */
  toc?: number[];
}

/** Reads a Xing/Info or VBRI header inside the first frame. */
export function parseVbrHeader(frame: Buffer, h: MpegAudioHeader): XingInfo | undefined {
  if (h.layer === 3) {
    const x = xingOffset(h);
    const tagName = frame.toString('latin1', x, x + 4);
    if ((tagName === 'Xing' || tagName === 'Info') && x + 8 <= frame.length) {
      const flags = frame.readUInt32BE(x + 4);
      let p = x + 8;
      const out: XingInfo = { kind: tagName };
      if (flags & 1 && p + 4 <= frame.length) {
        out.frames = frame.readUInt32BE(p);
        p += 4;
      }
      if (flags & 2 && p + 4 <= frame.length) {
        out.bytes = frame.readUInt32BE(p);
        p += 4;
      }
      if (flags & 4 && p + 100 <= frame.length) out.toc = [...frame.subarray(p, p + 100)];
      return out;
    }
  }
  if (frame.toString('latin1', 36, 40) === 'VBRI' && frame.length >= 62) {
    return { kind: 'VBRI', bytes: frame.readUInt32BE(36 + 10), frames: frame.readUInt32BE(36 + 14) };
  }
  return undefined;
}

export interface Mp3ReaderOptions {
  blockSize?: number;
}

function compatible(a: MpegAudioHeader, b: MpegAudioHeader): boolean {
  return a.version === b.version && a.layer === b.layer && a.sampleRate === b.sampleRate;
}

export class Mp3Reader implements MediaReader {
  readonly info: MediaInfo;
  readonly id3: Id3Tags;
  readonly vbr: XingInfo | undefined;
  private readonly r: SourceReader;
  private readonly first: MpegAudioHeader;
  /** Position of the first audio frame (after the Xing/Info frame, if any). */
  private readonly audioStart: number;
  private readonly audioEnd: number;
  private readonly soundHeader: number;
  private pos: number;
  private frame = 0;
  /** Timestamp offset (ms) after an estimated seek. */
  private baseMs = 0;
  private baseFrame = 0;
  private exact = true;
  /** Exact (frame index, position) points, contiguous from the start up to `frontierFrame`. */
  private readonly index: { frame: number; position: number }[] = [];
  private frontierFrame = 0;
  private frontierPos: number;

  private constructor(r: SourceReader, init: { first: MpegAudioHeader; audioStart: number; audioEnd: number; id3: Id3Tags; vbr?: XingInfo; duration: number }) {
    this.r = r;
    this.first = init.first;
    this.audioStart = init.audioStart;
    this.audioEnd = init.audioEnd;
    this.id3 = init.id3;
    this.vbr = init.vbr;
    this.pos = init.audioStart;
    this.frontierPos = init.audioStart;
    this.index.push({ frame: 0, position: init.audioStart });
    this.soundHeader = flvMp3SoundHeader(init.first.sampleRate, init.first.channels);
    const codec = init.first.sampleRate === 8000 ? AudioCodec.MP3_8k : AudioCodec.MP3;
    this.info = {
      format: 'mp3',
      duration: init.duration,
      fileSize: r.size,
      audioCodecId: codec,
      audioCodec: '.mp3',
      audioSampleRate: init.first.sampleRate,
      audioChannels: init.first.channels,
      audioSampleSize: 16,
      onMetaData: {
        duration: init.duration,
        audiocodecid: codec,
        audiosamplerate: init.first.sampleRate,
        audiochannels: init.first.channels,
        audiodatarate: init.first.bitrate,
      },
      id3: init.id3,
    };
  }

  static async open(source: RandomAccessSource, opts: Mp3ReaderOptions = {}): Promise<Mp3Reader> {
    return guarded(() => Mp3Reader.openImpl(source, opts));
  }

  private static async openImpl(source: RandomAccessSource, opts: Mp3ReaderOptions): Promise<Mp3Reader> {
    const r = new SourceReader(source, opts.blockSize);
    const size = r.size;
    let start = 0;
    let id3: Id3Tags = {};
    // Some files carry several ID3v2 tags back to back.
    for (let guard = 0; guard < 8; guard++) {
      const head = await r.read(start, 10);
      const tagSize = id3v2Size(head);
      if (tagSize === 0) break;
      if (guard === 0 || Object.keys(id3).length === 0) {
        const bytes = await r.read(start, Math.min(tagSize, MAX_ID3_PARSE));
        id3 = { ...parseId3v2(bytes), ...id3 };
      }
      start += tagSize;
    }
    let end = size;
    if (size - start >= 128 && (await r.read(size - 128, 3)).toString('latin1') === 'TAG') end -= 128;
    if (end - start >= 32) {
      const ape = await r.read(end - 32, 32);
      if (ape.length === 32 && ape.toString('latin1', 0, 8) === 'APETAGEX') {
        const apeSize = ape.readUInt32LE(12) + (ape.readUInt32LE(20) & 0x80000000 ? 32 : 0);
        if (apeSize <= end - start) end -= apeSize;
      }
    }
    const found = await findFrame(r, start, Math.min(end, start + MAX_RESYNC), end, undefined);
    if (!found) throw new MediaError('ERR_MEDIA_CORRUPT', 'no MPEG audio frame found');
    const first = found.header;
    let audioStart = found.position;
    const firstFrame = await r.read(found.position, first.frameSize);
    const vbr = parseVbrHeader(firstFrame, first);
    if (vbr) audioStart += first.frameSize; // the info frame is silent and not counted in its own frame total
    let duration: number;
    if (vbr?.frames) duration = (vbr.frames * first.samplesPerFrame) / first.sampleRate;
    else duration = ((end - audioStart) * 8) / (first.bitrate * 1000);
    return new Mp3Reader(r, { first, audioStart, audioEnd: end, id3, vbr, duration });
  }

  private msOf(frame: number): number {
    return Math.round(this.baseMs + ((frame - this.baseFrame) * this.first.samplesPerFrame * 1000) / this.first.sampleRate);
  }

  /** Header at `pos`, re-synchronising forward if the bytes there are not a compatible frame. */
  private async frameAt(pos: number): Promise<{ position: number; header: MpegAudioHeader } | undefined> {
    const b = await this.r.read(pos, 4);
    const h = parseMpegAudioHeader(b);
    if (h && compatible(h, this.first) && pos + h.frameSize <= this.audioEnd) return { position: pos, header: h };
    if (pos + 4 > this.audioEnd) return undefined;
    return findFrame(this.r, pos + 1, Math.min(this.audioEnd, pos + MAX_RESYNC), this.audioEnd, this.first);
  }

  private noteFrontier(frame: number, position: number, nextPos: number): void {
    if (!this.exact || frame !== this.frontierFrame || position < this.frontierPos) return;
    if (frame % INDEX_EVERY === 0 && frame > 0) this.index.push({ frame, position });
    this.frontierFrame = frame + 1;
    this.frontierPos = nextPos;
  }

  async next(): Promise<MediaTag | null> {
    return guarded(() => this.nextImpl());
  }

  private async nextImpl(): Promise<MediaTag | null> {
    const f = await this.frameAt(this.pos);
    if (!f) {
      this.pos = this.audioEnd;
      return null;
    }
    if (f.position !== this.pos && this.exact && this.frame === this.frontierFrame) this.frontierPos = f.position;
    const data = await this.r.readExact(f.position, f.header.frameSize, 'MP3 frame');
    const payload = Buffer.allocUnsafe(1 + data.length);
    payload[0] = this.soundHeader;
    data.copy(payload, 1);
    const timestamp = this.msOf(this.frame);
    this.noteFrontier(this.frame, f.position, f.position + f.header.frameSize);
    this.frame++;
    this.pos = f.position + f.header.frameSize;
    return { type: TAG_AUDIO, timestamp, payload };
  }

  async seek(ms: number): Promise<number> {
    return guarded(() => this.seekImpl(ms));
  }

  private async seekImpl(ms: number): Promise<number> {
    const spfMs = (this.first.samplesPerFrame * 1000) / this.first.sampleRate;
    const target = Math.max(0, Math.floor(Math.max(0, ms) / spfMs + 1e-9));
    const avgFrame = this.first.frameSize || 1;
    if (target > this.frontierFrame && (target - this.frontierFrame) * avgFrame > EXACT_SEEK_SCAN) {
      // Estimated seek: far beyond what we have read.
      const durationMs = this.info.duration * 1000;
      const frac = durationMs > 0 ? Math.min(1, (target * spfMs) / durationMs) : 0;
      let pos: number;
      const toc = this.vbr?.toc;
      const bytes = this.vbr?.bytes ?? this.audioEnd - this.audioStart;
      if (toc && toc.length === 100) {
        const pct = frac * 100;
        const i = Math.min(99, Math.floor(pct));
        const a = toc[i]!;
        const b = i < 99 ? toc[i + 1]! : 256;
        pos = this.audioStart + ((a + (b - a) * (pct - i)) / 256) * bytes;
      } else pos = this.audioStart + frac * (this.audioEnd - this.audioStart);
      const f = await findFrame(this.r, Math.floor(pos), Math.min(this.audioEnd, Math.floor(pos) + MAX_RESYNC), this.audioEnd, this.first);
      this.exact = false;
      this.baseFrame = target;
      this.baseMs = Math.round(target * spfMs);
      this.frame = target;
      this.pos = f ? f.position : this.audioEnd;
      return this.baseMs;
    }
    // Exact: from the nearest index point, or by scanning on from the frontier.
    this.exact = true;
    this.baseFrame = 0;
    this.baseMs = 0;
    let frame: number;
    let pos: number;
    if (target >= this.frontierFrame) {
      frame = this.frontierFrame;
      pos = this.frontierPos;
    } else {
      let pt = this.index[0]!;
      for (const p of this.index) if (p.frame <= target) pt = p;
      frame = pt.frame;
      pos = pt.position;
    }
    while (frame < target) {
      const f = await this.frameAt(pos);
      if (!f) break;
      this.noteFrontier(frame, f.position, f.position + f.header.frameSize);
      pos = f.position + f.header.frameSize;
      frame++;
    }
    this.frame = frame;
    this.pos = pos;
    return this.msOf(frame);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<MediaTag> {
    for (let tag = await this.next(); tag; tag = await this.next()) yield tag;
  }
}

/**
 * First position in [from, limit) holding a frame header whose successor (if inside the data) is also a
 * compatible header, so random 0xFFE bit patterns in garbage are not taken for frames.
 */
async function findFrame(r: SourceReader, from: number, limit: number, end: number, like: MpegAudioHeader | undefined): Promise<{ position: number; header: MpegAudioHeader } | undefined> {
  const chunk = 8192;
  for (let base = from; base < limit; base += chunk) {
    const buf = await r.source.read(base, Math.min(chunk + 4, end - base));
    for (let i = 0; i + 4 <= buf.length && base + i < limit; i++) {
      if (buf[i] !== 0xff) continue;
      const h = parseMpegAudioHeader(buf, i);
      if (!h || (like && !compatible(h, like))) continue;
      const pos = base + i;
      if (pos + h.frameSize > end) continue;
      if (pos + h.frameSize + 4 > end) return { position: pos, header: h };
      const n = parseMpegAudioHeader(await r.read(pos + h.frameSize, 4));
      if (n && compatible(n, h)) return { position: pos, header: h };
    }
  }
  return undefined;
}

/** Duration in seconds (Xing/Info/VBRI frame count, else CBR estimate). */
export async function mp3Length(source: RandomAccessSource): Promise<number> {
  return (await Mp3Reader.open(source)).info.duration;
}
