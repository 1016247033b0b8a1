/**
 * The bridge part of GroupSpecifier and NetGroup (sandbox/group.js): groupspec strings made by
 * src/rtmfp/groupspec.ts, and NetGroup handles on the host's group membership (src/host/net-group.ts).
 */
import { randomBytes } from 'node:crypto';
import type { AmfValue } from '../amf';
import { ServerNetGroup } from '../host/net-group';
import {
  GS_BOOTSTRAP_PEER,
  GS_IP_MULTICAST_ADDRESS,
  GS_POSTING_AUTHORIZATION,
  GS_PUBLISH_AUTHORIZATION,
  emptyGroupSpec,
  encodeIpMulticastAddress,
  groupspecString,
  groupspecWithoutAuthorizations,
  encodeAuthorizations,
  memberIdOf,
  passwordHash,
  type GroupSpec,
  type IpMulticastAddress,
} from '../rtmfp/groupspec';
import { option } from '../rtmfp/wire';
import { fromIsolate, toIsolate } from './marshal';
import type { NetExtension } from './net-extension';
import type { HostRequest, ScriptOp } from './runtime';
import type { ScriptExtension, ScriptLogic } from './script-logic';

interface ScriptSpec {
  name: string;
  unique: string | null;
  version: number;
  flags: Record<string, boolean>;
  publish: { password: string; salt: string | null } | null;
  posting: { password: string; salt: string | null } | null;
  ipMulticast: IpMulticastAddress[];
  bootstrap: string[];
}

function toSpec(s: ScriptSpec): GroupSpec {
  const f = s.flags ?? {};
  return {
    ...emptyGroupSpec(String(s.name)),
    unique: s.unique ?? null,
    version: Number(s.version) >= 2 ? 2 : 1,
    routingEnabled: f.routingEnabled === true,
    multicastEnabled: f.multicastEnabled === true,
    objectReplicationEnabled: f.objectReplicationEnabled === true,
    postingEnabled: f.postingEnabled === true,
    serverChannelEnabled: f.serverChannelEnabled === true,
    peerToPeerDisabled: f.peerToPeerDisabled === true,
    ipMulticastMemberUpdatesEnabled: f.ipMulticastMemberUpdatesEnabled === true,
    publishPasswordHash: s.publish ? passwordHash(s.publish.password, s.publish.salt) : null,
    postingPasswordHash: s.posting ? passwordHash(s.posting.password, s.posting.salt) : null,
    publishPassword: s.publish ? s.publish.password : null,
    postingPassword: s.posting ? s.posting.password : null,
    ipMulticastAddresses: Array.isArray(s.ipMulticast) ? s.ipMulticast : [],
    bootstrapPeers: Array.isArray(s.bootstrap) ? s.bootstrap : [],
  };
}

/**
 * addIPMulticastAddress(address, port, source) as AS3 reads it: "a.b.c.d:p", "[a.b.c.d]:p", "[v6]:p", or
 * the port as its own argument; IPv6 tried first. Throws an Error the script sees for anything else.
 */
export function parseIpMulticast(address: unknown, port: unknown, source: unknown): IpMulticastAddress {
  const text = String(address ?? '');
  let host = text;
  let p: number | null = port === null || port === undefined ? null : Number(port);
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const v4port = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(text);
  if (bracket) {
    host = bracket[1]!;
    if (bracket[2] !== undefined) p = Number(bracket[2]);
  } else if (v4port) {
    host = v4port[1]!;
    p = Number(v4port[2]);
  }
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(host) && !/^[0-9a-fA-F:]+$/.test(host)) throw new Error(`addIPMulticastAddress(): invalid address ${text}`);
  if (p === null || !(p >= 1 && p <= 65535) || Math.floor(p) !== p) throw new Error(`addIPMulticastAddress(): invalid or missing port for ${text}`);
  const a: IpMulticastAddress = { address: host, port: p };
  if (source !== null && source !== undefined && String(source) !== '') a.source = String(source);
  encodeIpMulticastAddress(a); // validates the addresses
  return a;
}

export class GroupExtension implements ScriptExtension {
  readonly #net: NetExtension;
  readonly #groups = new WeakMap<ScriptLogic, Map<number, ServerNetGroup>>();

