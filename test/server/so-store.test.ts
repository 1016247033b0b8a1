/**
 * Shared object persistence (src/server/so-store.ts): name to path mapping, the .fso format (every AMF type
 * round-trips; torn, extended or bit-flipped files are detected, reported with ERR_SO_CORRUPT and moved aside),
 * atomic replacement, clearSharedObjects path rules, listing, and a child process SIGKILLed in the middle of a
 * save loop 20 times: the file always loads, as the old or the new version.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import {
  AmfDate,
  AmfDictionary,
  AmfVector,
  AmfXml,
  AmfXmlDocument,
  ecmaArray,
  setSealedMembers,
  typedObject,
  type AmfObject,
  type AmfValue,
} from '../../src/amf';
import { isSsasError } from '../../src/errors';
import {
  decodeFso,
  deleteSharedObjects,
  encodeFso,
  instanceSharedObjectRoot,
  listSharedObjects,
  loadSharedObject,
  loadSharedObjectSync,
  parseSoPattern,
  saveSharedObject,
  saveSharedObjectSync,
  sharedObjectFile,
  soPatternMatches,
} from '../../src/server/so-store';
import { AmfGenerator, Rng, amfDiff } from '../amf/amf-test-utils';
import { makeTempDir, removeDir } from '../support/tmp';

let tmp: string;
beforeEach(() => {
  tmp = makeTempDir('so-store');
});
afterEach(() => removeDir(tmp));

function codeOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (!isSsasError(e)) throw e;
    return e.code;
  }
}

/** Every kind of value the model has, nested, shared and cyclic. */
function everyType(): Map<string, AmfValue> {
  const point = typedObject('com.example.Point', { x: 1, y: -2.5 } as AmfObject);
  const sealed = setSealedMembers(typedObject('com.example.User', { name: 'ann', age: 7, extra: true } as AmfObject), ['name', 'age']);
  const assoc: AmfValue[] = [1, 'two', null];
  (assoc as unknown as Record<string, AmfValue>).label = 'named';
  const cyclic: AmfObject = { self: null };
  cyclic.self = cyclic;
  const shared = { s: 1 };
  return new Map<string, AmfValue>([
    ['number', 3.25],
    ['int', 42],
    ['nan', NaN],
    ['negZero', -0],
    ['bool', false],
    ['string', 'héllo €'],
    ['long', 'z'.repeat(70000)],
    ['null', null],
    ['undefined', undefined],
    ['date', new Date(1234567890123)],
    ['object', { a: { b: { c: [1, 2, { d: 'deep' }] } } }],
    ['typed', point],
    ['sealed', sealed],
    ['array', [1, 'a', [true, null]]],
    ['assocArray', assoc],
    ['ecma', ecmaArray({ alice: 1, bob: ecmaArray({ nested: new AmfDate(5000, 60) }) } as AmfObject)],
    ['bytes', Buffer.from([0, 1, 2, 255])],
    ['xmlDoc', new AmfXmlDocument('<a b="1">text</a>')],
    ['xml', new AmfXml('<x><y/></x>')],
    ['vectorInt', new AmfVector('int', [1, -2, 3], true)],
    ['vectorObj', new AmfVector('object', [point, 'x'], false, 'com.example.Point')],
    ['dict', new AmfDictionary(new Map<AmfValue, AmfValue>([[point, 'p'], ['k', 1]]), true)],
    ['cyclic', cyclic],
    ['sharedTwice', { a: shared, b: shared }],
    ['', 'empty key'],
    ['__proto__', 'odd key'],
    ['ключ/with/slashes', 'unicode key'],
  ]);
}

describe('paths', () => {
  test('names map to sub folders; leading slashes are dropped', () => {
    expect(sharedObjectFile('/r', 'chat')).toBe(path.join('/r', 'chat.fso'));
    expect(sharedObjectFile('/r', 'rooms/lobby/users')).toBe(path.join('/r', 'rooms', 'lobby', 'users.fso'));
    expect(sharedObjectFile('/r', '/abs')).toBe(path.join('/r', 'abs.fso'));
  });

  test.each(['', '/', '..', 'a/../b', '../x', 'a//b', 'a/./b', 'a\\b', 'c:foo', 'a\0b', 'a/'])('refused: %j', (name) => {
    expect(codeOf(() => sharedObjectFile('/r', name))).toBe('ERR_SO_BAD_NAME');
  });

  test('instance root: <app>/sharedobjects/<instance> or <StorageDir>/<instance>', () => {
    expect(instanceSharedObjectRoot({ appDir: '/apps/chat', instanceName: '_definst_' })).toBe(path.join('/apps/chat', 'sharedobjects', '_definst_'));
    expect(instanceSharedObjectRoot({ appDir: '/apps/chat', instanceName: 'room/1', storageDir: '/data/so' })).toBe(path.join('/data/so', 'room', '1'));
    expect(instanceSharedObjectRoot({ appDir: '/apps/chat', instanceName: 'i', storageDir: 'store' })).toBe(path.join('/apps/chat', 'store', 'i'));
  });
});

