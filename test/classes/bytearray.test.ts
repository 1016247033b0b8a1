/**
 * ByteArray (AMS 5) and SHA256 (FMS 4 / AMS) in an application driven by our RTMP client: every reader and
 * writer, endianness, array access, EOF errors, AMF0/AMF3 objects in a ByteArray compared with the server's
 * own codec and with amf-codec (an encoder nobody here wrote), zlib against Node's, a ByteArray crossing
 * AMF3 both ways, and SHA-256 digests against Node's crypto.
 */
import { createHash } from 'crypto';
import * as zlib from 'zlib';
import { startScriptApps, type ScriptApps } from '../support/script-app';
import { RtmpClient } from '../../src/net/rtmp-client';
import { decodeAmf3, encodeAmf3 } from '../../src/amf';

const MAIN = String.raw`
Client.prototype.eval = function (code) { return eval(code); };
Client.prototype.echo = function (v) { return [v instanceof ByteArray, v.length, v[0], v]; };
Client.prototype.digest = function (bytes) { return SHA256.computeDigest(bytes); };
Client.prototype.make = function (n) { var b = new ByteArray(); for (var i = 0; i < n; i++) b.writeByte(i); return b; };
`;

let apps: ScriptApps;
let c: RtmpClient;
const ev = (code: string): Promise<unknown> => c.call('eval', code);

beforeAll(async () => {
  apps = await startScriptApps({ 'ba/main.asc': MAIN });
  c = await RtmpClient.connect(`${apps.url}/ba`, { objectEncoding: 3 });
});

afterAll(async () => {
  c?.close();
  await apps?.close();
});

it('writes and reads every type, in both byte orders', async () => {
  const r = (await ev(`
    var b = new ByteArray();
    b.writeBoolean(true); b.writeByte(-2); b.writeShort(-300); b.writeInt(-70000); b.writeUnsignedInt(4000000000);
    b.writeFloat(1.5); b.writeDouble(Math.PI); b.writeUTF("héllo"); b.writeUTFBytes("€"); b.writeMultiByte("é", "iso-8859-1");
    var big = b.length;
    b.position = 0;
    var o = [b.readBoolean(), b.readByte(), b.readShort(), b.readInt(), b.readUnsignedInt(), b.readFloat(), b.readDouble(), b.readUTF(), b.readUTFBytes(3), b.readMultiByte(1, "iso-8859-1"), b.bytesAvailable, big];
    var l = new ByteArray();
    l.endian = "littleEndian";
    l.writeInt(1); l.writeShort(2);
    o.push(l[0], l[4], l.endian);
    l.position = 0;
    o.push(l.readInt(), l.readUnsignedShort());
    var u = new ByteArray();
    u.writeByte(0); u.position = 0;
    o.push(u.readUnsignedByte());
    o;`)) as unknown[];
  expect(r).toEqual([true, -2, -300, -70000, 4000000000, 1.5, Math.PI, 'héllo', '€', 'é', 0, 1 + 1 + 2 + 4 + 4 + 4 + 8 + 2 + 6 + 3 + 1, 1, 2, 'littleEndian', 1, 2, 0]);
});

it('length, position, array access, clear, toString, and EOFError past the end', async () => {
  const r = (await ev(`
    var b = new ByteArray();
    b[3] = 0x41; b[0] = 0x42; b[1] = 0x43; b[2] = 300;
    var o = [b.length, b[2], b[9], 2 in b, 9 in b, b.toString().length];
    b.length = 2; o.push(b.length, b.toString());
    b.length = 4; o.push(b[3]);
    b.position = 10; o.push(b.bytesAvailable);
    try { b.readInt(); o.push("no error"); } catch (e) { o.push(e.name, e.message); }
    var e2 = new ByteArray();
    try { e2.readUTF(); } catch (e) { o.push(e.name); }
    b.clear(); o.push(b.length, b.position);
    try { b.endian = "middle"; } catch (e) { o.push("bad endian"); }
    o;`)) as unknown[];
  expect(r).toEqual([4, 44, undefined, true, false, 4, 2, 'BC', 0, 0, 'EOFError', 'Error #2030: End of file was encountered.', 'EOFError', 0, 0, 'bad endian']);
});

