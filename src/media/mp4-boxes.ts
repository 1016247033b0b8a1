/**
 * ISO base media file format box writers: ISO/IEC 14496-12:2015 section 4.2 (box/full box), 4.3 ftyp, 8.1.1 mdat,
 * 8.2.2 mvhd, 8.3.2 tkhd, 8.4.2 mdhd, 8.4.3 hdlr, 8.4.5 vmhd/smhd, 8.7.1-8.7.2 dinf/dref, 8.5.2 stsd, 8.6.1.2 stts,
 * 8.6.1.3 ctts, 8.6.2 stss, 8.7.3 stsz, 8.7.4 stsc, 8.7.5 stco/co64, 8.6.6 elst; ISO/IEC 14496-15 5.4.2 avc1/avcC;
 * ISO/IEC 14496-14 5.6 mp4a/esds with the ES_Descriptor of ISO/IEC 14496-1 7.2.6.5.
 * One small pure function per box; each returns the whole box. mp4-inspect.ts reads every one of them back.
 */

export const UINT32_MAX = 0xffffffff;

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}

function u64(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(v))));
  return b;
}

/** A box: 32-bit size, type, payload. */
export function box(type: string, ...payload: Buffer[]): Buffer {
  const size = 8 + payload.reduce((n, p) => n + p.length, 0);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(size);
  head.write(type, 4, 4, 'latin1');
  return Buffer.concat([head, ...payload], size);
}

/** A full box: box with version and 24-bit flags first. */
export function fullBox(type: string, version: number, flags: number, ...payload: Buffer[]): Buffer {
  return box(type, u32(((version & 0xff) << 24) | (flags & 0xffffff)), ...payload);
}

export function ftyp(major: string, minor: number, compatible: string[]): Buffer {
  return box('ftyp', Buffer.from(major, 'latin1'), u32(minor), ...compatible.map((c) => Buffer.from(c, 'latin1')));
}

/** 8-byte mdat header with size 0 ("to the end of the file") until patched. */
export function mdatHeader(size = 0): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(size);
  b.write('mdat', 4, 'latin1');
  return b;
}

/** 16-byte mdat header with a 64-bit largesize (ISO 14496-12 4.2: size == 1). */
export function mdatLargeHeader(largesize: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(1);
  b.write('mdat', 4, 'latin1');
  b.writeBigUInt64BE(BigInt(largesize), 8);
  return b;
}

const UNITY_MATRIX = [0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000];

function matrix(): Buffer {
  return Buffer.concat(UNITY_MATRIX.map(u32));
}

/** Version 1 is needed only when a duration does not fit 32 bits. */
function timesAndDuration(timescale: number | undefined, duration: number, trackId?: number): { version: number; bytes: Buffer } {
  const v1 = duration > UINT32_MAX;
  const parts: Buffer[] = [];
  const t = v1 ? u64 : u32;
  parts.push(t(0), t(0)); // creation/modification time: unknown is allowed and keeps outputs deterministic
  if (timescale !== undefined) parts.push(u32(timescale));
  if (trackId !== undefined) parts.push(u32(trackId), u32(0));
  parts.push(t(duration));
  return { version: v1 ? 1 : 0, bytes: Buffer.concat(parts) };
}

export function mvhd(timescale: number, duration: number, nextTrackId: number): Buffer {
  const td = timesAndDuration(timescale, duration);
  return fullBox(
    'mvhd',
    td.version,
    0,
    td.bytes,
    u32(0x00010000), // rate 1.0
    Buffer.from([0x01, 0x00, 0, 0]), // volume 1.0, reserved
    Buffer.alloc(8),
    matrix(),
    Buffer.alloc(24),
    u32(nextTrackId),
  );
}

export function tkhd(trackId: number, duration: number, isAudio: boolean, width: number, height: number): Buffer {
  const td = timesAndDuration(undefined, duration, trackId);
  return fullBox(
    'tkhd',
    td.version,
    3, // track_enabled | track_in_movie
    td.bytes,
    Buffer.alloc(8),
    Buffer.from([0, 0, 0, 0, isAudio ? 0x01 : 0, 0, 0, 0]), // layer, alternate_group, volume, reserved
    matrix(),
    u32(width * 65536),
    u32(height * 65536),
  );
}