describe('.fso format', () => {
  test('every AMF type round-trips through a file', async () => {
    const slots = everyType();
    await saveSharedObject(tmp, 'all/types', { version: 77, slots });
    for (const loaded of [loadSharedObjectSync(tmp, 'all/types'), await loadSharedObject(tmp, 'all/types')]) {
      expect(loaded).not.toBeNull();
      expect(loaded!.version).toBe(77);
      expect(loaded!.name).toBe('all/types');
      expect([...loaded!.slots.keys()]).toEqual([...slots.keys()]);
      for (const [k, v] of slots) {
        const d = amfDiff(v, loaded!.slots.get(k));
        if (d !== null) throw new Error(`slot ${k}: ${d}`);
      }
    }
  });

  test('header layout: magic, version, count, name; exact length; CRC-32 trailer', () => {
    const buf = encodeFso('n', { version: 3, slots: new Map([['k', 1]]) }, 1000);
    expect(buf.subarray(0, 8).toString('latin1')).toBe('SSASFSO1');
    expect(buf.readUInt32BE(8)).toBe(3);
    expect(buf.readUInt32BE(12)).toBe(1);
    expect(buf.readDoubleBE(16)).toBe(1000);
    const n = buf.readUInt32BE(24);
    expect(buf.readUInt16BE(28)).toBe(0);
    expect(buf.readUInt16BE(30)).toBe(1);
    expect(buf.toString('utf8', 32, 33)).toBe('n');
    expect(buf.length).toBe(32 + 1 + n + 4);
    // slot: AMF3 (3), key "k", value integer 1 (04 01)
    expect(buf.subarray(33, 33 + n).toString('hex')).toBe('03' + '00000001' + '6b' + '00000002' + '0401');
    const zlib = require('node:zlib') as { crc32?: (b: Buffer) => number };
    if (zlib.crc32) expect(buf.readUInt32BE(33 + n)).toBe(zlib.crc32(buf.subarray(0, 33 + n)) >>> 0);
    expect(decodeFso(buf).final).toBe(false);
    const fin = encodeFso('n', { version: 3, slots: new Map([['k', 1]]), final: true }, 1000);
    expect(fin.readUInt16BE(28)).toBe(1);
    expect(decodeFso(fin).final).toBe(true);
  });

  test('an ECMA array anywhere makes the slot AMF0 (kept as an ECMA array); others are AMF3', () => {
    const buf = encodeFso('n', { version: 1, slots: new Map<string, AmfValue>([['e', [ecmaArray({ a: 1 } as AmfObject)]], ['p', { a: 1 }]]) });
    expect(buf[33]).toBe(0); // first slot: AMF0
    const back = decodeFso(buf);
    expect(amfDiff([ecmaArray({ a: 1 } as AmfObject)], back.slots.get('e'))).toBeNull();
  });

  test('random values of both generators round-trip (300 files)', () => {
    const rng = new Rng(0xf50);
    const gen = new AmfGenerator(rng, 4);
    for (let i = 0; i < 300; i++) {
      const slots = new Map<string, AmfValue>();
      for (let j = rng.int(0, 5); j > 0; j--) slots.set(gen.string().slice(0, 50), gen.values(rng.chance(0.5) ? 'amf0' : 'amf3')[0]);
      const back = decodeFso(encodeFso(`so${i}`, { version: i, slots }));
      expect(back.version).toBe(i);
      for (const [k, v] of slots) {
        // AMF3 has no time-zone field: compare what the stored encoding can say.
        const d = amfDiff(stripTimezones(v, back.slots.get(k)), back.slots.get(k));
        if (d !== null) throw new Error(`file ${i} slot ${JSON.stringify(k)}: ${d}`);
      }
    }
  });

  test('torn, extended and bit-flipped files are ERR_SO_CORRUPT', () => {
    const good = encodeFso('x', { version: 9, slots: everyType() });
    expect(decodeFso(good).version).toBe(9);
    const rng = new Rng(7);
    for (let i = 0; i < 300; i++) {
      const cut = rng.int(0, good.length - 1);
      expect(codeOf(() => decodeFso(good.subarray(0, cut)))).toBe('ERR_SO_CORRUPT');
    }
    expect(codeOf(() => decodeFso(Buffer.concat([good, Buffer.from([0])])))).toBe('ERR_SO_CORRUPT');
    for (let i = 0; i < 300; i++) {
      const b = Buffer.from(good);
      b[rng.int(0, b.length - 1)] ^= 1 << rng.int(0, 7);
      expect(codeOf(() => decodeFso(b))).toBe('ERR_SO_CORRUPT');
    }
    expect(codeOf(() => decodeFso(Buffer.alloc(100)))).toBe('ERR_SO_CORRUPT');
  });

  test('a corrupt file is reported and moved aside to .fso.corrupt, then reads as absent', async () => {
    await saveSharedObject(tmp, 'c', { version: 1, slots: new Map([['a', 1]]) });
    const file = sharedObjectFile(tmp, 'c');
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 3));
    let err: unknown;
    try {
      loadSharedObjectSync(tmp, 'c');
    } catch (e) {
      err = e;
    }
    expect(isSsasError(err) && err.code).toBe('ERR_SO_CORRUPT');
    expect((err as { details: Record<string, unknown> }).details.movedTo).toBe(`${file}.corrupt`);
    expect(fs.existsSync(`${file}.corrupt`)).toBe(true);
    expect(fs.existsSync(file)).toBe(false);
    expect(loadSharedObjectSync(tmp, 'c')).toBeNull();
    expect(await loadSharedObject(tmp, 'missing/too')).toBeNull();
    expect(listSharedObjects(tmp)).toEqual([]);
  });
});

