/**
 * Host codecs the sandbox borrows (ByteArray.readObject/writeObject, compress/uncompress): the server's AMF0
 * and AMF3 codecs (src/amf), so a ByteArray holds exactly the bytes a client would send, and zlib, run
 * asynchronously while the script's thread waits (compressing a large ByteArray never holds the event loop).
 * Bad input is an error with the codec's code, which the script sees as an exception (as Flash threw).
 */
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { decodeAmf0, decodeAmf3, encodeAmf0With, encodeAmf3, type AmfValue } from '../amf';
import { fromIsolate } from './marshal';
import type { ScriptExtension, ScriptLogic } from './script-logic';
import type { HostRequest } from './runtime';

const deflate = promisify(zlib.deflate);
const deflateRaw = promisify(zlib.deflateRaw);
const inflate = promisify(zlib.inflate);
const inflateRaw = promisify(zlib.inflateRaw);
/** Most bytes uncompress may produce (a zip bomb stops there). */
const MAX_INFLATED = 64 * 1024 * 1024;

function bytes(v: unknown): Buffer {
  const u = v as Uint8Array;
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

export class CodecExtension implements ScriptExtension {
  request(_logic: ScriptLogic, req: HostRequest): { value: AmfValue } | undefined {
    switch (req.t) {
      case 'amfEncode': {
        const values = (fromIsolate(req.v) as AmfValue[]) ?? [];
        const v = values[0];
        return { value: req.enc === 0 ? encodeAmf0With({ avmplus: true }, [v]) : encodeAmf3(v) };
      }
      case 'amfDecode': {
        const b = bytes(req.b);
        const r = req.enc === 0 ? decodeAmf0(b, 0) : decodeAmf3(b, 0);
        return { value: { value: r.value, used: r.position } };
      }
    }
    return undefined;
  }

  requestAsync(_logic: ScriptLogic, req: HostRequest): Promise<{ value: AmfValue }> | undefined {
    if (req.t !== 'zlib') return undefined;
    const b = bytes(req.b);
    const run = async (): Promise<Buffer> => {
      switch (req.op) {
        case 'zlib':
          return deflate(b);
        case 'deflate':
          return deflateRaw(b);
        case 'inflate':
          return inflate(b, { maxOutputLength: MAX_INFLATED });
        case 'inflateRaw':
          return inflateRaw(b, { maxOutputLength: MAX_INFLATED });
      }
      throw new Error(`unknown zlib operation ${String(req.op)}`);
    };
    return run().then((value) => ({ value }));
  }
}
