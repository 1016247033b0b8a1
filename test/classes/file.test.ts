/**
 * The File class (issue 14) in an FMS-style application driven by our RTMP client: every documented
 * property and method on real files, virtual directories from Application.xml, files left open closed at
 * unload, and confinement: a table of escape attempts (.., /../, encoded, symlinks out, very long, NUL,
 * backslash, drive letters) all refused with a coded warning to application.onStatus and false, never a read
 * or a write outside; a recursive remove never leaves the application folder.
 */
import * as fs from 'fs';
import * as path from 'path';
import { monitorEventLoopDelay } from 'perf_hooks';
import { startScriptApps, type ScriptApps } from '../support/script-app';
import { makeTempDir, removeDir, until } from '../support';
import type { RtmpClient } from '../../src/net/rtmp-client';

const MAIN = String.raw`
var statuses = [];
application.onStatus = function (info) { statuses.push(info.details + " " + info.description); };
Client.prototype.statuses = function () { var s = statuses; statuses = []; return s; };

Client.prototype.eval = function (code) { return eval(code); };

Client.prototype.readLines = function (p) {
  var f = new File(p);
  if (!f.open("text", "read")) return null;
  var lines = [];
  while (!f.eof()) lines.push(f.readln());
  f.close();
  return lines;
};

Client.prototype.countLines = function (p) {
  var f = new File(p);
  if (!f.open("text", "read")) return -1;
  var n = 0;
  while (f.readln() !== null) n++;
  f.close();
  return n;
};

Client.prototype.props = function (p) {
  var f = new File(p);
  return { name: f.name, exists: f.exists, isFile: f.isFile, isDirectory: f.isDirectory, length: f.length,
    canRead: f.canRead, canWrite: f.canWrite, isOpen: f.isOpen, str: f.toString(),
    created: f.creationTime instanceof Date, modified: f.lastModified instanceof Date ? f.lastModified.getTime() : null };
};

var leftOpen = null;
Client.prototype.leaveOpen = function (p) {
  leftOpen = new File(p);
  leftOpen.open("text", "append");
  return leftOpen.write("written before unload\n");
};
Client.prototype.shutdown = function () { application.shutdown(); return true; };

// The attempts: each must fail without touching anything outside the application folder.
Client.prototype.escape = function (p) {
  var f = new File(p);
  var out = {};
  out.read = f.open("text", "read") ? f.readAll() : false;
  if (f.isOpen) f.close();
  out.write = f.open("text", "create") ? f.write("pwned") : false;
  if (f.isOpen) f.close();
  out.exists = f.exists;
  out.list = f.list();
  out.remove = f.remove(true);
  out.mkdir = f.mkdir("x");
  out.copy = new File("/data/a.txt").copyTo(p);
  out.rename = new File("/data/victim.txt").renameTo(p);
  return out;
};
`;

let apps: ScriptApps;
let c: RtmpClient;
let outside: string;
let appDir: string;

beforeAll(async () => {
  outside = makeTempDir('outside');
  fs.writeFileSync(path.join(outside, 'secret.txt'), 'secret\n');
  fs.mkdirSync(path.join(outside, 'dir'));
  fs.writeFileSync(path.join(outside, 'dir', 'keep.txt'), 'keep\n');
  const media = path.join(outside, 'media');
  fs.mkdirSync(media);
  fs.writeFileSync(path.join(media, 'list.txt'), 'clip1\nclip2\n');
  apps = await startScriptApps({
    'fileapp/main.asc': MAIN,
    'fileapp/Application.xml': `<Application><JSEngine><FileObject><VirtualDirectory>/videos;${media}</VirtualDirectory></FileObject></JSEngine></Application>`,
    'fileapp/data/a.txt': 'line one\r\nline two é\nlast line without newline',
    'fileapp/data/victim.txt': 'victim\n',
    'fileapp/data/bin.dat': Buffer.from([0, 1, 2, 254, 255]),
    'fileapp/allowedHTMLdomains.txt': 'example.com\nlocalhost\n',
  });
  appDir = path.join(apps.apps, 'fileapp');
  // Links that point out of the application folder, and one that stays inside.
  fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(appDir, 'data', 'link-out.txt'));
  fs.symlinkSync(path.join(outside, 'dir'), path.join(appDir, 'data', 'dir-out'));
  fs.symlinkSync(path.join(appDir, 'data', 'a.txt'), path.join(appDir, 'data', 'link-in.txt'));
  c = await apps.connect('fileapp');
});