function stripTimezones(expected: AmfValue, actual: AmfValue): AmfValue {
  // When the slot went through AMF3 (actual Dates are plain Dates), expected AmfDates lose their zone.
  const seen = new Map<object, unknown>();
  const walk = (v: unknown): unknown => {
    if (v instanceof AmfDate) return new Date(v.getTime());
    if (typeof v !== 'object' || v === null || v instanceof Date || v instanceof Uint8Array) return v;
    if (seen.has(v)) return seen.get(v);
    if (v instanceof AmfVector) {
      const out = new AmfVector(v.kind, [], v.fixed, v.className);
      seen.set(v, out);
      out.items = v.items.map((x) => walk(x) as AmfValue);
      return out;
    }
    if (v instanceof AmfDictionary) {
      const out = new AmfDictionary(new Map(), v.weakKeys);
      seen.set(v, out);
      for (const [k, x] of v.entries) out.entries.set(walk(k) as AmfValue, walk(x) as AmfValue);
      return out;
    }
    if (v instanceof AmfXml || v instanceof AmfXmlDocument) return v;
    const out: Record<string | symbol, unknown> = Array.isArray(v) ? ([] as unknown as Record<string, unknown>) : Object.create(Object.getPrototypeOf(v));
    seen.set(v, out);
    for (const sym of Object.getOwnPropertySymbols(v)) {
      Object.defineProperty(out, sym, { value: (v as Record<symbol, unknown>)[sym], enumerable: false, writable: true, configurable: true });
    }
    for (const k of Object.keys(v)) {
      Object.defineProperty(out, k, { value: walk((v as Record<string, unknown>)[k]), enumerable: true, writable: true, configurable: true });
    }
    return out;
  };
  return containsAmfDate(actual) ? expected : (walk(expected) as AmfValue);
}

function containsAmfDate(v: unknown, seen = new Set<unknown>()): boolean {
  if (v instanceof AmfDate) return true;
  if (typeof v !== 'object' || v === null || seen.has(v) || v instanceof Uint8Array) return false;
  seen.add(v);
  if (v instanceof AmfVector) return v.items.some((x) => containsAmfDate(x, seen));
  if (v instanceof AmfDictionary) return [...v.entries].some(([k, x]) => containsAmfDate(k, seen) || containsAmfDate(x, seen));
  return Object.keys(v).some((k) => containsAmfDate((v as Record<string, unknown>)[k], seen));
}

