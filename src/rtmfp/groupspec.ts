/**
 * Flash Player's groupspec strings (AS3 flash.net.GroupSpecifier) and the ids derived from them. No RFC
 * covers RTMFP groups; where each fact comes from:
 *
 * - Encoding: "G:" then lowercase hex of option records (VLU length, VLU type, value; the RTMFP option
 *   format), in a fixed order whatever order the setters were called in, an end marker 00 after the group
 *   description, then IP multicast addresses and bootstrap peers, then (toString only) the authorizations.
 *   Option codes and order: the decompiled AS3 GroupSpecifier of Flash Player (public repository
 *   m0t/flash-player, flash/net/GroupSpecifier.as), checked against MonaServer's "join group" log for four
 *   specs (notes/netgroup-facts.md 1.1, 1.2).
 * - Group id: SHA-256 of the groupspec text from "G:" up to (not including) the end marker, hashed again
 *   when the version option (7f) is 2 (librtmfp Invoker.cpp connect2Group; confirmed with MonaServer).
 * - Member id ("group address"): SHA-256 of the canonical endpoint discriminator 21 0f + peer id
 *   (MonaServer RTMFP.cpp Session; matches librtmfp's log).
 * - Passwords: the description holds SHA-256 of the password (or salt followed by SHA-256(salt+password));
 *   the authorizations hold the clear text (AS3 setPublishPassword / setPostingPassword).
 */
import { createHash } from 'node:crypto';
import { RtmfpError } from '../errors';
import { Cursor, Writer, writeOption } from './wire';

export const GS_VERSION = 0x7f;
export const GS_ROUTING = 0x00;
export const GS_MULTICAST = 0x01;
export const GS_OBJECT_REPLICATION = 0x02;
export const GS_POSTING = 0x03;
export const GS_PUBLISH_AUTH_HASH = 0x05;
export const GS_POSTING_AUTH_HASH = 0x07;
export const GS_SERVER_CHANNEL = 0x0c;
export const GS_PEER_TO_PEER_DISABLED = 0x0d;
export const GS_NAME = 0x0e;
export const GS_IP_MULTICAST_MEMBER_UPDATES = 0x1b;
export const GS_IP_MULTICAST_ADDRESS = 0x0a;
export const GS_BOOTSTRAP_PEER = 0x0b;
export const GS_PUBLISH_AUTHORIZATION = 0x15;
export const GS_POSTING_AUTHORIZATION = 0x17;

export interface IpMulticastAddress {
  address: string;
  port: number;
  /** Source-specific multicast: the source address (no port). */
  source?: string;
}

/** Everything a groupspec says, in GroupSpecifier's terms. */
export interface GroupSpec {
  name: string;
  /** An extra random name part (makeUnique), hex. */
  unique: string | null;
  version: number;
  routingEnabled: boolean;
  multicastEnabled: boolean;
  objectReplicationEnabled: boolean;
  postingEnabled: boolean;
  serverChannelEnabled: boolean;
  peerToPeerDisabled: boolean;
  ipMulticastMemberUpdatesEnabled: boolean;
  /** The hash stored in the description (part of the group's identity), or null. */
  publishPasswordHash: Buffer | null;
  postingPasswordHash: Buffer | null;
  /** Clear-text passwords carried as authorizations, or null. */
  publishPassword: string | null;
  postingPassword: string | null;
  ipMulticastAddresses: IpMulticastAddress[];
  /** Peer ids (hex) members should try first. */
  bootstrapPeers: string[];
}

export function emptyGroupSpec(name: string): GroupSpec {
  return {
    name,
    unique: null,
    version: 2,
    routingEnabled: false,
    multicastEnabled: false,
    objectReplicationEnabled: false,
    postingEnabled: false,
    serverChannelEnabled: false,
    peerToPeerDisabled: false,
    ipMulticastMemberUpdatesEnabled: false,
    publishPasswordHash: null,
    postingPasswordHash: null,
    publishPassword: null,
    postingPassword: null,
    ipMulticastAddresses: [],
    bootstrapPeers: [],
  };
}

/** SHA-256 of the password, or salt bytes followed by SHA-256(salt + password) (AS3 setPublishPassword). */
export function passwordHash(password: string, salt: string | null): Buffer {
  if (salt === null || salt === '') return createHash('sha256').update(password, 'utf8').digest();
  return Buffer.concat([Buffer.from(salt, 'utf8'), createHash('sha256').update(salt + password, 'utf8').digest()]);
}

function flag(w: Writer, type: number, on: boolean): void {
  if (on) writeOption(w, type, Buffer.alloc(0));
}

