/**
 * The rendezvous side of RTMFP groups: which members a server tells about a newcomer, and the two
 * messages of the server channel. Facts (notes/netgroup-facts.md 2):
 *
 * - A client joins by opening a flow with metadata "GC" (47 43), return-associated with the server's
 *   NetConnection flow, and sending 01 then an option: type 15 and the 32-byte group id (librtmfp
 *   RTMFPWriter writeGroupConnect; MonaServer RTMFPSession), or type 10 and bytes whose SHA-256 is the id
 *   (MonaServer: "old Flash versions"). It leaves by ending that flow (or its session).
 * - The server tells nothing to the joiner: on a flow of its own answering each chosen existing member's
 *   GC flow it sends 0b and the newcomer's 32-byte peer id; those members then reach the newcomer through
 *   the server's introductions (MonaServer RTMFP.cpp Group::join/exchange, RTMFPWriter sendMember).
 * - Members are ordered by member id (SHA-256 of 21 0f + peer id). With at most 6 existing members all
 *   are told; with more, the 3 before and the 3 after the newcomer on the ring (MonaServer's choice).
 */
import { createHash } from 'node:crypto';
import { RtmfpError } from '../errors';
import { Cursor } from './wire';
import { memberIdOf } from './groupspec';

export const GC_METADATA = Buffer.from([0x47, 0x43]);
export const GROUP_JOIN = 0x01;
export const GROUP_MEMBER = 0x0b;
const JOIN_ID = 0x15;
const JOIN_RAW = 0x10;

export function isGroupChannel(metadata: Buffer): boolean {
  return metadata.length === 2 && metadata[0] === 0x47 && metadata[1] === 0x43;
}

/** The group id a join message names. */
export function decodeGroupJoin(msg: Buffer): Buffer {
  const c = new Cursor(msg);
  if (c.u8('group message type') !== GROUP_JOIN) throw new RtmfpError('ERR_RTMFP_BAD_GROUP_MESSAGE', 'not a group join (01)');
  const len = c.vlu('group join option length');
  c.need(len, 'group join option');
  const inner = new Cursor(msg, c.pos, c.pos + len);
  const type = inner.vlu('group join option type');
  const value = inner.rest();
  if (type === JOIN_ID) {
    if (value.length !== 32) throw new RtmfpError('ERR_RTMFP_BAD_GROUP_MESSAGE', `group id of ${value.length} bytes`);
    return Buffer.from(value);
  }
  if (type === JOIN_RAW) return createHash('sha256').update(value).digest();
  throw new RtmfpError('ERR_RTMFP_BAD_GROUP_MESSAGE', `group join option 0x${type.toString(16)}`);
}

export function encodeGroupJoin(groupId: Buffer): Buffer {
  return Buffer.concat([Buffer.from([GROUP_JOIN, 0x21, JOIN_ID]), groupId]);
}

export function encodeGroupMember(peerId: Buffer): Buffer {
  return Buffer.concat([Buffer.from([GROUP_MEMBER]), peerId]);
}

export function decodeGroupMember(msg: Buffer): Buffer {
  if (msg.length !== 33 || msg[0] !== GROUP_MEMBER) throw new RtmfpError('ERR_RTMFP_BAD_GROUP_MESSAGE', 'not a group member message (0b + 32 bytes)');
  return Buffer.from(msg.subarray(1));
}

export interface GroupMember<T> {
  peerId: Buffer;
  memberId: Buffer;
  /** What the caller needs to reach it (its server-channel flow). */
  handle: T;
}

/** The groups a server knows: members by group id, in member-id order. */
export class GroupDirectory<T> {
  readonly #groups = new Map<string, GroupMember<T>[]>();
  readonly maxMembersPerGroup: number;
  readonly maxGroups: number;

  constructor(limits: { maxMembersPerGroup?: number; maxGroups?: number } = {}) {
    this.maxMembersPerGroup = limits.maxMembersPerGroup ?? 100_000;
    this.maxGroups = limits.maxGroups ?? 10_000;
  }

  get groupCount(): number {
    return this.#groups.size;
  }

  members(groupId: Buffer): readonly GroupMember<T>[] {
    return this.#groups.get(groupId.toString('hex')) ?? [];
  }

  /**
   * Adds a member; returns the existing members to tell about it (all with up to 6, else the 3 before
   * and 3 after it on the ring). A peer already in the group is not added twice (nobody is told).
   */
  join(groupId: Buffer, peerId: Buffer, handle: T): GroupMember<T>[] {
    const key = groupId.toString('hex');
    let list = this.#groups.get(key);
    if (!list) {
      if (this.#groups.size >= this.maxGroups) throw new RtmfpError('ERR_RTMFP_TOO_MANY_GROUPS', `more than ${this.maxGroups} groups`);
      list = [];
      this.#groups.set(key, list);
    }
    if (list.some((m) => m.peerId.equals(peerId) && m.handle === handle)) return [];
    if (list.length >= this.maxMembersPerGroup) throw new RtmfpError('ERR_RTMFP_GROUP_FULL', `group ${key.slice(0, 16)}... has ${list.length} members`);
    const member: GroupMember<T> = { peerId: Buffer.from(peerId), memberId: memberIdOf(peerId), handle };
    let at = 0;
    while (at < list.length && Buffer.compare(list[at]!.memberId, member.memberId) < 0) at++;
    const others = list.slice();
    list.splice(at, 0, member);
    if (others.length <= 6) return others;
    const chosen: GroupMember<T>[] = [];
    const n = others.length;
    // `others` in ring order; the newcomer would sit before index `at`.
    for (let i = 1; i <= 3; i++) chosen.push(others[(at - i + n * 4) % n]!);
    for (let i = 0; i < 3; i++) chosen.push(others[(at + i) % n]!);
    return Array.from(new Set(chosen));
  }

  leave(groupId: Buffer, handle: T): void {
    const key = groupId.toString('hex');
    const list = this.#groups.get(key);
    if (!list) return;
    const i = list.findIndex((m) => m.handle === handle);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#groups.delete(key);
  }

  /** Every group the handle is in (for a session that ends). */
  leaveAll(handle: T): void {
    for (const [key, list] of this.#groups) {
      const i = list.findIndex((m) => m.handle === handle);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.#groups.delete(key);
    }
  }
}
