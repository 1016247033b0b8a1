/**
 * Virtual keys (FMS 2 "custom stream delivery"): `<appsDir>/Vhost.xml` VirtualKeys map a player's flashVer to
 * Client.virtualKey, VirtualDirectory Streams with a key serve each key its own folder for the same stream
 * name; the script can change a client's key, pass a key to Stream.length/Stream.play, and add or remove
 * mappings with Stream.setVirtualPath(virtualPath, directory, virtualKey). Real peers: rtmpdump (with its
 * own flashVer) downloading the stream, ffprobe reading what it got; our client; `ssas serve` refusing a
 * malformed Vhost.xml.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createServer } from '../../src/server/create';
import type { Server } from '../../src/server/server';
import { RtmpClient, type ClientStream } from '../../src/net/rtmp-client';
import { locateStream } from '../../src/server/stream-paths';
import { parseVhostConfig, virtualKeyFor, setVirtualPath, defaultVhostConfig } from '../../src/server/vhost-config';
import { parseAppConfig } from '../../src/script/app-config';
import { SSAS_BIN, killAllTracked, makeTempDir, makeTestClip, probeUrl, recordWithRtmpdump, removeDir, runTracked, videoStream } from '../support';

const apps = makeTempDir('vkeys');
const dirs = { on2: path.join(apps, 'media', 'on2'), sorenson: path.join(apps, 'media', 'sorenson'), plain: path.join(apps, 'media', 'plain'), deep: path.join(apps, 'media', 'deep') };
let server: Server;
let base: string;
const outside = makeTempDir('vk-outside');

const VHOST = `<?xml version="1.0" encoding="UTF-8"?>
<VirtualHost>
  <AppsDir>\${VHOST.APPSDIR}</AppsDir>
  <VirtualKeys>
    <Key from="WIN 8,0,0,0" to="WIN 9,0,59,0">A</Key>
    <Key from="WIN 6,0,0,0" to="WIN 7,0,55,0">B</Key>
    <Key from="MAC 6,0,0,0" to="MAC 7,0,55,0">B</Key>
    <Key from="" to=""></Key>
  </VirtualKeys>
  <VirtualDirectory>
    <Streams key="A">foo;${dirs.on2}</Streams>
    <Streams>B;foo;${dirs.sorenson}</Streams>
    <Streams key="">foo;${dirs.plain}</Streams>
    <Streams></Streams>
  </VirtualDirectory>
</VirtualHost>
`;

const MAIN = String.raw`
var seen = {};
application.onConnect = function (client, forceKey) {
  seen[client.id] = client.virtualKey;
  if (forceKey) client.virtualKey = forceKey;
  return true;
};
Client.prototype.keys = function () { return [seen[this.id], this.virtualKey]; };
Client.prototype.setKey = function (k) { this.virtualKey = k; return this.virtualKey; };
Client.prototype.lengths = function (name) {
  return [Stream.length(name), Stream.length(name, "A"), Stream.length(name, "B"), Stream.length(name, "Z")];
};
Client.prototype.map = function (vpath, dir, key) {
  Stream.get("any").setVirtualPath(vpath, dir, key);
  return true;
};
Client.prototype.serverPlay = function (out, name, key) {
  return Stream.get(out).play(name, 0, -1, true, null, key);
};
`;

const APP_XML = `<Application><StreamManager><VirtualDirectory><Streams>foo/deep;${dirs.deep}</Streams></VirtualDirectory></StreamManager></Application>`;

beforeAll(async () => {
  // Same name, three folders, told apart by size and length.
  const [big, small, mid] = await Promise.all([
    makeTestClip({ durationSec: 3, width: 320, height: 240, format: 'flv' }),
    makeTestClip({ durationSec: 2, width: 160, height: 120, format: 'flv' }),
    makeTestClip({ durationSec: 1, width: 240, height: 180, format: 'flv' }),
  ]);
  for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });
  fs.copyFileSync(big, path.join(dirs.on2, 'clip.flv'));
  fs.copyFileSync(small, path.join(dirs.sorenson, 'clip.flv'));
  fs.copyFileSync(mid, path.join(dirs.plain, 'clip.flv'));
  fs.copyFileSync(small, path.join(dirs.deep, 'clip.flv'));
  fs.mkdirSync(path.join(apps, 'vk'));
  fs.writeFileSync(path.join(apps, 'vk', 'main.asc'), MAIN);
  fs.writeFileSync(path.join(apps, 'vk', 'Application.xml'), APP_XML);
  // A second application: the mappings vk's script makes are vk's alone.
  fs.mkdirSync(path.join(apps, 'vk2'));
  fs.writeFileSync(path.join(apps, 'vk2', 'main.asc'), MAIN);
  // A folder no configuration maps, outside every application, with a clip in it.
  fs.mkdirSync(outside, { recursive: true });
  fs.copyFileSync(big, path.join(outside, 'clip.flv'));
  fs.writeFileSync(path.join(apps, 'Vhost.xml'), VHOST);
  server = createServer({ appsDir: apps, port: 0 });
  base = (await server.listen()).url;
}, 120_000);

afterAll(async () => {
  await killAllTracked();
  await server?.close();
  removeDir(apps);
  removeDir(outside);
});

/** Plays `name` and returns the width in its onMetaData, or the status code when play does not start. */
async function widthPlayed(c: RtmpClient, name: string, start = 0): Promise<number | string> {
  const s: ClientStream = await c.createStream();
  let width: number | undefined;
  s.onEvent = (ev) => {
    if (ev.kind === 'data' && ev.name === 'onMetaData') width = Number((ev.args[0] as Record<string, unknown>).width);
  };
  // start 0 = recorded only: a missing file is StreamNotFound, not a wait for a live stream.
  const info = await s.play(name, start);
  if (info.code !== 'NetStream.Play.Start') return info.code;
  const end = Date.now() + 5000;
  while (width === undefined && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return width ?? 'no metadata';
}

describe('Vhost.xml parsing and key lookup', () => {
  it('reads key ranges (first match, bounds inclusive, platform must match) and both Streams forms', () => {
    const cfg = parseVhostConfig(VHOST, path.join(apps, 'Vhost.xml'));
    expect(cfg.virtualKeys.map((k) => [k.platform, k.key])).toEqual([['WIN', 'A'], ['WIN', 'B'], ['MAC', 'B']]);
    expect(cfg.virtualDirectories).toEqual([
      { prefix: '/foo', dir: dirs.on2, key: 'A' },
      { prefix: '/foo', dir: dirs.sorenson, key: 'B' },
      { prefix: '/foo', dir: dirs.plain },
    ]);
    expect(virtualKeyFor(cfg, 'WIN 8,0,0,0')).toBe('A');
    expect(virtualKeyFor(cfg, 'WIN 9,0,59,0')).toBe('A');
    expect(virtualKeyFor(cfg, 'WIN 9,0,60,0')).toBe('');
    expect(virtualKeyFor(cfg, 'WIN 7,0,19,0')).toBe('B');
    expect(virtualKeyFor(cfg, 'WIN 7')).toBe('B');
    expect(virtualKeyFor(cfg, 'MAC 7,0,55,0')).toBe('B');
    expect(virtualKeyFor(cfg, 'LNX 8,0,0,0')).toBe('');
    expect(virtualKeyFor(cfg, 'win 8,0,1,0')).toBe('A');
    expect(virtualKeyFor(cfg, '')).toBe('');
    expect(virtualKeyFor(cfg, 'FMLE/3.0 (compatible; FMSc/1.0)')).toBe('');
  });

  it('refuses malformed files with a stable code', () => {
    const bad = (xml: string): string => {
      try {
        parseVhostConfig(xml, 'Vhost.xml');
        return 'parsed';
      } catch (err) {
        return (err as { code: string }).code;
      }
    };
    expect(bad('<VirtualHost><VirtualKeys><Key from="WIN 8" to="MAC 9">A</Key></VirtualKeys></VirtualHost>')).toBe('ERR_VHOST_CONFIG');
    expect(bad('<VirtualHost><VirtualKeys><Key from="8,0,0,0" to="WIN 9">A</Key></VirtualKeys></VirtualHost>')).toBe('ERR_VHOST_CONFIG');
    expect(bad('<VirtualHost><VirtualKeys><Key from="WIN 8" to="WIN 9">A:B</Key></VirtualKeys></VirtualHost>')).toBe('ERR_VHOST_CONFIG');
    expect(bad('<VirtualHost><VirtualDirectory><Streams>nodir</Streams></VirtualDirectory></VirtualHost>')).toBe('ERR_VHOST_CONFIG');
    expect(bad('<VirtualHost><VirtualDirectory><Streams>a;b;c;d</Streams></VirtualDirectory></VirtualHost>')).toBe('ERR_VHOST_CONFIG');
    expect(bad('<Application/>')).toBe('ERR_VHOST_CONFIG');
    expect(bad('<VirtualHost><VirtualKeys>')).toBe('ERR_XML_MALFORMED');
    expect(bad('<VirtualHost/>')).toBe('parsed');
  });

  it('looks a name up by the longest prefix, the asker\'s key before no key, never another key', () => {
    const st = { appDir: apps, instanceName: '_definst_', virtualDirectories: [...parseVhostConfig(VHOST, 'Vhost.xml').virtualDirectories] };
    const dirOf = (name: string, virtualKey?: string): string => path.dirname(locateStream({ ...st, virtualKey }, name).candidates[0]!);
    expect(dirOf('foo/clip', 'A')).toBe(dirs.on2);
    expect(dirOf('FOO/clip', 'B')).toBe(dirs.sorenson);
    expect(dirOf('foo/clip', 'Z')).toBe(dirs.plain);
    expect(dirOf('foo/clip')).toBe(dirs.plain);
    expect(dirOf('foo/sub/clip', 'A')).toBe(path.join(dirs.on2, 'sub'));
    expect(dirOf('bar/clip', 'A')).toBe(path.join(apps, 'streams', '_definst_', 'bar'));
    // The application's own mapping for a longer prefix wins over the server's shorter one.
    const app = parseAppConfig(APP_XML, path.join(apps, 'vk', 'Application.xml'));
    const both = { ...st, virtualDirectories: [...app.streams.virtualDirectories, ...st.virtualDirectories] };
    expect(path.dirname(locateStream({ ...both, virtualKey: 'A' }, 'foo/deep/clip').candidates[0]!)).toBe(dirs.deep);
    // A keyed mapping alone: other keys and keyless askers fall back to the instance folder.
    const onlyA = { ...st, virtualDirectories: st.virtualDirectories.filter((m) => m.key === 'A') };
    expect(path.dirname(locateStream({ ...onlyA, virtualKey: 'B' }, 'foo/clip').candidates[0]!)).toBe(path.join(apps, 'streams', '_definst_', 'foo'));
  });

  it('setVirtualPath replaces the mapping of one path and key, and an empty directory removes it', () => {
    const cfg = defaultVhostConfig();
    expect(setVirtualPath(cfg, '/bar/', 'x', 'A', apps)).toBe(true);
    expect(setVirtualPath(cfg, 'bar', 'y', 'A', apps)).toBe(true);
    expect(setVirtualPath(cfg, 'bar', 'z', '', apps)).toBe(true);
    expect(cfg.virtualDirectories).toEqual([
      { prefix: '/bar', dir: path.join(apps, 'y'), key: 'A' },
      { prefix: '/bar', dir: path.join(apps, 'z') },
    ]);
    expect(setVirtualPath(cfg, 'BAR', '', 'A', apps)).toBe(true);
    expect(cfg.virtualDirectories).toEqual([{ prefix: '/bar', dir: path.join(apps, 'z') }]);
    expect(setVirtualPath(cfg, '', 'x', 'A', apps)).toBe(false);
    expect(setVirtualPath(cfg, 'bar', 'x', 'A*', apps)).toBe(false);
    expect(cfg.virtualDirectories).toHaveLength(1);
  });

  it("a script's mapping is its application's own and stays inside the allowed roots (.., absolute, symlinks out refused)", () => {
    const cfg = defaultVhostConfig();
    const appDir = path.join(apps, 'vk');
    const scope = { app: 'vk', roots: [appDir, dirs.on2] };
    expect(setVirtualPath(cfg, 'a', 'media', '', appDir, scope)).toBe(true); // relative: inside the app folder
    expect(setVirtualPath(cfg, 'b', dirs.on2, '', appDir, scope)).toBe(true); // a folder the operator mapped
    expect(setVirtualPath(cfg, 'c', '../vk2', '', appDir, scope)).toBe(false);
    expect(setVirtualPath(cfg, 'c', outside, '', appDir, scope)).toBe(false);
    expect(setVirtualPath(cfg, 'c', '/etc', '', appDir, scope)).toBe(false);
    expect(setVirtualPath(cfg, 'c', 'media/../../vk2', '', appDir, scope)).toBe(false);
    const link = path.join(appDir, 'link-out');
    fs.symlinkSync(outside, link);
    try {
      expect(setVirtualPath(cfg, 'c', 'link-out', '', appDir, scope)).toBe(false);
      expect(setVirtualPath(cfg, 'c', 'link-out/sub', '', appDir, scope)).toBe(false);
    } finally {
      fs.unlinkSync(link);
    }
    expect(cfg.virtualDirectories).toEqual([]);
    expect(cfg.scriptMappings.get('vk')).toEqual([
      { prefix: '/a', dir: path.join(appDir, 'media') },
      { prefix: '/b', dir: dirs.on2 },
    ]);
    expect(cfg.scriptMappings.has('vk2')).toBe(false);
    expect(setVirtualPath(cfg, 'a', '', '', appDir, scope)).toBe(true);
    expect(setVirtualPath(cfg, 'b', '', '', appDir, scope)).toBe(true);
    expect(cfg.scriptMappings.has('vk')).toBe(false);
  });
});

describe('clients get their key from their flashVer and are served their folder', () => {
  it('our client: Client.virtualKey at onConnect, and play of the same name gives each key its own file', async () => {
    const a = await RtmpClient.connect(`${base}/vk`, { flashVer: 'WIN 8,0,22,0' });
    const b = await RtmpClient.connect(`${base}/vk`, { flashVer: 'WIN 7,0,19,0' });
    const n = await RtmpClient.connect(`${base}/vk`, { flashVer: 'LNX 10,0,32,18' });
    expect(await a.call('keys')).toEqual(['A', 'A']);
    expect(await b.call('keys')).toEqual(['B', 'B']);
    expect(await n.call('keys')).toEqual(['', '']);
    expect(await widthPlayed(a, 'foo/clip')).toBe(320);
    expect(await widthPlayed(b, 'foo/clip')).toBe(160);
    expect(await widthPlayed(n, 'foo/clip')).toBe(240);
    // The application's longer mapping applies to every key.
    expect(await widthPlayed(a, 'foo/deep/clip')).toBe(160);
    for (const c of [a, b, n]) c.close();
  });

  it('the script decides: a key set in onConnect or later changes what the client is served', async () => {
    const c = await RtmpClient.connect(`${base}/vk`, { flashVer: 'LNX 10,0,32,18', args: ['B'] });
    expect(await c.call('keys')).toEqual(['', 'B']);
    expect(await widthPlayed(c, 'foo/clip')).toBe(160);
    expect(await c.call('setKey', 'A')).toBe('A');
    expect(await widthPlayed(c, 'foo/clip')).toBe(320);
    // Keys with "*" or ":" are not legal: the assignment is ignored.
    expect(await c.call('setKey', 'A:B')).toBe('A');
    expect(await c.call('setKey', '*')).toBe('A');
    expect(await widthPlayed(c, 'foo/clip')).toBe(320);
    expect(await c.call('setKey', 'nobody')).toBe('nobody');
    expect(await widthPlayed(c, 'foo/clip')).toBe(240);
    c.close();
  });

  it('Stream.length and a server-side Stream.play take a virtual key', async () => {
    const c = await RtmpClient.connect(`${base}/vk`);
    const [plain, a, b, z] = (await c.call('lengths', 'foo/clip')) as number[];
    expect(plain).toBeCloseTo(1, 0);
    expect(a).toBeCloseTo(3, 0);
    expect(b).toBeCloseTo(2, 0);
    expect(z).toBeCloseTo(1, 0);
    expect(await c.call('serverPlay', 'fromA', 'foo/clip', 'A')).toBe(true);
    expect(await widthPlayed(c, 'fromA', -1)).toBe(320);
    c.close();
  });

  it('setVirtualPath adds a mapping for one key at run time and removes it again', async () => {
    const c = await RtmpClient.connect(`${base}/vk`, { flashVer: 'WIN 7,0,19,0' });
    const other = await RtmpClient.connect(`${base}/vk`, { flashVer: 'WIN 8,0,22,0' });
    expect(await widthPlayed(c, 'bar/clip')).toBe('NetStream.Play.StreamNotFound');
    expect(await c.call('map', 'bar', dirs.on2, 'B')).toBe(true);
    expect(await widthPlayed(c, 'bar/clip')).toBe(320);
    expect(await widthPlayed(other, 'bar/clip')).toBe('NetStream.Play.StreamNotFound');
    expect(await c.call('map', 'bar', '', 'B')).toBe(true);
    expect(await widthPlayed(c, 'bar/clip')).toBe('NetStream.Play.StreamNotFound');
    c.close();
    other.close();
  });

  it("a mapping applies to the application whose script made it; one to a folder outside the allowed roots is refused", async () => {
    const c = await RtmpClient.connect(`${base}/vk`, { flashVer: 'WIN 7,0,19,0' });
    const elsewhere = await RtmpClient.connect(`${base}/vk2`, { flashVer: 'WIN 7,0,19,0' });
    expect(await c.call('map', 'baz', dirs.on2, '')).toBe(true);
    expect(await widthPlayed(c, 'baz/clip')).toBe(320);
    expect(await widthPlayed(elsewhere, 'baz/clip')).toBe('NetStream.Play.StreamNotFound');
    // A folder nothing maps, outside every application: refused, nothing served from it.
    expect(await c.call('map', 'out', outside, '')).toBe(true);
    expect(await widthPlayed(c, 'out/clip')).toBe('NetStream.Play.StreamNotFound');
    expect(await c.call('map', 'baz', '', '')).toBe(true);
    c.close();
    elsewhere.close();
  });

  it('rtmpdump with its own flashVer downloads the file of its key (ffprobe reads the size)', async () => {
    for (const [flashVer, width] of [['WIN 9,0,45,0', 320], ['MAC 6,0,65,0', 160], ['LNX 11,2,202,0', 240]] as const) {
      const out = path.join(apps, `dump-${width}.flv`);
      const r = await recordWithRtmpdump(`${base}/vk/foo/clip`, out, { live: false, app: 'vk', playpath: 'foo/clip', stopAfterSec: 4, extra: ['--flashVer', flashVer] });
      expect(r.bytes).toBeGreaterThan(1000);
      const probe = await probeUrl(out);
      expect(videoStream(probe)?.width).toBe(width);
    }
  }, 60_000);
});

describe('a malformed Vhost.xml', () => {
  it('stops the server from starting, with the file, the element and the code', async () => {
    const bad = makeTempDir('vkeys-bad');
    try {
      fs.writeFileSync(path.join(bad, 'vhost.xml'), '<VirtualHost><VirtualKeys><Key from="WIN 8" to="WIN x">A</Key></VirtualKeys></VirtualHost>');
      const s = createServer({ appsDir: bad, port: 0 });
      await expect(s.listen()).rejects.toMatchObject({ code: 'ERR_VHOST_CONFIG' });
      await s.close();
      const r = await runTracked(process.execPath, [SSAS_BIN, 'serve', '--apps', bad, '--port', '0'], { timeoutMs: 20_000 });
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/vhost\.xml: <VirtualHost\/VirtualKeys\/Key> needs from and to .*ERR_VHOST_CONFIG/is);
    } finally {
      removeDir(bad);
    }
  }, 30_000);
});
