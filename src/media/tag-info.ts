/**
 * Facts about FLV-style audio/video tag bodies, which are also RTMP audio (8) / video (9) message payloads.
 * Spec: Adobe "Video File Format Specification" v10.1, E.4.2 (AUDIODATA), E.4.3 (VIDEODATA), AVCVIDEOPACKET,
 * AACAUDIODATA; Enhanced RTMP v1 (ex-header bit 0x80 with FourCC codecs) for HEVC/AV1/VP9 publishers.
 */

/** The common currency of media between transports, recorders and file readers. */
export interface MediaTag {
  /** FLV tag type: 8 audio, 9 video, 18 script data (AMF0). */
  type: 8 | 9 | 18;
  /** Milliseconds. */
  timestamp: number;
  /** The tag body (exactly an RTMP message payload). */
  payload: Buffer;
}

export const TAG_AUDIO = 8;
export const TAG_VIDEO = 9;
export const TAG_SCRIPT = 18;

/** Video codec ids of the FLV VIDEODATA header (low nibble). */
export const VideoCodec = { SorensonH263: 2, Screen: 3, VP6: 4, VP6Alpha: 5, Screen2: 6, AVC: 7 } as const;
/** Sound format ids of the FLV AUDIODATA header (high nibble). */
export const AudioCodec = { PCM: 0, ADPCM: 1, MP3: 2, PCMLE: 3, Nellymoser16: 4, Nellymoser8: 5, Nellymoser: 6, G711A: 7, G711U: 8, AAC: 10, Speex: 11, MP3_8k: 14 } as const;

/**
 * True when a video payload is a key frame picture (a decodable start), including enhanced-RTMP headers.
 * AVC sequence headers and end-of-sequence packets also carry frame type 1 but are not pictures.
 */
export function isVideoKeyframe(payload: Buffer): boolean {
  if (payload.length === 0) return false;
  const b = payload[0]!;
  if ((b & 0x70) >> 4 !== 1) return false;
  if (b & 0x80) {
    const packetType = b & 0x0f;
    return packetType === 1 || packetType === 3; // CodedFrames, CodedFramesX
  }
  if ((b & 0x0f) === VideoCodec.AVC) return payload.length > 1 && payload[1] === 1;
  return true;
}

/** True for AVC/HEVC decoder configuration records (must be replayed to late joiners). */
export function isVideoSequenceHeader(payload: Buffer): boolean {
  if (payload.length < 2) return false;
  const b = payload[0]!;
  if (b & 0x80) return (b & 0x0f) === 0; // enhanced RTMP: PacketTypeSequenceStart
  return (b & 0x0f) === VideoCodec.AVC && payload[1] === 0;
}

/** True for the AAC AudioSpecificConfig packet (must be replayed to late joiners). */
export function isAudioSequenceHeader(payload: Buffer): boolean {
  return payload.length >= 2 && payload[0]! >> 4 === AudioCodec.AAC && payload[1] === 0;
}

/** Video frames that carry no picture (AVC end of sequence, enhanced-RTMP metadata): never dropped. */
export function isVideoInfoFrame(payload: Buffer): boolean {
  return payload.length > 0 && (payload[0]! & 0x70) >> 4 === 5;
}

export function videoCodecId(payload: Buffer): number {
  return payload.length > 0 ? payload[0]! & 0x0f : -1;
}

export function audioCodecId(payload: Buffer): number {
  return payload.length > 0 ? payload[0]! >> 4 : -1;
}