/** The group description: everything up to and including the end marker (what the group id hashes). */
export function encodeDescription(g: GroupSpec): Buffer {
  const w = new Writer(64);
  if (g.version > 1) writeOption(w, GS_VERSION, new Writer(2).vlu(g.version).finish());
  flag(w, GS_ROUTING, g.routingEnabled);
  flag(w, GS_MULTICAST, g.multicastEnabled);
  flag(w, GS_OBJECT_REPLICATION, g.objectReplicationEnabled);
  flag(w, GS_POSTING, g.postingEnabled);
  if (g.publishPasswordHash) writeOption(w, GS_PUBLISH_AUTH_HASH, g.publishPasswordHash);
  if (g.postingPasswordHash) writeOption(w, GS_POSTING_AUTH_HASH, g.postingPasswordHash);
  flag(w, GS_SERVER_CHANNEL, g.serverChannelEnabled);
  flag(w, GS_PEER_TO_PEER_DISABLED, g.peerToPeerDisabled);
  writeOption(w, GS_NAME, Buffer.from(g.name, 'utf8'));
  if (g.unique !== null) writeOption(w, GS_NAME, Buffer.from(g.unique, 'hex'));
  flag(w, GS_IP_MULTICAST_MEMBER_UPDATES, g.ipMulticastMemberUpdatesEnabled);
  w.u8(0);
  return w.finish();
}

export function encodeIpMulticastAddress(a: IpMulticastAddress): Buffer {
  const w = new Writer(40);
  const address = ipBytes(a.address);
  w.bytes(address);
  w.u16(a.port);
  if (a.source) {
    // 4 + 2 + 4 or 16 + 2 + 16 bytes: nothing else decodes (a v4 group with a v6 source made a groupspec nobody could read).
    const source = ipBytes(a.source);
    if (source.length !== address.length) throw new RtmfpError('ERR_RTMFP_BAD_ADDRESS', `source ${a.source} and group ${a.address} are not of one IP version`);
    w.bytes(source);
  }
  return w.finish();
}

function extras(g: GroupSpec): Buffer {
  const w = new Writer(64);
  for (const a of g.ipMulticastAddresses) writeOption(w, GS_IP_MULTICAST_ADDRESS, encodeIpMulticastAddress(a));
  for (const p of g.bootstrapPeers) writeOption(w, GS_BOOTSTRAP_PEER, Buffer.from(p, 'hex'));
  return w.finish();
}

/** The authorizations part (AS3 GroupSpecifier.authorizations()): clear-text passwords. */
export function encodeAuthorizations(g: GroupSpec): Buffer {
  const w = new Writer(32);
  if (g.publishPassword !== null) writeOption(w, GS_PUBLISH_AUTHORIZATION, Buffer.from(g.publishPassword, 'utf8'));
  if (g.postingPassword !== null) writeOption(w, GS_POSTING_AUTHORIZATION, Buffer.from(g.postingPassword, 'utf8'));
  return w.finish();
}

/** groupspecWithoutAuthorizations(): "G:" + description + extras, lowercase hex. */
export function groupspecWithoutAuthorizations(g: GroupSpec): string {
  return `G:${Buffer.concat([encodeDescription(g), extras(g)]).toString('hex')}`;
}

/** toString() / groupspecWithAuthorizations(). */
export function groupspecString(g: GroupSpec): string {
  return groupspecWithoutAuthorizations(g) + encodeAuthorizations(g).toString('hex');
}

/**
 * Reads a groupspec string (any made by Flash Player or by GroupSpecifier here). Unknown options are
 * kept out of the model but do not make the spec invalid; the group id is computed from the text as
 * given, so a spec that round-trips differently still names the same group.
 */
