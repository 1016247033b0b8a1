/**
 * MPEG-1/2/2.5 audio frame headers (ISO/IEC 11172-3 2.4.1.3, ISO/IEC 13818-3 2.4.2.3; MPEG 2.5 is the
 * Fraunhofer extension) and the FLV sound header for MP3 (Adobe Video File Format Spec v10.1 E.4.2.1).
 */
import { AudioCodec } from './tag-info';

export interface MpegAudioHeader {
  /** 1, 2 or 2.5. */
  version: 1 | 2 | 2.5;
  layer: 1 | 2 | 3;
  /** kbit/s. */
  bitrate: number;
  sampleRate: number;
  padding: boolean;
  channels: 1 | 2;
  /** Whole frame in bytes, header included. */
  frameSize: number;
  samplesPerFrame: number;
  /** The 2 CRC bytes after the header are present. */
  protected: boolean;
}

const BITRATES: Record<string, number[]> = {
  '1-1': [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  '1-2': [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  '1-3': [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  '2-1': [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  '2-2': [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const SAMPLE_RATES = { 1: [44100, 48000, 32000], 2: [22050, 24000, 16000], 2.5: [11025, 12000, 8000] } as const;

/**
 * Parses the 4-byte header at `offset`, or returns undefined when the bytes are not a usable frame header
 * (no sync, reserved version/layer/sample rate, free-format or invalid bitrate).
 */
export function parseMpegAudioHeader(buf: Uint8Array, offset = 0): MpegAudioHeader | undefined {
  if (offset + 4 > buf.length) return undefined;
  const b1 = buf[offset + 1]!;
  const b2 = buf[offset + 2]!;
  if (buf[offset] !== 0xff || (b1 & 0xe0) !== 0xe0) return undefined;
  const v = (b1 >> 3) & 3;
  const l = (b1 >> 1) & 3;
  if (v === 1 || l === 0) return undefined;
  const version = v === 3 ? 1 : v === 2 ? 2 : 2.5;
  const layer = (4 - l) as 1 | 2 | 3;
  const bitrateIndex = b2 >> 4;
  const rateIndex = (b2 >> 2) & 3;
  if (bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return undefined;
  const table = version === 1 ? BITRATES[`1-${layer}`]! : BITRATES[layer === 1 ? '2-1' : '2-2']!;
  const bitrate = table[bitrateIndex]!;
  const sampleRate = SAMPLE_RATES[version][rateIndex]!;
  const padding = ((b2 >> 1) & 1) === 1;
  const channels = (buf[offset + 3]! >> 6) === 3 ? 1 : 2;
  let frameSize: number;
  let samplesPerFrame: number;
  if (layer === 1) {
    frameSize = (Math.floor((12 * bitrate * 1000) / sampleRate) + (padding ? 1 : 0)) * 4;
    samplesPerFrame = 384;
  } else if (layer === 2 || version === 1) {
    frameSize = Math.floor((144 * bitrate * 1000) / sampleRate) + (padding ? 1 : 0);
    samplesPerFrame = 1152;
  } else {
    frameSize = Math.floor((72 * bitrate * 1000) / sampleRate) + (padding ? 1 : 0);
    samplesPerFrame = 576;
  }
  return { version, layer, bitrate, sampleRate, padding, channels, frameSize, samplesPerFrame, protected: (b1 & 1) === 0 };
}

/** Offset of the Xing/Info tag inside a layer III frame (after the side information). */
export function xingOffset(h: MpegAudioHeader): number {
  if (h.version === 1) return 4 + (h.channels === 1 ? 17 : 32);
  return 4 + (h.channels === 1 ? 9 : 17);
}

/** The FLV AUDIODATA first byte for MP3 frames with this header. */
export function flvMp3SoundHeader(sampleRate: number, channels: number): number {
  const format = sampleRate === 8000 ? AudioCodec.MP3_8k : AudioCodec.MP3;
  const rateBits = sampleRate >= 32000 ? 3 : sampleRate >= 16000 ? 2 : sampleRate >= 11025 ? 1 : 0;
  return (format << 4) | (rateBits << 2) | (1 << 1) | (channels === 2 ? 1 : 0);
}

/** Splits concatenated MPEG audio frames; stops at the first byte that is not a frame header. */
export function splitMpegAudioFrames(buf: Buffer): { header: MpegAudioHeader; data: Buffer }[] {
  const out: { header: MpegAudioHeader; data: Buffer }[] = [];
  let p = 0;
  while (p + 4 <= buf.length) {
    const h = parseMpegAudioHeader(buf, p);
    if (!h) break;
    const end = Math.min(buf.length, p + h.frameSize);
    out.push({ header: h, data: buf.subarray(p, end) });
    p = end;
  }
  return out;
}
