/**
 * Decoder configuration records the containers carry and the facts we need from them.
 * Specs: ISO/IEC 14496-15 5.3.3.1 (AVCDecoderConfigurationRecord), ITU-T H.264 7.3.2.1.1 (seq_parameter_set_data,
 * 7.4.2.1.1 frame cropping, Table 6-1 SubWidthC/SubHeightC), ISO/IEC 14496-3 1.6.2.1 (AudioSpecificConfig).
 */
import { MediaError } from '../errors';

export interface AvcConfig {
  profile: number;
  compatibility: number;
  level: number;
  /** Bytes of each NAL unit length prefix in samples (1, 2 or 4). */
  nalLengthSize: number;
  sps: Buffer[];
  pps: Buffer[];
}

function corrupt(what: string, details?: Record<string, unknown>): MediaError {
  return new MediaError('ERR_MEDIA_CORRUPT', `corrupt ${what}`, details);
}

export function parseAvcConfig(rec: Buffer): AvcConfig {
  if (rec.length < 7 || rec[0] !== 1) throw corrupt('AVCDecoderConfigurationRecord', { length: rec.length });
  const nalLengthSize = (rec[4]! & 3) + 1;
  if (nalLengthSize === 3) throw corrupt('AVCDecoderConfigurationRecord (NAL length size 3)');
  let p = 6;
  const readSet = (count: number): Buffer[] => {
    const out: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      if (p + 2 > rec.length) throw corrupt('AVCDecoderConfigurationRecord parameter set');
      const len = rec.readUInt16BE(p);
      p += 2;
      if (p + len > rec.length) throw corrupt('AVCDecoderConfigurationRecord parameter set');
      out.push(rec.subarray(p, p + len));
      p += len;
    }
    return out;
  };
  const sps = readSet(rec[5]! & 0x1f);
  if (p >= rec.length) throw corrupt('AVCDecoderConfigurationRecord (no PPS count)');
  const pps = readSet(rec[p++]!);
  return { profile: rec[1]!, compatibility: rec[2]!, level: rec[3]!, nalLengthSize, sps, pps };
}

/** Removes emulation prevention bytes (00 00 03 -> 00 00). */
function unescapeRbsp(nal: Buffer): Buffer {
  const out = Buffer.allocUnsafe(nal.length);
  let n = 0;
  let zeros = 0;
  for (let i = 0; i < nal.length; i++) {
    const b = nal[i]!;
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    zeros = b === 0 ? zeros + 1 : 0;
    out[n++] = b;
  }
  return out.subarray(0, n);
}

/** Exp-Golomb bit reader over an RBSP; every overrun is a coded error. */
class BitReader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  bit(): number {
    if (this.pos >= this.buf.length * 8) throw corrupt('H.264 SPS (too short)');
    const v = (this.buf[this.pos >> 3]! >> (7 - (this.pos & 7))) & 1;
    this.pos++;
    return v;
  }
  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + this.bit();
    return v;
  }
  ue(): number {
    let zeros = 0;
    while (this.bit() === 0) {
      if (++zeros > 31) throw corrupt('H.264 SPS (Exp-Golomb code too long)');
    }
    return 2 ** zeros - 1 + this.bits(zeros);
  }
  se(): number {
    const k = this.ue();
    return k & 1 ? (k + 1) / 2 : -(k / 2);
  }
}

export interface SpsInfo {
  profile: number;
  level: number;
  width: number;
  height: number;
}

const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

