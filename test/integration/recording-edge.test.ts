/**
 * Recording edge cases: an MP4 recording interrupted by kill -9 and completed by `ssas repair`, a full disk
 * (Record.Failed while the live stream keeps flowing), DiskQuota, StorageDir and virtual directories,
 * Stream.send data stored in a recording, play2 transitions.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createServer } from '../../src/server/create';
import type { Server } from '../../src/server/server';
import { RtmpClient, type ClientStream } from '../../src/net/rtmp-client';
import { FileSource, FlvReader, openMediaReader } from '../../src/media';
import { decodeAmf0All } from '../../src/amf';
import { killAllTracked, makeTempDir, makeTestClip, probeUrl, removeDir, runTracked, videoStream, audioStream, startSsasServe, SSAS_BIN } from '../support';

const bin = SSAS_BIN;
let clip: string;

beforeAll(async () => {
  clip = await makeTestClip({ durationSec: 6, format: 'flv' });
}, 30_000);

afterAll(async () => {
  await killAllTracked();
});

/** Publishes the tags of an FLV file at `speed` x real time through our client. */
async function publishFile(s: ClientStream, file: string, speed = 4, stopAfterMs = Infinity): Promise<void> {
  const src = await FileSource.open(file);
  const r = await FlvReader.open(src);
  const t0 = Date.now();
  for (let tag = await r.next(); tag; tag = await r.next()) {
    if (tag.timestamp > stopAfterMs) break;
    const due = t0 + tag.timestamp / speed;
    if (due > Date.now()) await new Promise((res) => setTimeout(res, due - Date.now()));
    if (tag.type === 18) {
      const v = decodeAmf0All(tag.payload);
      if (v[0] === 'onMetaData') s.send('@setDataFrame', 'onMetaData', v[1] ?? null);
      continue;
    }
    s.sendMedia(tag.type, tag.timestamp, tag.payload);
  }
  await src.close();
}

describe('crash recovery', () => {
  it('an F4V recording cut by kill -9 is completed by `ssas repair` and ffprobe reads it', async () => {
    const apps = makeTempDir('repair');
    fs.mkdirSync(path.join(apps, 'rec'));
    const { proc, url } = await startSsasServe(['--apps', apps]);
    const c = await RtmpClient.connect(`${url}/rec`);
    const s = await c.createStream();
    await s.publish('mp4:crash.f4v', 'record');
    await publishFile(s, clip, 8, 4000);
    await new Promise((r) => setTimeout(r, 300));
    proc.child.kill('SIGKILL');
    await proc.exited;
    c.close();
    const file = path.join(apps, 'rec', 'streams', '_definst_', 'crash.f4v');
    expect(fs.existsSync(`${file}.idx`)).toBe(true);
    const broken = await runTracked('/usr/bin/ffprobe', ['-v', 'error', file], { timeoutMs: 10_000 });
    expect(broken.code).not.toBe(0);
    const rep = await runTracked(process.execPath, [bin, 'repair', file], { timeoutMs: 20_000 });
    expect(rep.code).toBe(0);
    expect(rep.stdout).toMatch(/repaired .*crash\.f4v: \d+ samples kept/);
    expect(fs.existsSync(`${file}.idx`)).toBe(false);
    const p = await probeUrl(file);
    expect([videoStream(p)?.codec_name, audioStream(p)?.codec_name]).toEqual(['h264', 'aac']);
    expect(Number(p.format?.duration)).toBeGreaterThan(3);
    const again = await runTracked(process.execPath, [bin, 'repair', file], { timeoutMs: 20_000 });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no index/);
    removeDir(apps);
  }, 60_000);

  it('an F4V recording cut by kill -9 is completed when the server starts again, and plays', async () => {
    const apps = makeTempDir('autorepair');
    fs.mkdirSync(path.join(apps, 'rec'));
    const first = await startSsasServe(['--apps', apps]);
    const c = await RtmpClient.connect(`${first.url}/rec`);
    const s = await c.createStream();
    await s.publish('mp4:crash.f4v', 'record');
    await publishFile(s, clip, 8, 4000);
    await new Promise((r) => setTimeout(r, 300));
    first.proc.child.kill('SIGKILL');
    await first.proc.exited;
    c.close();
    const file = path.join(apps, 'rec', 'streams', '_definst_', 'crash.f4v');
    expect(fs.existsSync(`${file}.idx`)).toBe(true);
    // An index written to moments ago may be another process's live recording: left for a few seconds.
    await new Promise((r) => setTimeout(r, 5200));
    const second = await startSsasServe(['--apps', apps]);
    expect(second.proc.output()).toMatch(/completed .*crash\.f4v, a recording interrupted by a crash: \d+ samples kept/);
    expect(fs.existsSync(`${file}.idx`)).toBe(false);
    const p = await probeUrl(file);
    expect([videoStream(p)?.codec_name, audioStream(p)?.codec_name]).toEqual(['h264', 'aac']);
    // And a client plays it from the restarted server.
    const viewer = await RtmpClient.connect(`${second.url}/rec`);
    const vs = await viewer.createStream();
    const info = await vs.play('mp4:crash.f4v', 0);
    expect(info.code).toBe('NetStream.Play.Start');
    viewer.close();
    second.proc.child.kill('SIGTERM');
    await second.proc.exited;
    removeDir(apps);
  }, 60_000);
});

