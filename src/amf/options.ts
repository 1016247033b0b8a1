/** Options and extension points shared by the AMF0 and AMF3 readers and writers. */
import type { AmfObject, AmfValue } from './types';
import type { Amf3Reader, Amf3Writer } from './amf3';

/** Reads the body of an AMF3 externalizable object (IExternalizable.readExternal). */
export interface Amf3Externalizable {
  /**
   * Fills `target` (already a typed object of the class, already in the reference table so cycles work)
   * from the reader. May return a different value to stand for the object instead.
   */
  read(reader: Amf3Reader, target: AmfObject, className: string): AmfValue | void;
  /** Writes the body of `value` (IExternalizable.writeExternal). Without it the class encodes as a typed object. */
  write?(writer: Amf3Writer, value: AmfObject, className: string): void;
}

export type Amf3ExternalizableRegistry = ReadonlyMap<string, Amf3Externalizable>;

export interface AmfDecodeOptions {
  /** Maximum nesting of containers (objects, arrays, vectors, dictionaries). Default 512. */
  maxDepth?: number;
  /** AMF3 externalizable readers by class name. Default: `defaultExternalizables`. */
  externalizables?: Amf3ExternalizableRegistry;
}

export interface AmfEncodeOptions {
  /** AMF0 only: write AMF3-only values (ByteArray, XML, Vector, Dictionary) behind the 0x11 switch. */
  avmplus?: boolean;
  /** Maximum nesting of containers (cycles are written as references and do not count). Default 512. */
  maxDepth?: number;
  /** AMF3 externalizable writers by class name. Default: `defaultExternalizables`. */
  externalizables?: Amf3ExternalizableRegistry;
  /** Initial buffer size in bytes. Default 256. */
  initialSize?: number;
}

export interface AmfDecodeResult {
  value: AmfValue;
  /** Offset just past the decoded value. */
  position: number;
}

export const DEFAULT_MAX_DEPTH = 512;