export function parseSps(nal: Buffer): SpsInfo {
  const r = new BitReader(unescapeRbsp(nal.subarray(1)));
  const profile = r.bits(8);
  r.bits(8);
  const level = r.bits(8);
  r.ue();
  let chromaFormat = 1;
  let separateColourPlanes = 0;
  if (HIGH_PROFILES.has(profile)) {
    chromaFormat = r.ue();
    if (chromaFormat > 3) throw corrupt('H.264 SPS (chroma_format_idc)');
    if (chromaFormat === 3) separateColourPlanes = r.bit();
    r.ue();
    r.ue();
    r.bit();
    if (r.bit()) {
      for (let i = 0; i < (chromaFormat !== 3 ? 8 : 12); i++) {
        if (!r.bit()) continue;
        const size = i < 6 ? 16 : 64;
        let last = 8;
        let next = 8;
        for (let j = 0; j < size && next !== 0; j++) {
          next = (last + r.se() + 256) % 256;
          if (next !== 0) last = next;
        }
      }
    }
  }
  r.ue();
  const pocType = r.ue();
  if (pocType === 0) r.ue();
  else if (pocType === 1) {
    r.bit();
    r.se();
    r.se();
    const cycle = r.ue();
    if (cycle > 255) throw corrupt('H.264 SPS (num_ref_frames_in_pic_order_cnt_cycle)');
    for (let i = 0; i < cycle; i++) r.se();
  } else if (pocType !== 2) throw corrupt('H.264 SPS (pic_order_cnt_type)');
  r.ue();
  r.bit();
  const widthMbs = r.ue() + 1;
  const heightUnits = r.ue() + 1;
  const frameMbsOnly = r.bit();
  if (!frameMbsOnly) r.bit();
  r.bit();
  let cl = 0;
  let cr = 0;
  let ct = 0;
  let cb = 0;
  if (r.bit()) {
    cl = r.ue();
    cr = r.ue();
    ct = r.ue();
    cb = r.ue();
  }
  const chroma = separateColourPlanes ? 0 : chromaFormat;
  const subW = chroma === 1 || chroma === 2 ? 2 : 1;
  const subH = chroma === 1 ? 2 : 1;
  const cropX = chroma === 0 ? 1 : subW;
  const cropY = (chroma === 0 ? 1 : subH) * (2 - frameMbsOnly);
  const width = widthMbs * 16 - (cl + cr) * cropX;
  const height = (2 - frameMbsOnly) * heightUnits * 16 - (ct + cb) * cropY;
  if (width <= 0 || height <= 0 || width > 16384 || height > 16384) throw corrupt('H.264 SPS (picture size)', { width, height });
  return { profile, level, width, height };
}

/** Width/height/profile/level from an avcC record, or undefined when it has no usable SPS. */
export function avcConfigInfo(rec: Buffer): (SpsInfo & { config: AvcConfig }) | undefined {
  const config = parseAvcConfig(rec);
  const sps = config.sps[0];
  if (!sps || sps.length < 4) return undefined;
  return { ...parseSps(sps), config };
}

export const AAC_SAMPLE_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

export interface AacConfig {
  /** Audio object type (2 = AAC LC, 5 = SBR, 29 = PS). */
  objectType: number;
  sampleRate: number;
  /** channelConfiguration; 0 means "in the program config element" (reported as 2). */
  channels: number;
  /** Samples per frame: 1024, or 960 with frameLengthFlag. */
  frameLength: number;
}

export function parseAacConfig(asc: Buffer): AacConfig {
  if (asc.length < 2) throw corrupt('AudioSpecificConfig', { length: asc.length });
  let bit = 0;
  const read = (n: number): number => {
    let v = 0;
    for (let i = 0; i < n; i++) {
      if (bit >= asc.length * 8) throw corrupt('AudioSpecificConfig (too short)');
      v = v * 2 + ((asc[bit >> 3]! >> (7 - (bit & 7))) & 1);
      bit++;
    }
    return v;
  };
  let objectType = read(5);
  if (objectType === 31) objectType = 32 + read(6);
  const index = read(4);
  const sampleRate = index === 15 ? read(24) : AAC_SAMPLE_RATES[index];
  if (!sampleRate) throw corrupt('AudioSpecificConfig (sampling frequency index)', { index });
  const channels = read(4);
  let frameLength = 1024;
  // GASpecificConfig follows for the general audio types; its first bit is frameLengthFlag.
  if ([1, 2, 3, 4, 6, 7].includes(objectType) && bit < asc.length * 8) frameLength = read(1) ? 960 : 1024;
  return { objectType, sampleRate, channels: channels === 0 ? 2 : channels, frameLength };
}