describe('clean shutdown', () => {
  it('SIGTERM while a client records: the server finishes the file (moov written, no index left) before exiting', async () => {
    const apps = makeTempDir('term');
    fs.mkdirSync(path.join(apps, 'rec'));
    const { proc, url } = await startSsasServe(['--apps', apps]);
    const c = await RtmpClient.connect(`${url}/rec`);
    const s = await c.createStream();
    await s.publish('mp4:term.f4v', 'record');
    await publishFile(s, clip, 8, 3000);
    proc.child.kill('SIGTERM');
    const exit = await proc.exited;
    expect(exit.code).toBe(0);
    c.close();
    const file = path.join(apps, 'rec', 'streams', '_definst_', 'term.f4v');
    expect(fs.existsSync(`${file}.idx`)).toBe(false);
    const p = await probeUrl(file);
    expect(videoStream(p)?.codec_name).toBe('h264');
    removeDir(apps);
  }, 40_000);
});

describe('storage', () => {
  let server: Server;
  let base: string;
  const apps = makeTempDir('storage');
  const elsewhere = makeTempDir('storage-dir');
  const vdir = makeTempDir('storage-vdir');

  beforeAll(async () => {
    fs.mkdirSync(path.join(apps, 'full'));
    fs.mkdirSync(path.join(apps, 'full', 'streams', '_definst_'), { recursive: true });
    // Every write to this recording fails with ENOSPC, like a full disk.
    fs.symlinkSync('/dev/full', path.join(apps, 'full', 'streams', '_definst_', 'disk.flv'));
    fs.mkdirSync(path.join(apps, 'quota'));
    fs.writeFileSync(path.join(apps, 'quota', 'Application.xml'), '<Application><StreamManager><Recording><DiskQuota>1</DiskQuota></Recording></StreamManager></Application>');
    fs.mkdirSync(path.join(apps, 'quota', 'streams', '_definst_'), { recursive: true });
    fs.writeFileSync(path.join(apps, 'quota', 'streams', '_definst_', 'big.flv'), Buffer.alloc(2 * 1024 * 1024));
    fs.mkdirSync(path.join(apps, 'mapped'));
    fs.writeFileSync(
      path.join(apps, 'mapped', 'Application.xml'),
      `<Application><StreamManager><StorageDir>${elsewhere}</StorageDir><VirtualDirectory><Streams>/shared;${vdir}</Streams></VirtualDirectory></StreamManager></Application>`,
    );
    fs.copyFileSync(clip, path.join(vdir, 'movie.flv'));
    fs.mkdirSync(path.join(apps, 'data'));
    fs.writeFileSync(path.join(apps, 'data', 'main.asc'), 'Client.prototype.note = function (n, t) { return Stream.get(n).send("onNote", t); };');
    server = createServer({ appsDir: apps, port: 0 });
    base = (await server.listen()).url;
  });

  afterAll(async () => {
    await server.close();
    for (const d of [apps, elsewhere, vdir]) removeDir(d);
  });

  it('a full disk stops the recording with Record.Failed; players keep getting the live stream', async () => {
    const player = await RtmpClient.connect(`${base}/full`);
    const ps = await player.createStream();
    let media = 0;
    ps.onEvent = (ev) => {
      if (ev.kind === 'media') media++;
    };
    await ps.play('disk', -1);
    const c = await RtmpClient.connect(`${base}/full`);
    const s = await c.createStream();
    await s.publish('disk', 'record');
    const failed = s.waitFor(['NetStream.Record.Failed', 'NetStream.Record.NoAccess'], 10_000, true);
    await publishFile(s, clip, 20, 1500);
    const st = await failed;
    expect(st.level).toBe('error');
    expect(String(st.description)).toMatch(/ENOSPC|no space/i);
    await publishFile(s, clip, 20, 1000);
    expect(media).toBeGreaterThan(40);
    c.close();
    player.close();
  }, 30_000);

  it('DiskQuota from Application.xml gives Record.DiskQuotaExceeded', async () => {
    const c = await RtmpClient.connect(`${base}/quota`);
    const s = await c.createStream();
    await s.publish('more', 'record');
    const st = await s.waitFor('NetStream.Record.DiskQuotaExceeded', 5000, true);
    expect(st.level).toBe('error');
    c.close();
  });

  it('StorageDir moves recordings; a virtual directory serves files from another folder', async () => {
    const c = await RtmpClient.connect(`${base}/mapped`);
    const s = await c.createStream();
    await s.publish('here', 'record');
    await publishFile(s, clip, 20, 1000);
    const stop = s.waitFor('NetStream.Record.Stop');
    s.closeStream();
    await stop;
    expect(fs.existsSync(path.join(elsewhere, '_definst_', 'here.flv'))).toBe(true);
    // ffmpeg reads "mapped/shared" as the application for this URL, so name the parts explicitly.
    const p = await probeUrl(`${base}/mapped/shared/movie`, 15_000, { extra: ['-rtmp_app', 'mapped', '-rtmp_playpath', 'shared/movie'] });
    expect(videoStream(p)?.codec_name).toBe('h264');
    c.close();
  }, 30_000);

  it('Stream.send data goes to players and into the recording', async () => {
    const c = await RtmpClient.connect(`${base}/data`);
    const s = await c.createStream();
    await s.publish('notes', 'record');
    await publishFile(s, clip, 20, 500);
    expect(await c.call('note', 'notes', 'remember this')).toBe(true);
    await publishFile(s, clip, 20, 500);
    const stop = s.waitFor('NetStream.Record.Stop');
    s.closeStream();
    await stop;
    const src = await FileSource.open(path.join(apps, 'data', 'streams', '_definst_', 'notes.flv'));
    const r = await openMediaReader(src);
    const notes: unknown[] = [];
    for (let t = await r.next(); t; t = await r.next()) {
      if (t.type === 18) {
        const v = decodeAmf0All(t.payload);
        if (v[0] === 'onNote') notes.push(v[1]);
      }
    }
    await src.close();
    expect(notes).toEqual(['remember this']);
    c.close();
  }, 30_000);
});

