/**
 * The one connection interface every transport implements for the layers above it: a client session on
 * the server (src/server/session.ts) and our own client (src/net/rtmp-client.ts) both speak RTMP messages
 * (type, stream id, timestamp, payload) and never see how they travel. RTMP carries them in chunks over
 * TCP (src/net/rtmp-connection.ts); RTMFP carries them as user messages on flows (RFC 7425 section 5,
 * src/net/rtmfp-connection.ts).
 */
import type { SsasError } from '../errors';
import type { RtmpMessage } from '../rtmp/types';

export interface ConnectionStats {
  bytesIn: number;
  bytesOut: number;
  msgIn: number;
  msgOut: number;
  msgDropped: number;
  /** Live audio/video messages skipped for this player (slow or over its bandwidth limit), and their bytes. */
  droppedAudioMsgs: number;
  droppedVideoMsgs: number;
  droppedAudioBytes: number;
  droppedVideoBytes: number;
}

export function newConnectionStats(): ConnectionStats {
  return {
    bytesIn: 0,
    bytesOut: 0,
    msgIn: 0,
    msgOut: 0,
    msgDropped: 0,
    droppedAudioMsgs: 0,
    droppedVideoMsgs: 0,
    droppedAudioBytes: 0,
    droppedVideoBytes: 0,
  };
}

/** A live message as fan-out hands it to every player (src/server/live-stream.ts LiveMessage). */
export interface OutgoingLiveMessage {
  readonly type: number;
  readonly timestamp: number;
  readonly payload: Buffer;
  readonly keyframe: boolean;
  /** Sequence headers and data: never abandoned. */
  readonly essential: boolean;
  /** The message chunked for RTMP (cached across players with the same chunk size and stream id). */
  chunked(chunkSize: number, streamId: number): Buffer;
}

/** What RTMFP adds about the two ends (FMS 4 Client.farID / nearID / farNonce / nearNonce), hex strings. */
export interface PeerIdentity {
  farId: string;
  nearId: string;
  farNonce: string;
  nearNonce: string;
}

/** What the server announces when a connect arrives (RTMP: window size, peer bandwidth, chunk size). */
export interface SessionStartSettings {
  windowAckSize: number;
  peerBandwidth: number;
  chunkSize: number;
}

export type TransportProtocol = 'rtmp' | 'rtmfp';

export interface MessageConnection {
  readonly protocol: TransportProtocol;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly closed: boolean;
  /** Bytes queued for this peer and not yet sent: fan-out skips a player that is too far behind. */
  readonly backlog: number;
  /** Round trip of the last answered ping (RTMP) or the smoothed RTT (RTMFP), in ms. */
  readonly pingRtt: number;
  readonly stats: ConnectionStats;
  /** RTMFP peer ids and nonces; null over RTMP. */
  readonly identity: PeerIdentity | null;

  /** Every message except the transport's own control traffic. */
  onMessage: (msg: RtmpMessage) => void;
  /** Once, when the connection is gone; `err` says why when it was not a clean close. */
  onClose: (err?: SsasError) => void;

  /** Server side: the client's connect arrived; announce what the transport announces at that point. */
  beginSession(settings: SessionStartSettings): void;
  /** Commands, data, user control and media of one message stream. */
  send(msg: RtmpMessage): void;
  /** A live media or data message fanned out to this player on `streamId`. */
  sendLive(msg: OutgoingLiveMessage, streamId: number): void;
  sendUserControl(event: number, value: number, extra?: number): void;
  /** A NetStream of this connection is deleted: the transport may release what it kept for it. */
  releaseStream(streamId: number): void;
  /** Resolves with the round trip in ms, or -1 if no answer within timeoutMs. */
  ping(timeoutMs?: number): Promise<number>;
  /** Client-to-server limit in bytes per second (0 = none). */
  setInboundLimit(bytesPerSecond: number): void;
  /**
   * Stop (true) or go on (false) reading what the peer sends, while what it already sent is being
   * handled (too many calls waiting for the application). RTMP pauses the socket: TCP pushes back.
   */
  holdInput(hold: boolean): void;
  /** Counts bytes against a server-to-client budget per second; false when this second's budget is spent. */
  takeOutbound(bytes: number, limit: number): boolean;
  /** RTMFP: the addresses a client reported for itself (setPeerInfo), used to introduce peers to it. */
  setPeerInfo?(addresses: string[]): void;
  /** Flushes what is queued and closes gracefully. */
  close(): void;
  /** Closes at once (protocol violation, limit exceeded). */
  destroy(err?: SsasError): void;
}