  constructor(net: NetExtension) {
    this.#net = net;
  }

  #of(logic: ScriptLogic): Map<number, ServerNetGroup> {
    let m = this.#groups.get(logic);
    if (!m) {
      m = new Map();
      this.#groups.set(logic, m);
    }
    return m;
  }

  op(logic: ScriptLogic, op: ScriptOp): boolean {
    switch (op.op) {
      case 'ngCreate': {
        const id = Number(op.id);
        const nc = Number(op.nc) >= 0 ? this.#net.netConnection(logic, Number(op.nc)) : undefined;
        const post = (info: Record<string, AmfValue>): void => void logic.runtime?.post({ e: 'ngStatus', id, info: toIsolate(info) });
        const ng = new ServerNetGroup(nc ?? null, String(op.groupspec ?? ''), post);
        this.#of(logic).set(id, ng);
        logic.instance.closers.add(() => ng.close());
        return true;
      }
      case 'ngClose':
        this.#of(logic).get(Number(op.id))?.close();
        return true;
      case 'ngReceiveMode':
        this.#of(logic).get(Number(op.id))?.setReceiveMode(op.mode === 'nearest' ? 'nearest' : 'exact');
        return true;
    }
    return false;
  }

  request(logic: ScriptLogic, req: HostRequest): { value: AmfValue } | undefined {
    switch (req.t) {
      case 'groupspec':
        return { value: this.#groupspec(fromIsolate(req.spec) as Record<string, AmfValue>, String(req.form)) };
      case 'ngGroupAddress':
        return { value: /^[0-9a-fA-F]{64}$/.test(String(req.peerID)) ? memberIdOf(Buffer.from(String(req.peerID), 'hex')).toString('hex') : '' };
    }
    const ng = this.#of(logic).get(Number(req.id));
    switch (req.t) {
      case 'ngState':
        return { value: ng ? ng.state() : { neighborCount: 0, estimatedMemberCount: 0, localCoverageFrom: '', localCoverageTo: '', info: {} } };
      case 'ngPost':
        return { value: ng ? ng.post(fromIsolate(req.message)) : null };
      case 'ngSendTo':
        return { value: ng ? ng.sendTo(String(req.how), req.target === null ? null : String(req.target), fromIsolate(req.message)) : 'error' };
      case 'ngAddNeighbor':
        return { value: ng ? ng.addNeighbor(String(req.peerID)) : false };
    }
    return undefined;
  }

  #groupspec(spec: Record<string, AmfValue>, form: string): AmfValue {
    try {
      switch (form) {
        case 'with':
          return groupspecString(toSpec(spec as unknown as ScriptSpec));
        case 'without':
          return groupspecWithoutAuthorizations(toSpec(spec as unknown as ScriptSpec));
        case 'authorizations':
          return encodeAuthorizations(toSpec(spec as unknown as ScriptSpec)).toString('hex');
        case 'unique':
          return randomBytes(16).toString('hex');
        case 'checkAddress':
          return JSON.stringify(parseIpMulticast(spec.address, spec.port, spec.source));
        case 'addressSpec':
          return option(GS_IP_MULTICAST_ADDRESS, encodeIpMulticastAddress(parseIpMulticast(spec.address, spec.port, spec.source))).toString('hex');
        case 'bootstrapSpec':
          if (!/^[0-9a-fA-F]{64}$/.test(String(spec.peerID))) throw new Error('encodeBootstrapPeerIDSpec(): a peer ID is 64 hexadecimal digits');
          return option(GS_BOOTSTRAP_PEER, Buffer.from(String(spec.peerID), 'hex')).toString('hex');
        case 'publishAuthorization':
          return option(GS_PUBLISH_AUTHORIZATION, Buffer.from(String(spec.password), 'utf8')).toString('hex');
        case 'postingAuthorization':
          return option(GS_POSTING_AUTHORIZATION, Buffer.from(String(spec.password), 'utf8')).toString('hex');
      }
      return { error: `unknown groupspec form ${form}` };
    } catch (err) {
      return { error: (err as Error).message };
    }
  }

  dispose(logic: ScriptLogic): void {
    for (const ng of this.#of(logic).values()) ng.close();
    this.#groups.delete(logic);
  }
}
