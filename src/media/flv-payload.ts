/**
 * Building and taking apart FLV audio/video tag bodies (= RTMP message payloads).
 * Spec: Adobe Video File Format Specification v10.1, E.4.2.1 AUDIODATA / AACAUDIODATA, E.4.3.1 VIDEODATA /
 * AVCVIDEOPACKET (CompositionTime is SI24 milliseconds).
 */
import { AudioCodec, VideoCodec } from './tag-info';

/** AAC is always signalled as 44 kHz, 16-bit, stereo in the FLV header byte; the real values are in the ASC. */
export const AAC_SOUND_HEADER = (AudioCodec.AAC << 4) | 0x0f;

export function avcSequenceHeaderPayload(avcC: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x10 | VideoCodec.AVC, 0, 0, 0, 0]), avcC]);
}

export function avcNaluPayload(keyframe: boolean, compositionTime: number, data: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = (keyframe ? 0x10 : 0x20) | VideoCodec.AVC;
  head[1] = 1;
  head.writeIntBE(Math.max(-0x800000, Math.min(0x7fffff, compositionTime)), 2, 3);
  return Buffer.concat([head, data]);
}

export function aacSequenceHeaderPayload(asc: Buffer): Buffer {
  return Buffer.concat([Buffer.from([AAC_SOUND_HEADER, 0]), asc]);
}

export function aacRawPayload(data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([AAC_SOUND_HEADER, 1]), data]);
}

export type ParsedVideo =
  | { codec: 7; packetType: 0; keyframe: boolean; config: Buffer }
  | { codec: 7; packetType: 1; keyframe: boolean; compositionTime: number; data: Buffer }
  | { codec: 7; packetType: 2; keyframe: boolean }
  | { codec: number; packetType: -1; keyframe: boolean; data: Buffer };

/** Undefined for payloads too short to carry what their header announces, and for enhanced-RTMP payloads. */
export function parseVideoPayload(p: Buffer): ParsedVideo | undefined {
  if (p.length < 1 || p[0]! & 0x80) return undefined;
  const keyframe = (p[0]! >> 4) === 1;
  const codec = p[0]! & 0x0f;
  if (codec !== VideoCodec.AVC) return { codec, packetType: -1, keyframe, data: p.subarray(1) };
  if (p.length < 5) return undefined;
  const packetType = p[1]!;
  if (packetType === 0) return { codec: 7, packetType: 0, keyframe, config: p.subarray(5) };
  if (packetType === 1) return { codec: 7, packetType: 1, keyframe, compositionTime: p.readIntBE(2, 3), data: p.subarray(5) };
  if (packetType === 2) return { codec: 7, packetType: 2, keyframe };
  return undefined;
}

export type ParsedAudio =
  | { format: 10; packetType: 0; config: Buffer }
  | { format: 10; packetType: 1; data: Buffer }
  | { format: number; packetType: -1; rateBits: number; sixteenBit: boolean; stereo: boolean; data: Buffer };

export function parseAudioPayload(p: Buffer): ParsedAudio | undefined {
  if (p.length < 1) return undefined;
  const format = p[0]! >> 4;
  if (format === AudioCodec.AAC) {
    if (p.length < 2) return undefined;
    if (p[1] === 0) return { format: 10, packetType: 0, config: p.subarray(2) };
    if (p[1] === 1) return { format: 10, packetType: 1, data: p.subarray(2) };
    return undefined;
  }
  return { format, packetType: -1, rateBits: (p[0]! >> 2) & 3, sixteenBit: ((p[0]! >> 1) & 1) === 1, stereo: (p[0]! & 1) === 1, data: p.subarray(1) };
}
