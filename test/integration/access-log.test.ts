/**
 * FMS's access log through the real `ssas serve --logs DIR`: a scripted session of clients (a missing
 * application, a rejected and an accepted client, live publish and play, a name already published, a stream
 * not found, a recording, disconnects) gives `DIR/access.00.log` with FMS's W3C header and fields, one line
 * per event with its x-status, and one short line per event on the console at `info`, coloured by status.
 */
import * as fs from 'fs';
import * as path from 'path';
import { RtmpClient, ConnectError } from '../../src/net/rtmp-client';
import { ACCESS_FIELDS } from '../../src/server/access-log';
import { SSAS_BIN, killAllTracked, makeTempDir, removeDir, spawnTracked, until, type TrackedProcess } from '../support';

let tmp: string;
let logs: string;
let server: TrackedProcess;
let base: string;

beforeAll(async () => {
  tmp = makeTempDir('access-log');
  logs = path.join(tmp, 'logs');
  const apps = path.join(tmp, 'apps');
  fs.mkdirSync(path.join(apps, 'gate'), { recursive: true });
  // A script that decides later (connect-pending), rejects one name and accepts the others.
  fs.writeFileSync(
    path.join(apps, 'gate', 'main.asc'),
    [
      'application.onConnect = function (client, name) {',
      '  if (name == "mallory") { this.rejectConnection(client, { message: "go away" }); return; }',
      '  this.acceptConnection(client);',
      '};',
    ].join('\n'),
  );
  server = spawnTracked(process.execPath, ['--no-node-snapshot', SSAS_BIN, 'serve', '--port', '0', '--apps', apps, '--logs', logs], {
    env: { ...process.env, FORCE_COLOR: '1' },
  });
  await server.waitForOutput(/ssas listening on rtmp:\/\/\S+\n/, 20_000);
  // eslint-disable-next-line no-control-regex
  base = /ssas listening on (rtmp:\/\/[^\s\u001b]+)/.exec(server.stdout())![1]!;
}, 30_000);

afterAll(async () => {
  await killAllTracked();
  removeDir(tmp);
});