export function mdhd(timescale: number, duration: number): Buffer {
  const td = timesAndDuration(timescale, duration);
  return fullBox('mdhd', td.version, 0, td.bytes, Buffer.from([0x55, 0xc4, 0, 0])); // language 'und'
}

export function hdlr(handler: 'vide' | 'soun', name: string): Buffer {
  return fullBox('hdlr', 0, 0, u32(0), Buffer.from(handler, 'latin1'), Buffer.alloc(12), Buffer.from(name + '\0', 'utf8'));
}

export function vmhd(): Buffer {
  return fullBox('vmhd', 0, 1, Buffer.alloc(8));
}

export function smhd(): Buffer {
  return fullBox('smhd', 0, 0, Buffer.alloc(4));
}

export function dinf(): Buffer {
  return box('dinf', fullBox('dref', 0, 0, u32(1), fullBox('url ', 0, 1))); // flag 1: media is in this file
}

export function avcC(record: Buffer): Buffer {
  return box('avcC', record);
}

export function avc1(width: number, height: number, record: Buffer): Buffer {
  const fixed = Buffer.alloc(78);
  fixed.writeUInt16BE(1, 6); // data_reference_index
  fixed.writeUInt16BE(width, 24);
  fixed.writeUInt16BE(height, 26);
  fixed.writeUInt32BE(0x00480000, 28); // 72 dpi
  fixed.writeUInt32BE(0x00480000, 32);
  fixed.writeUInt16BE(1, 40); // frame_count
  fixed.writeUInt16BE(0x18, 74); // depth
  fixed.writeInt16BE(-1, 76);
  return box('avc1', fixed, avcC(record));
}

/** An MPEG-4 descriptor: tag, expandable size (ISO/IEC 14496-1 8.3.3), body. */
function descriptor(tag: number, ...body: Buffer[]): Buffer {
  const len = body.reduce((n, b) => n + b.length, 0);
  const sizeBytes: number[] = [];
  let v = len;
  do {
    sizeBytes.unshift(v & 0x7f);
    v >>>= 7;
  } while (v > 0);
  for (let i = 0; i < sizeBytes.length - 1; i++) sizeBytes[i]! |= 0x80;
  return Buffer.concat([Buffer.from([tag, ...sizeBytes]), ...body]);
}

export interface EsdsParams {
  esId: number;
  /** objectTypeIndication: 0x40 MPEG-4 audio (AAC), 0x6B MPEG-1 audio, 0x69 MPEG-2 audio. */
  objectType: number;
  /** DecoderSpecificInfo (AudioSpecificConfig for AAC); absent for MP3. */
  decoderSpecificInfo?: Buffer;
  bufferSize?: number;
  maxBitrate?: number;
  avgBitrate?: number;
}

export function esds(p: EsdsParams): Buffer {
  const dcd = Buffer.alloc(13);
  dcd[0] = p.objectType;
  dcd[1] = (0x05 << 2) | 1; // streamType audio, reserved 1
  dcd.writeUIntBE(Math.min(p.bufferSize ?? 0, 0xffffff), 2, 3);
  dcd.writeUInt32BE(Math.min(p.maxBitrate ?? 0, UINT32_MAX), 5);
  dcd.writeUInt32BE(Math.min(p.avgBitrate ?? 0, UINT32_MAX), 9);
  const es = Buffer.alloc(3);
  es.writeUInt16BE(p.esId);
  return fullBox(
    'esds',
    0,
    0,
    descriptor(
      0x03,
      es,
      descriptor(0x04, dcd, ...(p.decoderSpecificInfo ? [descriptor(0x05, p.decoderSpecificInfo)] : [])),
      descriptor(0x06, Buffer.from([0x02])),
    ),
  );
}

export function mp4a(sampleRate: number, channels: number, esdsBox: Buffer): Buffer {
  const fixed = Buffer.alloc(28);
  fixed.writeUInt16BE(1, 6);
  fixed.writeUInt16BE(channels, 16);
  fixed.writeUInt16BE(16, 18);
  fixed.writeUInt32BE(sampleRate <= 0xffff ? sampleRate * 65536 : 0, 24);
  return box('mp4a', fixed, esdsBox);
}