describe('atomic saves', () => {
  test('a save replaces the old file and leaves no temporary file', async () => {
    await saveSharedObject(tmp, 'a/b', { version: 1, slots: new Map([['v', 1]]) });
    saveSharedObjectSync(tmp, 'a/b', { version: 2, slots: new Map([['v', 2]]) });
    await saveSharedObject(tmp, 'a/b', { version: 3, slots: new Map([['v', 3]]) });
    expect(loadSharedObjectSync(tmp, 'a/b')!.slots.get('v')).toBe(3);
    expect(fs.readdirSync(path.join(tmp, 'a'))).toEqual(['b.fso']);
  });

  test('shouldCommit=false abandons the save (a newer one already landed)', async () => {
    await saveSharedObject(tmp, 's', { version: 1, slots: new Map() });
    expect(await saveSharedObject(tmp, 's', { version: 2, slots: new Map() }, { shouldCommit: () => false })).toBe(false);
    expect(loadSharedObjectSync(tmp, 's')!.version).toBe(1);
    expect(fs.readdirSync(tmp)).toEqual(['s.fso']);
  });

  test('I/O failures are ERR_SO_IO', async () => {
    fs.writeFileSync(path.join(tmp, 'file'), 'x');
    await expect(saveSharedObject(tmp, 'file/inside', { version: 1, slots: new Map() })).rejects.toMatchObject({ code: 'ERR_SO_IO' });
    expect(codeOf(() => saveSharedObjectSync(tmp, 'file/inside', { version: 1, slots: new Map() }))).toBe('ERR_SO_IO');
  });
});

describe('clearSharedObjects paths', () => {
  const NAMES = ['a', 'b', 'chat/room1', 'chat/room2', 'chat/lobby', 'chat/sub/x', 'chatx'];
  beforeEach(() => {
    for (const n of NAMES) saveSharedObjectSync(tmp, n, { version: 1, slots: new Map([['n', n]]) });
  });

  test('listing', () => {
    expect(listSharedObjects(tmp)).toEqual([...NAMES].sort());
  });

  test('"/chat/room?" deletes matching names in that folder only', () => {
    expect(deleteSharedObjects(tmp, '/chat/room?')).toBe(true);
    expect(listSharedObjects(tmp)).toEqual(['a', 'b', 'chat/lobby', 'chat/sub/x', 'chatx']);
  });

  test('"/chat/*" deletes everything under chat, and the folder', () => {
    expect(deleteSharedObjects(tmp, '/chat/*')).toBe(true);
    expect(listSharedObjects(tmp)).toEqual(['a', 'b', 'chatx']);
    expect(fs.existsSync(path.join(tmp, 'chat'))).toBe(false);
  });

  test('"/a" deletes that object; "/chat" (a folder) deletes nothing', () => {
    expect(deleteSharedObjects(tmp, '/a')).toBe(true);
    expect(deleteSharedObjects(tmp, '/chat')).toBe(true);
    expect(listSharedObjects(tmp)).toEqual(['b', 'chat/lobby', 'chat/room1', 'chat/room2', 'chat/sub/x', 'chatx']);
  });

  test('"/" and "/*" delete everything; .corrupt files stay', () => {
    fs.writeFileSync(path.join(tmp, 'chat', 'old.fso.corrupt'), 'x');
    expect(deleteSharedObjects(tmp, '/')).toBe(true);
    expect(listSharedObjects(tmp)).toEqual([]);
    expect(fs.existsSync(path.join(tmp, 'chat', 'old.fso.corrupt'))).toBe(true);
    saveSharedObjectSync(tmp, 'z', { version: 1, slots: new Map() });
    expect(deleteSharedObjects(tmp, '/*')).toBe(true);
    expect(listSharedObjects(tmp)).toEqual([]);
  });

  test('"/ch*" matches top-level names only; "/*x" too', () => {
    expect(deleteSharedObjects(tmp, '/ch*')).toBe(true);
    expect(listSharedObjects(tmp)).toEqual(['a', 'b', 'chat/lobby', 'chat/room1', 'chat/room2', 'chat/sub/x']);
  });

  test('invalid paths are false and delete nothing', () => {
    for (const p of ['/../a', '/ch*t/room1', '/chat/../a', 'a\\b']) expect(deleteSharedObjects(tmp, p)).toBe(false);
    expect(listSharedObjects(tmp)).toHaveLength(NAMES.length);
  });

  test('a failing deletion makes the answer false', () => {
    if (process.getuid?.() === 0) return; // root ignores folder permissions
    fs.chmodSync(path.join(tmp, 'chat'), 0o555);
    try {
      expect(deleteSharedObjects(tmp, '/chat/room?')).toBe(false);
    } finally {
      fs.chmodSync(path.join(tmp, 'chat'), 0o755);
    }
  });

  test('pattern matching of active objects by name', () => {
    const m = (pat: string, name: string): boolean => soPatternMatches(parseSoPattern(pat)!, name);
    expect(m('/', 'x/y')).toBe(true);
    expect(m('/chat/*', 'chat/a/b')).toBe(true);
    expect(m('/chat/*', 'chatx')).toBe(false);
    expect(m('/chat/r?om', 'chat/room')).toBe(true);
    expect(m('/chat/r?om', 'chat/sub/room')).toBe(false);
    expect(m('/chat', '/chat')).toBe(true);
    expect(m('/chat', 'chat/room')).toBe(false);
    expect(m('/a.b*', 'a.bc')).toBe(true);
    expect(m('/a.b*', 'axbc')).toBe(false);
    expect(parseSoPattern('/x*/y')).toBeNull();
  });
});