afterAll(async () => {
  await apps?.close();
  removeDir(outside);
});

const ev = (code: string): Promise<unknown> => c.call('eval', code);

beforeEach(async () => {
  await c.call('statuses');
});

describe('File: reading and writing', () => {
  it('reads lines (CRLF and LF, last line without newline, UTF-8) the way the stock live app reads its domain lists', async () => {
    expect(await c.call('readLines', 'data/a.txt')).toEqual(['line one', 'line two é', 'last line without newline']);
    expect(await c.call('readLines', '/allowedHTMLdomains.txt')).toEqual(['example.com', 'localhost']);
    expect(await c.call('readLines', '/videos/list.txt')).toEqual(['clip1', 'clip2']);
  });

  it('properties of files and folders', async () => {
    expect(await c.call('props', '/data/a.txt')).toMatchObject({ name: '/data/a.txt', exists: true, isFile: true, isDirectory: false, length: 47, canRead: true, canWrite: true, isOpen: false, str: '/data/a.txt', created: true });
    expect(await c.call('props', '/data')).toMatchObject({ exists: true, isFile: false, isDirectory: true, length: 6 });
    expect(await c.call('props', '/nothing.txt')).toMatchObject({ exists: false, isFile: false, length: 0, created: false, modified: null });
    expect(await c.call('props', '/')).toMatchObject({ name: '/', isDirectory: true });
  });

  it('write, writeln, writeAll, append, create, readAll, read, readChar, seek, position, eof, flush, length', async () => {
    const r = (await ev(`
      var f = new File("/out/log.txt");
      new File("/").mkdir("out");
      var o = [];
      o.push(f.open("text", "create"), f.isOpen, f.mode, f.canWrite, f.canReplace);
      o.push(f.write("a", 1, true), f.writeln(" and ", "b"), f.writeAll(["x", "ü"]), f.position, f.length, f.flush());
      f.close();
      o.push(f.length);
      f.open("text", "append");
      f.writeln("appended");
      f.close();
      f.open("utf8", "read");
      o.push(f.readAll());
      f.position = 0;
      o.push(f.read(4), f.readChar(), f.seek(2), f.position, f.readln(), f.eof());
      f.position = f.length;
      o.push(f.eof(), f.readln(), f.read(3), f.readChar());
      f.close();
      f.open("text", "readWrite");
      f.position = 2;
      f.write("XY");
      f.position = 0;
      o.push(f.readln());
      f.close();
      o;`)) as unknown[];
    expect(r.slice(0, 5)).toEqual([true, true, 'create', true, true]);
    expect(r.slice(5, 11)).toEqual([true, true, true, 18, 18, true]);
    expect(r[11]).toBe(18);
    expect(r[12]).toEqual(['a1true and b', 'x', 'ü', 'appended']);
    expect(r.slice(13, 19)).toEqual(['a1tr', 'u', 7, 7, 'and b', false]);
    expect(r.slice(19, 23)).toEqual([true, null, '', null]);
    expect(r[23]).toBe('a1XYue and b');
    expect(fs.readFileSync(path.join(appDir, 'out', 'log.txt'), 'utf8')).toBe('a1XYue and b\nx\nü\nappended\n');
  });

  it('lines across 64 KB read buffers: a 200 KB line, thousands of short ones, ASCII and not, CRLF', async () => {
    const lines: string[] = ['x'.repeat(200_000)];
    for (let i = 0; i < 5000; i++) lines.push(i % 7 === 0 ? `ligne ${i} é€😀` : `line ${i}`);
    fs.writeFileSync(path.join(appDir, 'data', 'big.txt'), lines.join('\r\n') + '\n');
    const got = (await c.call('readLines', '/data/big.txt')) as string[];
    expect(got.length).toBe(lines.length);
    expect(got[0]!.length).toBe(200_000);
    expect(got).toEqual(lines);
    fs.unlinkSync(path.join(appDir, 'data', 'big.txt'));
  });

  it('reading 30 MB line by line does not hold up the event loop (the file system work is asynchronous)', async () => {
    const line = 'a line of the big file, long enough to matter: 0123456789\n';
    const n = Math.ceil((30 * 1024 * 1024) / line.length);
    fs.writeFileSync(path.join(appDir, 'data', 'huge.txt'), line.repeat(n));
    const h = monitorEventLoopDelay({ resolution: 10 });
    h.enable();
    expect(await c.call('countLines', '/data/huge.txt')).toBe(n);
    h.disable();
    fs.unlinkSync(path.join(appDir, 'data', 'huge.txt'));
    // The event loop kept turning: no single stall near the time the whole read took.
    expect(h.max / 1e6).toBeLessThan(250);
  });

  it('binary mode: readByte, writeByte, read of bytes, readBytes/writeBytes with a ByteArray', async () => {
    const r = (await ev(`
      var f = new File("/data/bin.dat");
      f.open("binary", "read");
      var o = [f.readByte(), f.readByte(), f.read(2).charCodeAt(1)];
      var ba = new ByteArray();
      f.readBytes(ba);
      o.push(ba.length, ba[0], f.readByte(), f.eof());
      f.close();
      var w = new File("/out/copy.dat");
      w.open("binary", "create");
      w.writeByte(300); w.writeBytes(ba); w.write("\u00ff\u0001");
      w.close();
      o.push(new File("/out/copy.dat").length);
      o;`)) as unknown[];
    expect(r).toEqual([0, 1, 254, 1, 255, -1, true, 4]);
    expect([...fs.readFileSync(path.join(appDir, 'out', 'copy.dat'))]).toEqual([44, 255, 255, 1]);
  });

  it('list with a filter, mkdir, copyTo, renameTo, remove, remove(recursive)', async () => {
    const r = (await ev(`
      var o = [];
      var d = new File("/data");
      o.push(d.list().length, d.list(function (name) { return name.indexOf(".txt") > 0; }).map(function (f) { return f.name; }));
      o.push(new File("/").mkdir("tree"), new File("/tree").mkdir("sub"), new File("/tree").mkdir("sub"));
      o.push(new File("/data/a.txt").copyTo("/tree/sub/a.txt"), new File("/tree/sub/a.txt").exists);
      var m = new File("/tree/sub/a.txt");
      o.push(m.renameTo("/tree/b.txt"), m.name, new File("/tree/sub/a.txt").exists, new File("/data/victim.txt").renameTo("/tree/b.txt"));
      o.push(new File("/tree").remove(), new File("/tree").remove(true), new File("/tree").exists);
      o.push(new File("/").remove(true), new File("/").renameTo("/x"), new File("/videos").remove(true));
      o;`)) as unknown[];
    expect(r[0]).toBe(6);
    expect(r[1]).toEqual(['/data/a.txt', '/data/link-in.txt', '/data/link-out.txt', '/data/victim.txt']);
    expect(r.slice(2, 5)).toEqual([true, true, false]);
    expect(r.slice(5, 7)).toEqual([true, true]);
    expect(r.slice(7, 11)).toEqual([true, '/tree/b.txt', false, false]);
    expect(r.slice(11, 14)).toEqual([false, true, false]);
    expect(r.slice(14)).toEqual([false, false, false]);
    const warnings = (await c.call('statuses')) as string[];
    expect(warnings.some((w) => w.startsWith('ERR_FILE_EXISTS'))).toBe(true);
    expect(warnings.filter((w) => w.startsWith('ERR_FILE_ROOT'))).toHaveLength(3);
    expect(fs.existsSync(appDir)).toBe(true);
    expect(fs.readFileSync(path.join(outside, 'media', 'list.txt'), 'utf8')).toBe('clip1\nclip2\n');
  });

  it('bad calls return false with a warning, never throw', async () => {
    const r = (await ev(`
      var f = new File("/data/a.txt");
      [f.open("text", "sideways"), f.open("json", "read"), f.readln(), f.write("x"), f.close(), f.flush(), f.readByte(),
       new File("/missing.txt").open("text", "read"), new File("/data").open("text", "read"),
       (function () { f.open("text", "read"); var w = f.write("no"); f.close(); return w; })()]`)) as unknown[];
    expect(r).toEqual([false, false, null, false, false, false, -1, false, false, false]);
    const warnings = (await c.call('statuses')) as string[];
    expect(warnings.map((w) => w.split(' ')[0])).toEqual(['ERR_FILE_MODE', 'ERR_FILE_MODE', 'ERR_FILE_NOT_OPEN', 'ERR_FILE_NOT_OPEN', 'ERR_FILE_NOT_OPEN', 'ERR_FILE_NOT_FOUND', 'ERR_FILE_MODE', 'ERR_FILE_MODE']);
  });
});