export function stsd(...entries: Buffer[]): Buffer {
  return fullBox('stsd', 0, 0, u32(entries.length), ...entries);
}

/** Run-length pairs as 32-bit fields (stts, ctts v0). */
function pairs(list: readonly (readonly [number, number])[], signed: boolean): Buffer {
  const b = Buffer.alloc(4 + list.length * 8);
  b.writeUInt32BE(list.length);
  list.forEach(([a, c], i) => {
    b.writeUInt32BE(a, 4 + i * 8);
    if (signed) b.writeInt32BE(c, 8 + i * 8);
    else b.writeUInt32BE(c, 8 + i * 8);
  });
  return b;
}

/** [sample_count, sample_delta] runs. */
export function stts(runs: readonly (readonly [number, number])[]): Buffer {
  return fullBox('stts', 0, 0, pairs(runs, false));
}

/** [sample_count, sample_offset] runs; version 1 (signed offsets) only when some offset is negative. */
export function ctts(runs: readonly (readonly [number, number])[]): Buffer {
  const signed = runs.some(([, o]) => o < 0);
  return fullBox('ctts', signed ? 1 : 0, 0, pairs(runs, signed));
}

/** 1-based numbers of the sync samples. */
export function stss(samples: readonly number[]): Buffer {
  const b = Buffer.alloc(4 + samples.length * 4);
  b.writeUInt32BE(samples.length);
  samples.forEach((s, i) => b.writeUInt32BE(s, 4 + i * 4));
  return fullBox('stss', 0, 0, b);
}

/** [first_chunk (1-based), samples_per_chunk, sample_description_index] runs. */
export function stsc(runs: readonly (readonly [number, number, number])[]): Buffer {
  const b = Buffer.alloc(4 + runs.length * 12);
  b.writeUInt32BE(runs.length);
  runs.forEach(([f, n, d], i) => {
    b.writeUInt32BE(f, 4 + i * 12);
    b.writeUInt32BE(n, 8 + i * 12);
    b.writeUInt32BE(d, 12 + i * 12);
  });
  return fullBox('stsc', 0, 0, b);
}

export function stsz(sizes: ArrayLike<number>): Buffer {
  const b = Buffer.alloc(8 + sizes.length * 4);
  b.writeUInt32BE(0); // sample_size 0: a table follows
  b.writeUInt32BE(sizes.length, 4);
  for (let i = 0; i < sizes.length; i++) b.writeUInt32BE(sizes[i]!, 8 + i * 4);
  return fullBox('stsz', 0, 0, b);
}

/**
 * Edit list of [segment_duration (movie timescale), media_time (media timescale, -1 = empty edit)] with rate 1;
 * version 1 only when a value needs 64 bits.
 */
export function elst(edits: readonly (readonly [number, number])[]): Buffer {
  const v1 = edits.some(([d, t]) => d > UINT32_MAX || t > 0x7fffffff);
  const w = v1 ? 20 : 12;
  const b = Buffer.alloc(4 + edits.length * w);
  b.writeUInt32BE(edits.length);
  edits.forEach(([d, t], i) => {
    const p = 4 + i * w;
    if (v1) {
      b.writeBigUInt64BE(BigInt(d), p);
      b.writeBigInt64BE(BigInt(t), p + 8);
      b.writeUInt32BE(0x00010000, p + 16);
    } else {
      b.writeUInt32BE(d, p);
      b.writeInt32BE(t, p + 4);
      b.writeUInt32BE(0x00010000, p + 8);
    }
  });
  return fullBox('elst', v1 ? 1 : 0, 0, b);
}

/** stco, or co64 when an offset needs more than 32 bits. */
export function chunkOffsets(offsets: ArrayLike<number>): Buffer {
  let large = false;
  for (let i = 0; i < offsets.length; i++) if (offsets[i]! > UINT32_MAX) large = true;
  const w = large ? 8 : 4;
  const b = Buffer.alloc(4 + offsets.length * w);
  b.writeUInt32BE(offsets.length);
  for (let i = 0; i < offsets.length; i++) {
    if (large) b.writeBigUInt64BE(BigInt(offsets[i]!), 4 + i * 8);
    else b.writeUInt32BE(offsets[i]!, 4 + i * 4);
  }
  return fullBox(large ? 'co64' : 'stco', 0, 0, b);
}
