/**
 * The SSAS Client object's host side: the properties FMS derives from the connect command and the socket
 * (ssas-api.md 3.1), and the access lists the script may change. The wire work (calls, status) is done by
 * the session that owns it; the script-side facade mirrors these values inside the isolate.
 */
import type { AmfValue } from '../amf';
import { accessAllows } from './access';
import type { PeerIdentity } from '../server/connection';

export interface ClientInit {
  id: string;
  ip: string;
  agent: string;
  referrer: string;
  pageUrl: string;
  uri: string;
  protocol: string;
  objectEncoding: number;
  farAddress: string;
  nearAddress: string;
  secure: boolean;
  /** The whole connect command object, for scripts that read unusual fields. */
  connectObject: Record<string, AmfValue>;
  /** RTMFP clients: farID, nearID, farNonce, nearNonce (FMS 4); absent over RTMP. */
  identity?: PeerIdentity | null;
}

export class Client {
  readonly id: string;
  readonly ip: string;
  readonly agent: string;
  readonly referrer: string;
  readonly pageUrl: string;
  readonly uri: string;
  readonly protocol: string;
  readonly objectEncoding: number;
  readonly farAddress: string;
  readonly nearAddress: string;
  readonly secure: boolean;
  readonly connectObject: Record<string, AmfValue>;
  readonly identity: PeerIdentity | null;
  /** RTMFP: the addresses the client reported for itself (setPeerInfo). */
  reportedAddresses: string[] = [];
  readAccess = '/';
  writeAccess = '/';
  audioSampleAccess = '';
  videoSampleAccess = '';
  virtualKey = '';
  /** Bytes per second; 0 = no limit set. */
  bandwidthLimitDown = 0;
  bandwidthLimitUp = 0;

  constructor(init: ClientInit) {
    this.id = init.id;
    this.ip = init.ip;
    this.agent = init.agent;
    this.referrer = init.referrer;
    this.pageUrl = init.pageUrl;
    this.uri = init.uri;
    this.protocol = init.protocol;
    this.objectEncoding = init.objectEncoding;
    this.farAddress = init.farAddress;
    this.nearAddress = init.nearAddress;
    this.secure = init.secure;
    this.connectObject = init.connectObject;
    this.identity = init.identity ?? null;
  }

  canRead(name: string): boolean {
    return accessAllows(this.readAccess, name);
  }

  canWrite(name: string): boolean {
    return accessAllows(this.writeAccess, name);
  }

  /** The snapshot of properties the script-side facade mirrors. */
  snapshot(): Record<string, AmfValue> {
    return {
      id: this.id,
      ip: this.ip,
      agent: this.agent,
      referrer: this.referrer,
      pageUrl: this.pageUrl,
      uri: this.uri,
      protocol: this.protocol,
      objectEncoding: this.objectEncoding,
      farAddress: this.farAddress,
      nearAddress: this.nearAddress,
      secure: this.secure,
      readAccess: this.readAccess,
      writeAccess: this.writeAccess,
      audioSampleAccess: this.audioSampleAccess,
      videoSampleAccess: this.videoSampleAccess,
      virtualKey: this.virtualKey,
      ...(this.identity
        ? { farID: this.identity.farId, nearID: this.identity.nearId, farNonce: this.identity.farNonce, nearNonce: this.identity.nearNonce }
        : {}),
    };
  }
}

let counter = 0;
/** FMS-like client ids: short, unique within the process, not guessable in sequence. */
export function newClientId(): string {
  counter = (counter + 1) % 0x100000;
  const rnd = Math.floor(Math.random() * 0x10000);
  return (counter.toString(16).padStart(5, '0') + rnd.toString(16).padStart(4, '0')).toUpperCase();
}