describe('File: confinement', () => {
  const attempts: [string, string, string][] = (
    [
    ['../outside.txt', 'ERR_FILE_PATH_DENIED'],
    ['/../../etc/passwd', 'ERR_FILE_PATH_DENIED'],
    ['/data/../../x', 'ERR_FILE_PATH_DENIED'],
    ['data/./a.txt', 'ERR_FILE_PATH_DENIED'],
    ['/%2e%2e/%2e%2e/etc/passwd', 'ERR_FILE_PATH_DENIED'],
    ['/data%2f..%2f..%2fx', 'ERR_FILE_PATH_DENIED'],
    ['..\\..\\x', 'ERR_FILE_PATH_DENIED'],
    ['/data/a.txt\u0000.flv', 'ERR_FILE_PATH_DENIED'],
    ['C:/Windows/win.ini', 'ERR_FILE_PATH_DENIED'],
    ['file:///etc/passwd', 'ERR_FILE_PATH_DENIED'],
    [`/${'a'.repeat(300)}`, 'ERR_FILE_PATH_DENIED'],
    [`/${'a/'.repeat(2100)}x`, 'ERR_FILE_PATH_DENIED'],
    ['/data/link-out.txt', 'ERR_FILE_OUTSIDE'],
    ['/data/dir-out', 'ERR_FILE_OUTSIDE'],
    ['/data/dir-out/keep.txt', 'ERR_FILE_OUTSIDE'],
    ['/data/dir-out/new.txt', 'ERR_FILE_OUTSIDE'],
    ['/videos/../secret.txt', 'ERR_FILE_PATH_DENIED'],
  ] as [string, string][]).map(([p, code]) => [p.length > 60 ? `${p.slice(0, 20)}... (${p.length} characters)` : JSON.stringify(p), p, code]);

  it.each(attempts)('%s is refused for every operation', async (_title, p, code) => {
    const before = fs.readdirSync(outside).sort();
    const r = (await c.call('escape', p)) as Record<string, unknown>;
    expect(r).toEqual({ read: false, write: false, exists: false, list: null, remove: false, mkdir: false, copy: false, rename: false });
    const warnings = (await c.call('statuses')) as string[];
    expect(warnings.length).toBeGreaterThanOrEqual(6);
    expect(warnings.filter((w) => w.startsWith(code)).length).toBeGreaterThanOrEqual(4);
    expect(fs.readdirSync(outside).sort()).toEqual(before);
    expect(fs.readFileSync(path.join(outside, 'secret.txt'), 'utf8')).toBe('secret\n');
    expect(fs.readFileSync(path.join(outside, 'dir', 'keep.txt'), 'utf8')).toBe('keep\n');
    expect(fs.existsSync(path.join(outside, 'dir', 'new.txt'))).toBe(false);
  });

  it('a link that stays inside the folder is followed', async () => {
    expect(await c.call('readLines', '/data/link-in.txt')).toEqual(['line one', 'line two é', 'last line without newline']);
  });

  it('a recursive remove of a folder holding links out removes the links, not what they point to', async () => {
    fs.mkdirSync(path.join(appDir, 'trap'));
    fs.symlinkSync(path.join(outside, 'dir'), path.join(appDir, 'trap', 'dir'));
    fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(appDir, 'trap', 'secret.txt'));
    expect(await ev('new File("/trap").remove(true)')).toBe(true);
    expect(fs.existsSync(path.join(appDir, 'trap'))).toBe(false);
    expect(fs.readFileSync(path.join(outside, 'dir', 'keep.txt'), 'utf8')).toBe('keep\n');
    expect(fs.readFileSync(path.join(outside, 'secret.txt'), 'utf8')).toBe('secret\n');
  });
});

it('a file left open is written and closed when the instance unloads', async () => {
  expect(await c.call('leaveOpen', '/out/unload.txt')).toBe(true);
  await c.call('shutdown');
  await until(() => fs.existsSync(path.join(appDir, 'out', 'unload.txt')) && fs.readFileSync(path.join(appDir, 'out', 'unload.txt'), 'utf8') === 'written before unload\n', 5000, 'the file written at unload');
  c = await apps.connect('fileapp');
});
