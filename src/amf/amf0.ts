import { AmfError } from '../errors';
import type { AmfValue } from './types';
import type { AmfDecodeOptions, AmfEncodeOptions } from './options';

export interface AmfDecodeResult {
  value: AmfValue;
  /** Offset just past the decoded value. */
  position: number;
}

const todo = (): never => {
  throw new AmfError('ERR_AMF_NOT_IMPLEMENTED', 'AMF0 codec not implemented yet');
};

export class Amf0Reader {
  constructor(buf: Buffer | Uint8Array, offset = 0, opts: AmfDecodeOptions = {}) {
    void buf; void offset; void opts;
  }
  get position(): number { return todo(); }
  get remaining(): number { return todo(); }
  atEnd(): boolean { return todo(); }
  readValue(): AmfValue { return todo(); }
  readString(): string { return todo(); }
}

export class Amf0Writer {
  constructor(opts: AmfEncodeOptions = {}) { void opts; }
  get length(): number { return todo(); }
  writeValue(v: AmfValue): this { void v; return todo(); }
  writeString(s: string): this { void s; return todo(); }
  toBuffer(): Buffer { return todo(); }
}

export function encodeAmf0(...values: AmfValue[]): Buffer { void values; return todo(); }
export function encodeAmf0With(opts: AmfEncodeOptions, values: readonly AmfValue[]): Buffer { void opts; void values; return todo(); }
export function decodeAmf0(buf: Buffer | Uint8Array, offset = 0, opts?: AmfDecodeOptions): AmfDecodeResult { void buf; void offset; void opts; return todo(); }
export function decodeAmf0All(buf: Buffer | Uint8Array, offset = 0, opts?: AmfDecodeOptions): AmfValue[] { void buf; void offset; void opts; return todo(); }