it('writeObject/readObject: AMF3 bytes as the server codec and amf-codec write them; AMF0 with objectEncoding 0', async () => {
  const value = { name: 'bob', n: 7, list: [1, 'two', true], when: new Date(0) };
  const amf3 = (await ev(`
    var b = new ByteArray();
    b.writeObject({ name: "bob", n: 7, list: [1, "two", true], when: new Date(0) });
    b.position = 0;
    [b, b.readObject(), b.position == b.length]`)) as [Buffer, unknown, boolean];
  expect(Buffer.compare(amf3[0], encodeAmf3(value))).toBe(0);
  expect(decodeAmf3(amf3[0]).value).toEqual(value);
  expect(amf3[1]).toEqual(value);
  expect(amf3[2]).toBe(true);
  const amf0 = (await ev(`
    var b = new ByteArray(); b.objectEncoding = 0; b.writeObject({ a: 1, list: ["x", 2] }); b.writeObject("s");
    var whole = new ByteArray(); whole.writeBytes(b, 0, 40);
    b.position = 0; [b.length, b[0], b.readObject().a, b.readObject(), b.objectEncoding, whole]`)) as unknown[];
  expect(amf0.slice(0, 5)).toEqual([44, 3, 1, 's', 0]);
  // amf-codec (AMF0) reads what the script wrote, and writes the same bytes for the same value.
  const amfCodec = require('amf-codec') as { toAMF(v: unknown): Buffer; fromAMF(b: Buffer): unknown };
  expect(amfCodec.fromAMF(amf0[5] as Buffer)).toEqual({ a: 1, list: ['x', 2] });
  expect(Buffer.compare(amfCodec.toAMF({ a: 1, list: ['x', 2] }), amf0[5] as Buffer)).toBe(0);
});

it('compress/uncompress is zlib (Node reads it) and corrupt data throws IOError', async () => {
  const r = (await ev(`
    var b = new ByteArray(); for (var i = 0; i < 1000; i++) b.writeUTFBytes("ab");
    b.compress();
    var packed = b.length, pos = b.position;
    var copy = new ByteArray(); copy.writeBytes(b);
    b.uncompress();
    var bad = new ByteArray(); bad.writeUTFBytes("not zlib");
    var err; try { bad.uncompress(); } catch (e) { err = e.name; }
    var d = new ByteArray(); d.writeUTFBytes("deflate me"); d.compress("deflate"); d.uncompress("deflate");
    [packed < 100, pos == packed, b.length, b.position, b.toString().slice(0, 6), copy, err, d.toString()]`)) as unknown[];
  expect(r.slice(0, 5)).toEqual([true, true, 2000, 0, 'ababab']);
  expect(zlib.inflateSync(r[5] as Buffer).toString()).toBe('ab'.repeat(1000));
  expect(r.slice(6)).toEqual(['IOError', 'deflate me']);
});

it('a ByteArray crosses AMF3 both ways', async () => {
  const bytes = Buffer.from([9, 8, 7, 6]);
  const r = (await c.call('echo', bytes)) as unknown[];
  expect(r.slice(0, 3)).toEqual([true, 4, 9]);
  expect(Buffer.isBuffer(r[3]) && Buffer.compare(r[3] as Buffer, bytes) === 0).toBe(true);
  const made = (await c.call('make', 300)) as Buffer;
  expect(made.length).toBe(300);
  expect(made[299]).toBe(299 & 0xff);
});

it('SHA256.computeDigest matches Node crypto; a non-ByteArray is an Error', async () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 1000, 100_000]) {
    const bytes = Buffer.alloc(n);
    for (let i = 0; i < n; i++) bytes[i] = (i * 31 + 7) & 0xff;
    expect(await c.call('digest', bytes)).toBe(createHash('sha256').update(bytes).digest('hex'));
  }
  expect(await ev('var b = new ByteArray(); b.writeUTFBytes("abc"); SHA256.computeDigest(b)')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  expect(await ev('try { SHA256.computeDigest("abc"); "no error" } catch (e) { e instanceof Error }')).toBe(true);
  expect(await ev('try { SHA256.computeDigest(null); "no error" } catch (e) { e instanceof Error }')).toBe(true);
  expect(await ev('SHA256.TYPE_ID')).toBe('SHA-256');
});
