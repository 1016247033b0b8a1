/**
 * Public surface of the media containers: pick a reader by content, and durations for Stream.length.
 * Formats are recognised by their first bytes (FLV signature; ISO BMFF box types; ID3 tag or MPEG audio sync),
 * with the caller's hint (the `mp4:` / `mp3:` stream name prefix) deciding only when content is ambiguous.
 */
import { MediaError } from '../errors';
import { FlvReader } from './flv';
import { guarded, type MediaFormat, type MediaReader } from './media-types';
import { Mp3Reader, id3v2Size } from './mp3';
import { FIRST_BOX_TYPES, Mp4Reader, mp4Length } from './mp4-reader';
import { parseMpegAudioHeader } from './mpeg-audio';
import type { RandomAccessSource } from './source';

export * from './media-types';
export * from './source';
export { FlvReader, FlvWriter, flvLength, inspectFlvForAppend, encodeFlvHeader, encodeFlvTag, parseFlvHeader } from './flv';
export type { FlvAppendInfo, FlvReaderOptions, FlvWriterOptions, FlvHeader } from './flv';
export { Mp4Reader, mp4Length, readMp4Layout } from './mp4-reader';
export type { Mp4TrackInfo, Mp4ReaderOptions } from './mp4-reader';
export { Mp4Writer, repairMp4 } from './mp4-writer';
export type { Mp4WriterOptions, Mp4RepairResult } from './mp4-writer';
export { Mp3Reader, mp3Length, parseId3v2 } from './mp3';
export type { Id3Tags, XingInfo } from './mp3';
export { inspectMp4 } from './mp4-inspect';

/** The container format of the bytes at the start of a file, or undefined. */
export function sniffFormat(head: Buffer): MediaFormat | undefined {
  if (head.length >= 3 && head.toString('latin1', 0, 3) === 'FLV') return 'flv';
  if (head.length >= 8 && FIRST_BOX_TYPES.has(head.toString('latin1', 4, 8))) return 'mp4';
  if (id3v2Size(head) > 0 || parseMpegAudioHeader(head)) return 'mp3';
  return undefined;
}

export async function detectFormat(source: RandomAccessSource, hint?: MediaFormat): Promise<MediaFormat> {
  const format = sniffFormat(await source.read(0, 16));
  if (format) return format;
  // MP3 files may start with junk before the first frame; let the MP3 reader search when asked for mp3.
  if (hint === 'mp3') return 'mp3';
  throw new MediaError('ERR_MEDIA_UNSUPPORTED', 'unrecognised media file format');
}

export async function openMediaReader(source: RandomAccessSource, hint?: MediaFormat): Promise<MediaReader> {
  const format = await guarded(() => detectFormat(source, hint));
  if (format === 'flv') return FlvReader.open(source);
  if (format === 'mp4') return Mp4Reader.open(source);
  return Mp3Reader.open(source);
}

/** Duration in seconds of any supported file (what Stream.length reports). */
export async function mediaLength(source: RandomAccessSource, hint?: MediaFormat): Promise<number> {
  return guarded(async () => {
    const format = await detectFormat(source, hint);
    if (format === 'mp4') return mp4Length(source);
    return (await openMediaReader(source, format)).info.duration;
  });
}
