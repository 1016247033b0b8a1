/**
 * Media fixtures generated at test time with Debian's ffmpeg (libx264, aac, libmp3lame), cached in a temp
 * directory shared by the test files of one run (written under a temporary name, then renamed, so parallel
 * jest workers never see half a file).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const FFMPEG = '/usr/bin/ffmpeg';
export const FFPROBE = '/usr/bin/ffprobe';

export const fixtureDir = path.join(os.tmpdir(), `ssas-media-fixtures-${process.getuid?.() ?? 0}-v1`);

const VIDEO_IN = ['-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25'];
const AUDIO_IN = ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100'];
const H264 = ['-c:v', 'libx264', '-preset', 'veryfast', '-g', '25', '-pix_fmt', 'yuv420p'];
const AAC = ['-c:a', 'aac', '-b:a', '64k'];

/** ffmpeg arguments (inputs and codecs, without the output) by fixture file name. */
export const FIXTURES: Record<string, string[]> = {
  'avc-aac.flv': [...VIDEO_IN, ...AUDIO_IN, '-t', '3', ...H264, ...AAC],
  'avc-aac-2s.flv': [...VIDEO_IN, ...AUDIO_IN, '-t', '2', ...H264, ...AAC],
  'avc-only.flv': [...VIDEO_IN, '-t', '2', ...H264],
  'aac-only.flv': [...AUDIO_IN, '-t', '2', ...AAC],
  'avc-aac.mp4': [...VIDEO_IN, ...AUDIO_IN, '-t', '3', ...H264, ...AAC],
  'avc-aac-faststart.mp4': [...VIDEO_IN, ...AUDIO_IN, '-t', '3', ...H264, ...AAC, '-movflags', '+faststart'],
  'frag.mp4': [...VIDEO_IN, ...AUDIO_IN, '-t', '3', ...H264, ...AAC, '-movflags', 'frag_keyframe+empty_moov'],
  'frag-dash.mp4': [...VIDEO_IN, ...AUDIO_IN, '-t', '3', ...H264, ...AAC, '-movflags', 'frag_keyframe+empty_moov+default_base_moof'],
  'avc-aac.f4v': [...VIDEO_IN, ...AUDIO_IN, '-t', '3', ...H264, ...AAC, '-f', 'mp4'],
  'mp3-in.mp4': [...AUDIO_IN, '-t', '3', '-c:a', 'libmp3lame', '-b:a', '128k'],
  'avc-mp3.mp4': [...VIDEO_IN, ...AUDIO_IN, '-t', '2', ...H264, '-c:a', 'libmp3lame', '-b:a', '96k'],
  'cbr.mp3': [...AUDIO_IN, '-t', '5', '-c:a', 'libmp3lame', '-b:a', '128k', '-metadata', 'title=Test Tone', '-metadata', 'artist=ssas', '-metadata', 'album=Fixtures', '-metadata', 'date=2024', '-metadata', 'comment=generated'],
  'cbr-noxing.mp3': [...AUDIO_IN, '-t', '4', '-c:a', 'libmp3lame', '-b:a', '64k', '-write_xing', '0', '-id3v2_version', '0'],
  'vbr.mp3': [...AUDIO_IN, '-t', '6', '-c:a', 'libmp3lame', '-q:a', '4', '-metadata', 'title=Variable \u00e9t\u00e9', '-metadata', 'artist=ssas'],
  'mpeg2.mp3': ['-f', 'lavfi', '-i', 'sine=frequency=300:sample_rate=22050', '-t', '3', '-ac', '1', '-c:a', 'libmp3lame', '-b:a', '32k', '-id3v2_version', '3', '-metadata', 'title=v23'],
  'id3v1.mp3': [...AUDIO_IN, '-t', '2', '-c:a', 'libmp3lame', '-b:a', '96k', '-write_id3v1', '1', '-metadata', 'title=with v1'],
  'layer2.mp2': [...AUDIO_IN, '-t', '2', '-c:a', 'mp2', '-b:a', '128k'],
};

/** The fixture's path, generating it on first use. */
export function fixture(name: string): string {
  const args = FIXTURES[name];
  if (!args) throw new Error(`unknown fixture ${name}`);
  fs.mkdirSync(fixtureDir, { recursive: true });
  const file = path.join(fixtureDir, name);
  if (fs.existsSync(file)) return file;
  const tmp = path.join(fixtureDir, `.${process.pid}-${Date.now()}-${name}`);
  const fmt = args.includes('-f') && args.lastIndexOf('-f') > args.lastIndexOf('-i') + 1 ? [] : ['-f', formatOf(name)];
  execFileSync(FFMPEG, ['-hide_banner', '-loglevel', 'error', '-y', ...args, ...fmt, tmp], { stdio: ['ignore', 'ignore', 'pipe'] });
  fs.renameSync(tmp, file);
  return file;
}

function formatOf(name: string): string {
  const ext = path.extname(name).slice(1);
  return ext === 'f4v' || ext === 'm4a' ? 'mp4' : ext;
}

export interface ProbeStream {
  codec_name: string;
  codec_type: 'video' | 'audio';
  width?: number;
  height?: number;
  sample_rate?: string;
  channels?: number;
  duration?: string;
  nb_frames?: string;
  r_frame_rate?: string;
}

export interface Probe {
  format: { duration?: string; size: string; format_name: string; tags?: Record<string, string> };
  streams: ProbeStream[];
}

export function ffprobe(file: string, extra: string[] = []): Probe {
  const out = execFileSync(FFPROBE, ['-v', 'error', '-show_format', '-show_streams', ...extra, '-of', 'json', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(out) as Probe;
}

/** Packet count per stream type, by demuxing (exact even where nb_frames is absent). */
export function ffprobeCountPackets(file: string): { video: number; audio: number } {
  const out = execFileSync(FFPROBE, ['-v', 'error', '-count_packets', '-show_entries', 'stream=codec_type,nb_read_packets', '-of', 'json', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const res = { video: 0, audio: 0 };
  for (const s of (JSON.parse(out) as { streams: { codec_type: string; nb_read_packets: string }[] }).streams) {
    if (s.codec_type === 'video' || s.codec_type === 'audio') res[s.codec_type] += Number(s.nb_read_packets);
  }
  return res;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `ssas-${prefix}-`));
}