// ------------------------------------------------------------------------------------------------ kill -9

const REPO = path.resolve(__dirname, '..', '..');

/** Transpiles so-store.ts and everything it imports (relative imports) to CommonJS under `outDir`. */
function transpileClosure(entry: string, outDir: string): string {
  const done = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (done.has(file)) continue;
    done.add(file);
    const src = fs.readFileSync(file, 'utf8');
    const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText;
    const out = path.join(outDir, path.relative(REPO, file)).replace(/\.ts$/, '.js');
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, js);
    for (const m of src.matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
      const base = path.resolve(path.dirname(file), m[1]!);
      const cand = [`${base}.ts`, path.join(base, 'index.ts')].find((c) => fs.existsSync(c));
      if (cand) queue.push(cand);
    }
  }
  return path.join(outDir, path.relative(REPO, entry)).replace(/\.ts$/, '.js');
}

const CHILD = `
const store = require(process.argv[2]);
const root = process.argv[3];
let v = 0;
try { const s = store.loadSharedObjectSync(root, 'room/state'); if (s) v = s.version; } catch (e) { process.stderr.write('load: ' + e.message + '\\n'); process.exit(2); }
function slotsFor(v) {
  return new Map([
    ['v', v],
    ['blob', 'x'.repeat(1000 + ((v * 7919) % 60000))],
    ['obj', { n: v, list: Array.from({ length: v % 50 }, (_, i) => ({ i, s: 'item' + i })) }],
    ['bytes', Buffer.alloc(v % 3000, v & 0xff)],
  ]);
}
(async () => {
  for (;;) {
    v++;
    if (v % 3 === 0) store.saveSharedObjectSync(root, 'room/state', { version: v, slots: slotsFor(v) });
    else await store.saveSharedObject(root, 'room/state', { version: v, slots: slotsFor(v) });
    if (v % 5 === 1) process.stdout.write('saved ' + v + '\\n');
  }
})().catch((e) => { process.stderr.write(String(e && e.stack || e) + '\\n'); process.exit(3); });
`;

describe('kill -9 during a save loop', () => {
  const children = new Set<ChildProcess>();
  afterEach(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    children.clear();
  });

  test('20 kills at random moments: the file always loads as a complete version', async () => {
    const compiled = transpileClosure(path.join(REPO, 'src', 'server', 'so-store.ts'), path.join(tmp, 'build'));
    const childFile = path.join(tmp, 'child.js');
    fs.writeFileSync(childFile, CHILD);
    const root = path.join(tmp, 'so');
    const rng = new Rng(0xdead);
    const t0 = Date.now();
    let lastVersion = 0;
    for (let round = 0; round < 20; round++) {
      const child = spawn(process.execPath, [childFile, compiled, root], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      // Wait until it has saved at least once in this round, then kill it somewhere in the loop.
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`child did not save: ${stderr}`)), 10000);
        child.stdout!.on('data', () => {
          clearTimeout(timer);
          resolve();
        });
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`child exited with ${code}: ${stderr}`));
        });
      });
      await new Promise((r) => setTimeout(r, rng.int(1, 120)));
      child.kill('SIGKILL');
      await exited;
      children.delete(child);
      expect(child.signalCode).toBe('SIGKILL');

      const s = loadSharedObjectSync(root, 'room/state');
      expect(s).not.toBeNull();
      const v = s!.version;
      expect(v).toBeGreaterThan(lastVersion);
      expect(s!.slots.get('v')).toBe(v);
      expect((s!.slots.get('blob') as string).length).toBe(1000 + ((v * 7919) % 60000));
      expect(((s!.slots.get('obj') as AmfObject).list as AmfValue[]).length).toBe(v % 50);
      expect((s!.slots.get('bytes') as Buffer).length).toBe(v % 3000);
      expect(fs.existsSync(`${sharedObjectFile(root, 'room/state')}.corrupt`)).toBe(false);
      lastVersion = v;
    }
    // Stray temp files may remain from killed saves; nothing lists or loads them.
    expect(listSharedObjects(root)).toEqual(['room/state']);
    expect(Date.now() - t0).toBeLessThan(15000);
  }, 30000);
});