export function parseGroupspec(text: string): { spec: GroupSpec; description: string; groupId: Buffer } {
  if (typeof text !== 'string' || !/^G:([0-9a-fA-F]{2})+$/.test(text)) {
    throw new RtmfpError('ERR_RTMFP_BAD_GROUPSPEC', `not a groupspec: ${String(text).slice(0, 80)}`);
  }
  const bytes = Buffer.from(text.slice(2), 'hex');
  const c = new Cursor(bytes);
  const spec = emptyGroupSpec('');
  spec.version = 1;
  let descEnd = -1;
  let names = 0;
  while (!c.atEnd()) {
    const start = c.pos;
    const len = c.vlu('groupspec option length');
    if (len === 0) {
      if (descEnd < 0) {
        descEnd = start;
        continue;
      }
      continue;
    }
    c.need(len, 'groupspec option');
    const inner = new Cursor(bytes, c.pos, c.pos + len);
    c.pos += len;
    const type = inner.vlu('groupspec option type');
    const value = inner.rest();
    if (descEnd < 0) {
      switch (type) {
        case GS_VERSION:
          spec.version = new Cursor(value).vlu('groupspec version');
          break;
        case GS_ROUTING:
          spec.routingEnabled = true;
          break;
        case GS_MULTICAST:
          spec.multicastEnabled = true;
          break;
        case GS_OBJECT_REPLICATION:
          spec.objectReplicationEnabled = true;
          break;
        case GS_POSTING:
          spec.postingEnabled = true;
          break;
        case GS_PUBLISH_AUTH_HASH:
          spec.publishPasswordHash = Buffer.from(value);
          break;
        case GS_POSTING_AUTH_HASH:
          spec.postingPasswordHash = Buffer.from(value);
          break;
        case GS_SERVER_CHANNEL:
          spec.serverChannelEnabled = true;
          break;
        case GS_PEER_TO_PEER_DISABLED:
          spec.peerToPeerDisabled = true;
          break;
        case GS_NAME:
          if (names++ === 0) spec.name = value.toString('utf8');
          else spec.unique = value.toString('hex');
          break;
        case GS_IP_MULTICAST_MEMBER_UPDATES:
          spec.ipMulticastMemberUpdatesEnabled = true;
          break;
      }
    } else {
      switch (type) {
        case GS_IP_MULTICAST_ADDRESS:
          spec.ipMulticastAddresses.push(decodeIpMulticastAddress(value));
          break;
        case GS_BOOTSTRAP_PEER:
          spec.bootstrapPeers.push(value.toString('hex'));
          break;
        case GS_PUBLISH_AUTHORIZATION:
          spec.publishPassword = value.toString('utf8');
          break;
        case GS_POSTING_AUTHORIZATION:
          spec.postingPassword = value.toString('utf8');
          break;
      }
    }
  }
  if (descEnd < 0) throw new RtmfpError('ERR_RTMFP_BAD_GROUPSPEC', 'groupspec without its end marker (00)');
  if (names === 0) throw new RtmfpError('ERR_RTMFP_BAD_GROUPSPEC', 'groupspec without a group name');
  const description = `G:${bytes.subarray(0, descEnd).toString('hex')}`;
  return { spec, description, groupId: groupIdOf(description, spec.version) };
}

/** SHA-256 of the description text (without the end marker), twice for version 2. */
export function groupIdOf(descriptionText: string, version: number): Buffer {
  let id = createHash('sha256').update(descriptionText, 'latin1').digest();
  if (version >= 2) id = createHash('sha256').update(id).digest();
  return id;
}

/** A member's place on the group ring: SHA-256 of 21 0f + peer id. */
export function memberIdOf(peerId: Buffer): Buffer {
  return createHash('sha256').update(Buffer.from([0x21, 0x0f])).update(peerId).digest();
}

function decodeIpMulticastAddress(v: Buffer): IpMulticastAddress {
  if (v.length === 6 || v.length === 10) {
    return { address: v4(v.subarray(0, 4)), port: v.readUInt16BE(4), ...(v.length === 10 ? { source: v4(v.subarray(6, 10)) } : {}) };
  }
  if (v.length === 18 || v.length === 34) {
    return { address: v6(v.subarray(0, 16)), port: v.readUInt16BE(16), ...(v.length === 34 ? { source: v6(v.subarray(18, 34)) } : {}) };
  }
  throw new RtmfpError('ERR_RTMFP_BAD_GROUPSPEC', `IP multicast address of ${v.length} bytes`);
}

function v4(b: Buffer): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

function v6(b: Buffer): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(b.readUInt16BE(i).toString(16));
  return parts.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

function ipBytes(address: string): Buffer {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(address)) {
    const parts = address.split('.').map(Number);
    if (parts.some((p) => !(p >= 0 && p <= 255))) throw new RtmfpError('ERR_RTMFP_BAD_ADDRESS', `not an IPv4 address: ${address}`);
    return Buffer.from(parts);
  }
  // "::" once at most, for one zero group or more; every other group 1 to 4 hex digits (no empty ones: a
  // stray ":" used to be dropped, a second "::" ignored, and more than 7 groups around "::" was a RangeError).
  const halves = address.split('::');
  const [head, tail] = halves.length === 2 ? halves : [address, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const zeros = tail !== undefined ? 8 - h.length - t.length : 0;
  const groups = halves.length > 2 || (tail !== undefined && zeros < 1) ? [] : [...h, ...Array(zeros).fill('0'), ...t];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) throw new RtmfpError('ERR_RTMFP_BAD_ADDRESS', `not an IPv6 address: ${address}`);
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}
