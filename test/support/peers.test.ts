/**
 * Self-test of the peer harness against the reference servers alone (no ssas): nginx-rtmp and
 * node-media-server fed by ffmpeg, read by ffprobe, ffmpeg, rtmpdump and python-librtmp.
 * Set SSAS_SUPPORT_TIMINGS=1 to print peer start-up times.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  audioStream,
  available,
  freePort,
  killAllTracked,
  librtmpClient,
  makeTempDir,
  makeTestClip,
  parseRate,
  pidAlive,
  probeUrl,
  publishWithFfmpeg,
  readWithFfmpeg,
  recordWithRtmpdump,
  removeDir,
  requirePeer,
  spawnTracked,
  spawnedPidHistory,
  startNginxRtmp,
  startNodeMediaServer,
  videoStream,
  waitForPublishStart,
  PEER_NAMES,
  type NginxRtmp,
  type NodeMediaServer,
  type TrackedProcess,
} from './index';

const timings: Record<string, number> = {};
const scratch = makeTempDir('support-selftest');

afterAll(async () => {
  await killAllTracked();
  removeDir(scratch);
  if (process.env.SSAS_SUPPORT_TIMINGS) console.log(JSON.stringify(timings, null, 2));
  const leftovers = spawnedPidHistory().filter(pidAlive);
  expect(leftovers).toEqual([]);
});

describe('harness basics', () => {
  it('finds every peer (CI installs them all, so none may be missing)', () => {
    const found = available();
    for (const name of PEER_NAMES) expect([name, found[name]]).toEqual([name, expect.any(String)]);
    expect(requirePeer('python3')).toBe('/usr/bin/python3');
  });

  it('freePort returns distinct usable ports', async () => {
    const [a, b] = await Promise.all([freePort(), freePort()]);
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
  });

  it('kill() escalates to SIGKILL when SIGTERM is ignored; waitForOutput sees early output', async () => {
    const proc = spawnTracked(requirePeer('python3'), [
      '-c',
      'import signal,sys,time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint("ready", flush=True)\ntime.sleep(60)',
    ]);
    await proc.waitForOutput(/ready/, 5000);
    await expect(proc.waitForOutput(/never/, 50)).rejects.toThrow(/no output matching/);
    const started = Date.now();
    const info = await proc.kill(300);
    expect(info.signal).toBe('SIGKILL');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(pidAlive(proc.pid)).toBe(false);
  });

  it('reports a missing binary as an exit with an error, not a throw', async () => {
    const proc = spawnTracked('/nonexistent/binary', []);
    const info = await proc.exited;
    expect(info.error?.message).toMatch(/ENOENT/);
    await expect(proc.waitForOutput(/x/, 100)).rejects.toThrow(/exited/);
  });
});

describe('media fixtures and the AMF0 codec of the Python client', () => {
  it('makes flv, mp4 and mp3 clips that ffprobe recognises', async () => {
    const [flv, mp4, mp3] = await Promise.all([
      makeTestClip({ durationSec: 2, width: 160, height: 120, fps: 10, format: 'flv' }),
      makeTestClip({ durationSec: 2, width: 160, height: 120, fps: 10, format: 'mp4' }),
      makeTestClip({ durationSec: 2, format: 'mp3' }),
    ]);
    expect(await makeTestClip({ durationSec: 2, width: 160, height: 120, fps: 10, format: 'flv' })).toBe(flv);
    const [pf, pm, p3] = await Promise.all([probeUrl(flv), probeUrl(mp4), probeUrl(mp3)]);
    expect(pf.format.format_name).toBe('flv');
    expect(videoStream(pf)).toMatchObject({ codec_name: 'h264', width: 160, height: 120 });
    expect(parseRate(videoStream(pf)?.r_frame_rate)).toBe(10);
    expect(pm.format.format_name).toMatch(/mp4/);
    expect(audioStream(pm)?.codec_name).toBe('aac');
    expect(p3.streams.map((s) => s.codec_name)).toEqual(['mp3']);
    expect(Number(p3.format.duration)).toBeCloseTo(2, 0);
  });

  it('round-trips AMF0 values through the Python encoder and decoder', async () => {
    const values = [1.5, 'é', null, true, [1, 'a'], { a: { b: 2 } }, { $ecma: { k: 1 } }, { $undefined: true }, { $date: 1000 }];
    const code = [
      'import json, sys',
      `sys.path.insert(0, ${JSON.stringify(path.join(__dirname, 'python'))})`,
      'import rtmp_client as c',
      'vals = json.loads(sys.stdin.read())',
      'data = b"".join(c.amf0_encode(v) for v in vals)',
      'print(json.dumps([c.amf0_decode_all(data, True), c.amf0_decode_all(data, False)]))',
    ].join('\n');
    const proc = spawnTracked(requirePeer('python3'), ['-c', code], {
      input: JSON.stringify(values),
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    });
    const info = await proc.exited;
    expect(info.code).toBe(0);
    const [strict, loose] = JSON.parse(proc.stdout()) as unknown[][];
    expect(strict).toEqual(values);
    expect(loose.slice(6)).toEqual([{ k: 1 }, null, { $date: 1000 }]);
  });
});

describe('nginx-rtmp', () => {
  let nginx: NginxRtmp;
  let publisher: TrackedProcess;

  beforeAll(async () => {
    const t0 = Date.now();
    nginx = await startNginxRtmp();
    timings.nginxStartMs = nginx.startupMs;
    timings.nginxStartTotalMs = Date.now() - t0;
    // Live-encoded test pattern; runs until afterAll kills it.
    publisher = publishWithFfmpeg(nginx.url('live', 'pattern'));
    const t1 = Date.now();
    await waitForPublishStart(publisher);
    timings.ffmpegPublishStartMs = Date.now() - t1;
  });

  afterAll(async () => {
    await publisher?.kill();
    await nginx?.stop();
  });

  it('probeUrl sees h264 + aac 320x240 at 25 fps', async () => {
    const t = Date.now();
    const probe = await probeUrl(nginx.url('live', 'pattern'));
    timings.ffprobeLiveMs = Date.now() - t;
    const v = videoStream(probe);
    const a = audioStream(probe);
    expect(v).toMatchObject({ codec_name: 'h264', width: 320, height: 240 });
    expect(parseRate(v?.r_frame_rate)).toBe(25);
    expect(a).toMatchObject({ codec_name: 'aac', sample_rate: '44100' });
  });

  it('rtmpdump records a few seconds and ffprobe reads the FLV', async () => {
    const out = path.join(scratch, 'nginx-rtmpdump.flv');
    const t = Date.now();
    const rec = await recordWithRtmpdump(nginx.url('live', 'pattern'), out, { stopAfterSec: 2 });
    timings.rtmpdump2sMs = Date.now() - t;
    expect(rec.timedOut).toBe(false);
    expect(rec.bytes).toBeGreaterThan(10_000);
    expect(fs.readFileSync(out).subarray(0, 3).toString('latin1')).toBe('FLV');
    const probe = await probeUrl(out);
    // ffprobe calls rtmpdump's live captures 'live_flv' (timestamps do not start at 0).
    expect(probe.format.format_name).toMatch(/^(live_)?flv$/);
    expect(videoStream(probe)?.codec_name).toBe('h264');
    expect(audioStream(probe)?.codec_name).toBe('aac');
    expect(Number(probe.format.duration)).toBeGreaterThan(1);
  });

  it('readWithFfmpeg decodes frames from the live stream', async () => {
    const res = await readWithFfmpeg(nginx.url('live', 'pattern'), { durationSec: 2 });
    expect(res.code).toBe(0);
    // -t counts from the first packet (audio); decodable video begins at the next keyframe, so up to
    // one GOP (1 s = 25 frames) of the 2 s can be missing.
    expect(res.frames).toBeGreaterThanOrEqual(15);
    expect(res.video.frames).toBeGreaterThanOrEqual(15);
    expect(res.audio.packets).toBeGreaterThan(60);
  });

  it('python-librtmp reports a refused connect (nginx just closes on an unknown app)', async () => {
    const url = nginx.url('no-such-app');
    const res = await librtmpClient({ url, app: 'no-such-app', tcUrl: url, timeoutSec: 3 });
    expect(res.code).toBe(3);
    expect(res.connect).toMatchObject({ ok: false, name: null, reason: expect.stringMatching(/closed/) });
  });

  it('python-librtmp connects with extra connect args, gets Connect.Success and plays', async () => {
    const url = nginx.url('live');
    const res = await librtmpClient({
      url,
      app: 'live',
      tcUrl: url,
      connectArgs: ['user', 42, { role: 'tester' }, null, true],
      play: { stream: 'pattern', durationSec: 2 },
    });
    expect(res.code).toBe(0);
    expect(res.connect).toMatchObject({
      ok: true,
      name: '_result',
      info: { level: 'status', code: 'NetConnection.Connect.Success' },
    });
    // What nginx-rtmp 1.2.x answers: fmsVer FMS/3,0,1,123, capabilities 31, objectEncoding echoed.
    expect(res.connect?.properties).toMatchObject({ fmsVer: expect.stringMatching(/^FMS\//) });
    const playStart = res.commands.find((c) => c.name === 'onStatus' && c.args[0]?.code === 'NetStream.Play.Start');
    expect(playStart).toBeDefined();
    expect(res.playStats).toMatchObject({ stream: 'pattern' });
    expect(res.playStats?.video).toBeGreaterThan(20);
    expect(res.playStats?.audio).toBeGreaterThan(20);
  });
});

describe('node-media-server', () => {
  let nms: NodeMediaServer;

  beforeAll(async () => {
    const t0 = Date.now();
    nms = await startNodeMediaServer();
    timings.nmsStartMs = nms.startupMs;
    timings.nmsStartTotalMs = Date.now() - t0;
  });

  afterAll(async () => {
    await nms?.stop();
  });

  it('publishes a 5 s clip file that ffprobe reads back as h264 + aac 320x240', async () => {
    const t = Date.now();
    const clip = await makeTestClip({ durationSec: 5, format: 'flv' });
    timings.makeClip5sMs = Date.now() - t;
    const publisher = publishWithFfmpeg(nms.url('live', 'clip'), { file: clip });
    await waitForPublishStart(publisher);
    const probe = await probeUrl(nms.url('live', 'clip'));
    expect(videoStream(probe)).toMatchObject({ codec_name: 'h264', width: 320, height: 240 });
    expect(parseRate(videoStream(probe)?.r_frame_rate)).toBe(25);
    expect(audioStream(probe)?.codec_name).toBe('aac');
    const info = await publisher.exited; // -re paced, no loop: ends by itself after ~5 s
    expect(info.code).toBe(0);
  });

  it('python-librtmp connects to node-media-server', async () => {
    const url = nms.url('live');
    const res = await librtmpClient({ url, app: 'live', tcUrl: url, connectArgs: ['x'] });
    expect(res.connect).toMatchObject({ ok: true, info: { code: 'NetConnection.Connect.Success' } });
  });
});