describe('play2', () => {
  it('switches to another stream with Play.Switch and onPlayStatus TransitionComplete', async () => {
    const apps = makeTempDir('play2');
    fs.mkdirSync(path.join(apps, 'dyn', 'streams', '_definst_'), { recursive: true });
    fs.copyFileSync(clip, path.join(apps, 'dyn', 'streams', '_definst_', 'low.flv'));
    fs.copyFileSync(clip, path.join(apps, 'dyn', 'streams', '_definst_', 'high.flv'));
    const server = createServer({ appsDir: apps, port: 0 });
    const { url } = await server.listen();
    const c = await RtmpClient.connect(`${url}/dyn`);
    const s = await c.createStream();
    const data: string[] = [];
    s.onEvent = (ev) => {
      if (ev.kind === 'data' && ev.name === 'onPlayStatus') data.push((ev.args[0] as { code: string }).code);
    };
    await s.play('low', 0);
    c.sendCommandOn(s.id, 'play2', 0, [{ streamName: 'high', oldStreamName: 'low', start: 0, len: -1, transition: 'switch' }]);
    await s.waitFor('NetStream.Play.Switch');
    const until = Date.now() + 5000;
    while (!data.includes('NetStream.Play.TransitionComplete') && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(data).toContain('NetStream.Play.TransitionComplete');
    c.close();
    await server.close();
    removeDir(apps);
  });
});