/** The server's stderr without colour codes. */
// eslint-disable-next-line no-control-regex
const serverLog = (): string => server.stderr().replace(/\u001b\[[0-9;]*m/g, '');

const frame = (key: boolean, i: number): Buffer => Buffer.concat([Buffer.from([key ? 0x17 : 0x27, 1, 0, 0, 0]), Buffer.alloc(200, i & 0xff)]);

it('writes one line per client event with FMS fields and status codes, and prints each on the console', async () => {
  const agent = 'WIN 10,0,32,18';
  // 1. An application that does not exist.
  const missing = await RtmpClient.connect(`${base}/nosuch`).catch((e: unknown) => e);
  expect(missing).toBeInstanceOf(ConnectError);
  // 2. Rejected by the script.
  const rejected = await RtmpClient.connect(`${base}/gate`, { args: ['mallory'], flashVer: agent }).catch((e: unknown) => e);
  expect(rejected).toBeInstanceOf(ConnectError);
  // 3. Accepted: publish live, another client plays it, asks for a missing recording, a third finds the name taken.
  const alice = await RtmpClient.connect(`${base}/gate/room1`, { args: ['alice'], flashVer: agent, swfUrl: 'http://example.com/player.swf' });
  const bob = await RtmpClient.connect(`${base}/gate/room1`, { args: ['bob'], flashVer: agent });
  const pub = await alice.createStream();
  await pub.publish('cam?token=abc');
  for (let i = 0; i < 10; i++) pub.sendMedia(9, i * 40, frame(i === 0, i));
  const play = await bob.createStream();
  expect((await play.play('cam')).code).toBe('NetStream.Play.Start');
  const nf = await bob.createStream();
  expect((await nf.play('nothing', 0)).code).toBe('NetStream.Play.StreamNotFound');
  const carol = await RtmpClient.connect(`${base}/gate/room1`, { args: ['carol'] });
  const dup = await carol.createStream();
  await expect(dup.publish('cam')).rejects.toThrow();
  play.closeStream();
  await until(() => /access stop 200/.test(serverLog()), 10_000, 'stop', () => server.stderr());
  pub.closeStream();
  // 4. A recording.
  const rec = await alice.createStream();
  await rec.publish('clip', 'record');
  for (let i = 0; i < 25; i++) rec.sendMedia(9, i * 40, frame(i % 10 === 0, i));
  await until(() => /access record 200/.test(serverLog()), 10_000, 'record', () => server.stderr());
  await new Promise((r) => setTimeout(r, 200));
  rec.closeStream();
  await until(() => /access unpublish 200 gate\/room1 clip/.test(serverLog()), 10_000, 'unpublish', () => server.stderr());
  // 5. Everyone leaves.
  alice.close();
  bob.close();
  carol.close();
  await until(() => (serverLog().match(/disconnect 200/g) ?? []).length >= 3, 10_000, 'disconnects', () => server.stderr());

  server.child.kill('SIGTERM');
  expect((await server.exited).code).toBe(0);

  const text = fs.readFileSync(path.join(logs, 'access.00.log'), 'utf8');
  const lines = text.split('\n').filter((l) => l !== '');
  expect(lines[0]).toBe('#Version: 1.0');
  expect(lines[1]).toMatch(/^#Start-Date: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  expect(lines[2]).toMatch(/^#Software: Flash Media Server 3,5,7,7009 \(ssas\)$/);
  expect(lines[4]).toBe(`#Fields: ${ACCESS_FIELDS.join('\t')}`);
  expect(lines[4]).toMatch(/^#Fields: x-event\tx-category\tdate\ttime\ttz\tx-ctx\ts-ip\tx-pid\t.*\tx-status\tc-ip\tc-proto\ts-uri\t.*\tc-client-id\tcs-bytes\tsc-bytes\t.*\tx-sname\t/);
  const records = lines
    .filter((l) => !l.startsWith('#'))
    .map((l) => {
      const v = l.split('\t');
      expect(v).toHaveLength(ACCESS_FIELDS.length);
      return Object.fromEntries(ACCESS_FIELDS.map((k, i) => [k, v[i]!])) as Record<(typeof ACCESS_FIELDS)[number], string>;
    });
  const summary = records.map((r) => `${r['x-event']} ${r['x-status']} ${r['x-app']}/${r['x-appinst']} ${r['x-sname']}`.trim());
  expect(summary).toEqual([
    'connect 404 nosuch/_definst_ -',
    'connect-pending 100 gate/_definst_ -',
    'connect 401 gate/_definst_ -',
    'connect-pending 100 gate/room1 -',
    'connect 200 gate/room1 -',
    'connect-pending 100 gate/room1 -',
    'connect 200 gate/room1 -',
    'publish 200 gate/room1 cam',
    'play 200 gate/room1 cam',
    'play 404 gate/room1 nothing',
    'connect-pending 100 gate/room1 -',
    'connect 200 gate/room1 -',
    'publish 409 gate/room1 cam',
    'stop 200 gate/room1 cam',
    'unpublish 200 gate/room1 cam',
    'publish 200 gate/room1 clip',
    'record 200 gate/room1 clip',
    'recordstop 200 gate/room1 clip',
    'unpublish 200 gate/room1 clip',
    'disconnect 200 gate/room1 -',
    'disconnect 200 gate/room1 -',
    'disconnect 200 gate/room1 -',
  ]);
  const alicesConnect = records[4]!;
  expect(alicesConnect).toMatchObject({
    'x-category': 'session',
    'c-ip': '127.0.0.1',
    'c-proto': 'rtmp',
    's-uri': `${base}/gate/room1`,
    'cs-uri-stem': `${base}/gate/room1`,
    'c-user-agent': agent,
    'c-referrer': 'http://example.com/player.swf',
    'x-adaptor': '_defaultRoot_',
    'x-vhost': '_defaultVHost_',
    'c-connect-type': 'normal',
    'x-pid': String(server.pid),
  });
  expect(alicesConnect['c-client-id']).toMatch(/^\w+$/);
  expect(alicesConnect.date).toMatch(/^\d{4}-\d\d-\d\d$/);
  expect(alicesConnect.time).toMatch(/^\d\d:\d\d:\d\d$/);
  expect(Number(alicesConnect['cs-bytes'])).toBeGreaterThan(0);
  // The publish carries the stream's query string and the stream URI; the same client id as the connect.
  const publish = records[7]!;
  expect(publish).toMatchObject({ 'x-category': 'stream', 'x-sname-query': 'token=abc', 'x-suri': `${base}/gate/room1/cam?token=abc`, 'c-client-id': alicesConnect['c-client-id'] });
  const unpublish = records[14]!;
  expect(Number(unpublish['cs-stream-bytes'])).toBeGreaterThan(2000);
  expect(Number(records[13]!['sc-stream-bytes'])).toBeGreaterThan(2000);
  const recordstop = records[17]!;
  expect(recordstop['x-file-name']).toBe(path.join(tmp, 'apps', 'gate', 'streams', 'room1', 'clip.flv'));
  expect(recordstop['x-file-ext']).toBe('flv');
  expect(Number(recordstop['x-file-size'])).toBeGreaterThan(5000);
  const lastDisconnect = records[21]!;
  expect(Number(lastDisconnect['x-duration'])).toBeGreaterThanOrEqual(0);
  expect(Number(lastDisconnect['sc-bytes'])).toBeGreaterThan(0);

  // The console: one short line per event at info, the status coloured (green 2xx, yellow 1xx/3xx, red 4xx/5xx).
  // eslint-disable-next-line no-control-regex
  const plain = server.stderr().replace(/\u001b\[[0-9;]*m/g, '');
  expect(plain).toMatch(/info {2}access connect 404 nosuch\/_definst_ 127\.0\.0\.1 \(\(_defaultRoot_, _defaultVHost_\) : Application \(nosuch\) is not defined\.\)\n/);
  expect(plain).toMatch(/info {2}access connect 200 gate\/room1 \w+ 127\.0\.0\.1 \(WIN 10,0,32,18\)\n/);
  expect(plain).toMatch(/info {2}access publish 200 gate\/room1 cam \w+ 127\.0\.0\.1\n/);
  expect(plain).toMatch(/access record 200 gate\/room1 clip \w+ 127\.0\.0\.1 -> .*clip\.flv\n/);
  expect(server.stderr()).toMatch(/\u001b\[31mconnect 404\u001b\[39m/);
  expect(server.stderr()).toMatch(/\u001b\[32mconnect 200\u001b\[39m/);
  expect(server.stderr()).toMatch(/\u001b\[33mconnect-pending 100\u001b\[39m/);
}, 60_000);
