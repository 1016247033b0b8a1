import { AmfError } from '../errors';
import type { AmfValue } from './types';
import type { AmfDecodeOptions, AmfEncodeOptions } from './options';
import type { AmfDecodeResult } from './amf0';

const todo = (): never => {
  throw new AmfError('ERR_AMF_NOT_IMPLEMENTED', 'AMF3 codec not implemented yet');
};

export class Amf3Reader {
  constructor(buf: Buffer | Uint8Array, offset = 0, opts: AmfDecodeOptions = {}) {
    void buf; void offset; void opts;
  }
  get position(): number { return todo(); }
  get remaining(): number { return todo(); }
  atEnd(): boolean { return todo(); }
  readValue(): AmfValue { return todo(); }
}

export class Amf3Writer {
  constructor(opts: AmfEncodeOptions = {}) { void opts; }
  get length(): number { return todo(); }
  writeValue(v: AmfValue): this { void v; return todo(); }
  toBuffer(): Buffer { return todo(); }
}

export function encodeAmf3(value: AmfValue, opts?: AmfEncodeOptions): Buffer { void value; void opts; return todo(); }
export function decodeAmf3(buf: Buffer | Uint8Array, offset = 0, opts?: AmfDecodeOptions): AmfDecodeResult { void buf; void offset; void opts; return todo(); }
