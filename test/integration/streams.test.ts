/**
 * Recording and VOD end to end: ffmpeg publishing into a script that records FLV and F4V, client
 * publish "record"/"append", playback of FLV/MP4/MP3 to ffprobe, ffmpeg, rtmpdump and our client (seek,
 * pause), server-side playlists, Stream.length against ffprobe, and bad files / unwritable folders.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createServer } from '../../src/server/create';
import type { Server } from '../../src/server/server';
import { RtmpClient, type ClientStream } from '../../src/net/rtmp-client';
import { addLogSink } from '../../src/logger';
import {
  audioStream,
  copyDir,
  killAllTracked,
  makeTempDir,
  makeTestClip,
  probeUrl,
  publishWithFfmpeg,
  readWithFfmpeg,
  recordWithRtmpdump,
  removeDir,
  runTracked,
  requirePeer,
  videoStream,
  until,
} from '../support';

let server: Server;
let base: string;
const apps = makeTempDir('streams');
const traces: string[] = [];
let removeSink: () => void;
let clipFlv: string;
let clipMp4: string;
let clipMp3: string;
const vodDir = path.join(apps, 'recorder', 'streams', '_definst_');

async function ffprobeDuration(file: string): Promise<number> {
  const r = await runTracked(requirePeer('ffprobe'), ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file], { timeoutMs: 15_000 });
  return Number(r.stdout.trim());
}

async function probeFile(file: string): Promise<{ codecs: string[]; duration: number }> {
  const p = await probeUrl(file);
  return { codecs: p.streams.map((s) => s.codec_name ?? '').sort(), duration: Number(p.format?.duration) };
}


beforeAll(async () => {
  copyDir(path.join(__dirname, '..', 'fixtures', 'apps', 'recorder'), path.join(apps, 'recorder'));
  fs.mkdirSync(vodDir, { recursive: true });
  fs.mkdirSync(path.join(apps, 'plain'));
  clipFlv = await makeTestClip({ durationSec: 4, format: 'flv' });
  clipMp4 = await makeTestClip({ durationSec: 3, format: 'mp4' });
  clipMp3 = await makeTestClip({ durationSec: 3, format: 'mp3' });
  fs.copyFileSync(clipFlv, path.join(vodDir, 'clip.flv'));
  fs.copyFileSync(clipMp4, path.join(vodDir, 'clip.mp4'));
  fs.copyFileSync(clipMp3, path.join(vodDir, 'song.mp3'));
  removeSink = addLogSink((r) => traces.push(r.message));
  server = createServer({ appsDir: apps, port: 0 });
  base = (await server.listen()).url;
}, 60_000);

afterAll(async () => {
  removeSink();
  await killAllTracked();
  await server.close();
  removeDir(apps);
});

describe('recording', () => {
  it('a script records an ffmpeg publish as FLV and F4V; ffprobe reads both with the sent duration', async () => {
    const pub = publishWithFfmpeg(`${base}/recorder/rec1`, { file: clipFlv });
    const done = await pub.exited;
    expect(done.code).toBe(0);
    const dir = path.join(apps, 'recorder', 'streams', '_definst_');
    await until(() => traces.includes('flv rec1 NetStream.Record.Stop') && traces.includes('f4v rec1 NetStream.Record.Stop')).catch((e) => {
      throw new Error(`${e.message}: ${traces.join(' | ')}`);
    });
    const sent = await ffprobeDuration(clipFlv);
    const flv = await probeFile(path.join(dir, 'rec1.flv'));
    expect(flv.codecs).toEqual(['aac', 'h264']);
    expect(Math.abs(flv.duration - sent)).toBeLessThan(0.2);
    const f4v = await probeFile(path.join(dir, 'rec1.f4v'));
    expect(f4v.codecs).toEqual(['aac', 'h264']);
    expect(Math.abs(f4v.duration - sent)).toBeLessThan(0.2);
    expect(fs.existsSync(path.join(dir, 'rec1.f4v.idx'))).toBe(false);
  }, 60_000);

  it('client publish "record" then "append" gives one file whose duration is the sum', async () => {
    const dir = path.join(apps, 'plain', 'streams', '_definst_');
    const publishClip = async (mode: string): Promise<string[]> => {
      const c = await RtmpClient.connect(`${base}/plain`);
      const s = await c.createStream();
      await s.publish('book', mode);
      await s.waitFor('NetStream.Record.Start', 5000, true);
      // 2 s of synthetic video at 25 fps (key frame every second) sent as fast as possible.
      s.sendMedia(9, 0, Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f, 1, 0, 4, 0x68, 0xee, 0x3c, 0x80]));
      for (let i = 0; i <= 50; i++) s.sendMedia(9, i * 40, Buffer.from([i % 25 === 0 ? 0x17 : 0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x65]));
      const stopped = s.waitFor('NetStream.Record.Stop');
      s.closeStream();
      await stopped;
      const codes = s.statusLog.map((i) => i.code);
      c.close();
      return codes;
    };
    expect(await publishClip('record')).toEqual(['NetStream.Publish.Start', 'NetStream.Record.Start', 'NetStream.Unpublish.Success', 'NetStream.Record.Stop']);
    const first = await ffprobeDuration(path.join(dir, 'book.flv'));
    expect(first).toBeGreaterThan(1.9);
    await publishClip('append');
    const both = await ffprobeDuration(path.join(dir, 'book.flv'));
    expect(Math.abs(both - 2 * first)).toBeLessThan(0.2);
    // "live" removes the old recording of that name (the file is writable).
    const c = await RtmpClient.connect(`${base}/plain`);
    const s = await c.createStream();
    await s.publish('book', 'live');
    await until(() => !fs.existsSync(path.join(dir, 'book.flv')));
    c.close();
  }, 60_000);

  it('an unwritable folder gives Record.NoAccess/Failed while players keep receiving the live stream', async () => {
    const dir = path.join(apps, 'plain', 'streams', '_definst_');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'locked.flv'), 'old');
    fs.chmodSync(path.join(dir, 'locked.flv'), 0o444);
    const player = await RtmpClient.connect(`${base}/plain`);
    const ps = await player.createStream();
    let media = 0;
    ps.onEvent = (ev) => {
      if (ev.kind === 'media') media++;
    };
    await ps.play('locked', -1);
    const c = await RtmpClient.connect(`${base}/plain`);
    const s = await c.createStream();
    await s.publish('locked', 'record');
    const st = await s.waitFor(['NetStream.Record.NoAccess', 'NetStream.Record.Failed'], 5000, true);
    expect(st.level).toBe('error');
    for (let i = 0; i < 20; i++) s.sendMedia(8, i * 20, Buffer.from([0xaf, 1, i]));
    await until(() => media >= 20);
    // "live" leaves a read-only recording alone.
    s.closeStream();
    const s2 = await c.createStream();
    await s2.publish('locked', 'live');
    expect(fs.readFileSync(path.join(dir, 'locked.flv'), 'utf8')).toBe('old');
    c.close();
    player.close();
  });
});

describe('playback', () => {
  it('ffprobe, ffmpeg and rtmpdump read FLV, MP4 and MP3 files over RTMP; Stream.length matches ffprobe', async () => {
    const flv = await probeUrl(`${base}/recorder/clip`, 20_000);
    expect([videoStream(flv)?.codec_name, audioStream(flv)?.codec_name]).toEqual(['h264', 'aac']);
    const mp4 = await probeUrl(`${base}/recorder/mp4:clip.mp4`, 20_000);
    expect([videoStream(mp4)?.codec_name, audioStream(mp4)?.codec_name]).toEqual(['h264', 'aac']);
    const mp3 = await probeUrl(`${base}/recorder/mp3:song`, 20_000);
    expect(audioStream(mp3)?.codec_name).toBe('mp3');
    void vodDir;
    const read = await readWithFfmpeg(`${base}/recorder/mp4:clip.mp4`, { durationSec: 10 });
    expect(read.video.frames).toBeGreaterThanOrEqual(70);
    const out = path.join(apps, 'dl.flv');
    const dump = await recordWithRtmpdump(`${base}/recorder/clip`, out, { live: false });
    expect(dump.bytes).toBeGreaterThan(10_000);
    expect(Math.abs((await ffprobeDuration(out)) - (await ffprobeDuration(clipFlv)))).toBeLessThan(0.2);
    const c = await RtmpClient.connect(`${base}/recorder`);
    for (const [name, file] of [['clip', clipFlv], ['mp4:clip.mp4', clipMp4], ['mp3:song', clipMp3]] as const) {
      const len = (await c.call('length', name)) as number;
      expect(Math.abs(len - (await ffprobeDuration(file)))).toBeLessThan(0.1);
    }
    expect(await c.call('length', 'nothing')).toBe(0);
    c.close();
  }, 90_000);

  async function player(name: string, start = -2): Promise<{ c: RtmpClient; s: ClientStream; media: { type: number; ts: number; at: number }[]; data: string[] }> {
    const c = await RtmpClient.connect(`${base}/recorder`);
    const s = await c.createStream();
    s.setBufferLength(500);
    const media: { type: number; ts: number; at: number }[] = [];
    const data: string[] = [];
    s.onEvent = (ev) => {
      if (ev.kind === 'media') media.push({ type: ev.msg.type, ts: ev.msg.timestamp, at: Date.now() });
      if (ev.kind === 'data') data.push(ev.name === 'onPlayStatus' ? `onPlayStatus:${(ev.args[0] as { code: string }).code}` : ev.name);
    };
    await s.play(name, start);
    return { c, s, media, data };
  }

  it('plays a file at real-time pace with the FMS sequence; seek, pause and Play.Complete', async () => {
    const p = await player('clip', 0);
    expect(p.s.statusLog.map((i) => i.code)).toEqual(['NetStream.Play.Reset', 'NetStream.Play.Start']);
    await until(() => p.data.includes('onMetaData'));
    expect(p.data.slice(0, 2)).toEqual(['|RtmpSampleAccess', 'onMetaData']);
    const t0 = Date.now();
    await until(() => p.media.some((m) => m.type === 9 && m.ts >= 2000));
    // 2 s of media took about 2 s minus the 0.5 s lead.
    expect(Date.now() - t0).toBeGreaterThan(1000);
    p.s.pause(true);
    await p.s.waitFor('NetStream.Pause.Notify');
    await new Promise((r) => setTimeout(r, 200));
    const countPaused = p.media.length;
    await new Promise((r) => setTimeout(r, 600));
    expect(p.media.length).toBe(countPaused);
    p.s.pause(false);
    await p.s.waitFor('NetStream.Unpause.Notify');
    p.s.seek(1000);
    await p.s.waitFor('NetStream.Seek.Notify');
    const after = p.media.length;
    await until(() => p.media.length > after + 5);
    const firstVideoAfterSeek = p.media.slice(after).find((m) => m.type === 9)!;
    expect(firstVideoAfterSeek.ts).toBeLessThanOrEqual(1000);
    await until(() => p.data.includes('onPlayStatus:NetStream.Play.Complete'), 10_000);
    await p.s.waitFor('NetStream.Play.Stop', 5000, true);
    p.c.close();
  }, 30_000);

  it('start and len select part of a file; a missing file with start >= 0 is StreamNotFound', async () => {
    const p = await player('clip', 2);
    await until(() => p.data.includes('onPlayStatus:NetStream.Play.Complete'), 10_000);
    const video = p.media.filter((m) => m.type === 9);
    expect(video[0]!.ts).toBeGreaterThanOrEqual(1900);
    p.c.close();
    const q = await RtmpClient.connect(`${base}/recorder`);
    const qs = await q.createStream();
    expect((await qs.play('no-such-file', 0)).code).toBe('NetStream.Play.StreamNotFound');
    q.close();
  });

  it('len 0 plays the first video frame only', async () => {
    const c = await RtmpClient.connect(`${base}/recorder`);
    const s = await c.createStream();
    const video: Buffer[] = [];
    const data: string[] = [];
    s.onEvent = (ev) => {
      if (ev.kind === 'media' && ev.msg.type === 9) video.push(ev.msg.payload);
      if (ev.kind === 'data' && ev.name === 'onPlayStatus') data.push((ev.args[0] as { code: string }).code);
    };
    await s.play('clip', 1, 0);
    await until(() => data.includes('NetStream.Play.Complete'));
    // The AVC sequence header and one key frame picture.
    const pictures = video.filter((p) => p[1] === 1);
    expect(pictures).toHaveLength(1);
    expect(pictures[0]![0]! >> 4).toBe(1);
    c.close();
  });

  it('a server-side playlist of three files plays back to back to a client', async () => {
    const c = await RtmpClient.connect(`${base}/recorder`);
    await c.call('playlist', 'channel', 'mp4:clip.mp4', 'clip', 'mp4:clip.mp4');
    const s = await c.createStream();
    const media: { type: number; ts: number }[] = [];
    s.onEvent = (ev) => {
      if (ev.kind === 'media') media.push({ type: ev.msg.type, ts: ev.msg.timestamp });
    };
    await s.play('channel', -1);
    await until(() => traces.filter((t) => t.startsWith('playlist NetStream.Play.Switch')).length >= 2, 20_000).catch((e) => {
      throw new Error(`${e.message}: ${traces.filter((t) => t.includes('playlist')).join(' | ')}`);
    });
    await until(() => traces.some((t) => t.startsWith('playlist NetStream.Play.Stop')), 20_000);
    // Timestamps run on across the items: about 3 + 4 + 3 s.
    const lastVideo = media.filter((m) => m.type === 9).pop()!;
    expect(lastVideo.ts).toBeGreaterThan(8500);
    const ts = media.filter((m) => m.type === 9).map((m) => m.ts);
    for (let i = 1; i < ts.length; i++) expect(ts[i]! + 200).toBeGreaterThanOrEqual(ts[i - 1]!);
    c.close();
  }, 40_000);

  it('truncated or corrupt files give StreamNotFound/Play.Failed with a reason, never a crash', async () => {
    const bytes = fs.readFileSync(clipMp4);
    fs.writeFileSync(path.join(vodDir, 'cut.mp4'), bytes.subarray(0, 200));
    fs.writeFileSync(path.join(vodDir, 'junk.flv'), Buffer.alloc(5000, 0x41));
    const junkMp3 = Buffer.alloc(3000, 0);
    fs.writeFileSync(path.join(vodDir, 'junk.mp3'), junkMp3);
    const c = await RtmpClient.connect(`${base}/recorder`);
    for (const name of ['mp4:cut.mp4', 'junk', 'mp3:junk']) {
      const s = await c.createStream();
      const st = await s.play(name, 0);
      expect(['NetStream.Play.Failed', 'NetStream.Play.StreamNotFound']).toContain(st.code);
      if (st.code === 'NetStream.Play.Failed') expect(String(st.description)).toMatch(/ERR_MEDIA_/);
    }
    expect(await c.call('length', 'mp4:cut.mp4')).toBe(0);
    c.close();
  });

  it('application.clearStreams removes matching recordings', async () => {
    const dir = path.join(apps, 'recorder', 'streams', '_definst_');
    fs.writeFileSync(path.join(dir, 'tmp1.flv'), 'x');
    fs.writeFileSync(path.join(dir, 'tmp2.flv'), 'x');
    fs.writeFileSync(path.join(dir, 'keep.mp3'), 'x');
    const c = await RtmpClient.connect(`${base}/recorder`);
    expect(await c.call('clear', '/tmp?')).toBe(true);
    expect(fs.existsSync(path.join(dir, 'tmp1.flv'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'keep.mp3'))).toBe(true);
    expect(await c.call('clear', 'mp3:/*')).toBe(true);
    expect(fs.existsSync(path.join(dir, 'keep.mp3'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'clip.flv'))).toBe(true);
    c.close();
  });
});
