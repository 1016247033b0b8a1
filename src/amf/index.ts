/** Public surface of the AMF codecs: import from 'src/amf', not from the individual files. */
export * from './types';
export type {
  Amf3Externalizable,
  Amf3ExternalizableRegistry,
  AmfDecodeOptions,
  AmfDecodeResult,
  AmfEncodeOptions,
} from './options';
export { DEFAULT_MAX_DEPTH } from './options';
export { Amf0Marker, Amf0Reader, Amf0Writer, encodeAmf0, encodeAmf0With, decodeAmf0, decodeAmf0All } from './amf0';
export {
  Amf3Marker,
  Amf3Reader,
  Amf3Writer,
  encodeAmf3,
  decodeAmf3,
  defaultExternalizables,
  arrayCollection,
  objectProxy,
  ARRAY_COLLECTION,
  ARRAY_LIST,
  OBJECT_PROXY,
  setMember,
} from './amf3';
