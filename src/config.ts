/**
 * The one server configuration: typed defaults plus a single merge-and-validate step (the shape of hls.js
 * src/config.ts). Per-application settings from Application.xml layer on top of `app` defaults elsewhere.
 */
import { ConfigError } from './errors';
import type { EndpointLimits } from './rtmfp/endpoint';
import type { SessionLimits } from './rtmfp/session';

export interface RtmpLimits {
  /** Largest message a peer may send (bytes); larger closes that connection with ERR_RTMP_MESSAGE_TOO_LARGE. */
  maxMessageSize: number;
  /** Most chunk streams a peer may have open at once. */
  maxChunkStreams: number;
  /** Largest chunk size a peer may set. */
  maxChunkSize: number;
  /** Seconds a new socket may take to finish the handshake and connect. */
  connectTimeoutSec: number;
  /**
   * Calls from one client handed to its application and not yet answered: at this many, ssas stops
   * reading that client's socket (TCP pushes back on the client) until half have been answered.
   */
  maxPendingCalls: number;
  /**
   * Bytes of unfinished messages all RTMP connections together may hold (each may hold up to 32 MB);
   * beyond it the connection holding the most is closed with ERR_RTMP_SERVER_BUFFER_LIMIT.
   */
  maxServerPendingBytes: number;
}

export interface ServerConfig {
  /** Folder whose sub-folders are applications. */
  appsDir: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /**
   * UDP port for RTMFP: null (the default) listens on the same number as the RTMP port (and runs without
   * RTMFP, with a warning, if that UDP port is taken); 0 turns RTMFP off.
   */
  rtmfpPort: number | null;
  /** RTMFP endpoint and session limits (src/rtmfp/endpoint.ts, session.ts defaults when absent). */
  rtmfpLimits: Partial<EndpointLimits>;
  rtmfpSessionLimits: Partial<SessionLimits>;
  /** Insist that RTMFP clients send HMACs / session sequence numbers (RFC 7425 4.6.5; Flash Player cannot). */
  rtmfpRequireHmac: boolean;
  rtmfpRequireSequence: boolean;
  /** Chunk size we send with (announced with SetChunkSize right after connect). */
  chunkSize: number;
  /** Window Acknowledgement Size we announce and Set Peer Bandwidth we ask for (bytes). */
  windowAckSize: number;
  peerBandwidth: number;
  limits: RtmpLimits;
  /**
   * A player whose socket holds more than this many unsent bytes stops receiving media until it has
   * drained below `playerLowWaterBytes` and the next key frame arrives.
   */
  playerHighWaterBytes: number;
  playerLowWaterBytes: number;
  /** Version strings reported to clients (fmsVer, data.version, application.server). */
  fmsVersion: string;
  /** Capabilities number of the connect _result (FMS 3.5 sent 31). */
  capabilities: number;
  /**
   * Under fan-out load (at least `writeBatchThreshold` connections written per flush), socket writes are
   * gathered for this many milliseconds so one writev carries several messages; 0 flushes every turn.
   */
  writeBatchMs: number;
  writeBatchThreshold: number;
  /**
   * Application instances loaded at once (FMS Vhost.xml ResourceLimits/MaxAppInstances, which overrides
   * this); a connect that would load one more is rejected until one unloads.
   */
  maxAppInstances: number;
  /**
   * Client connections (RTMP and RTMFP together) at once; more are closed as they arrive
   * (ERR_CONNECTION_LIMIT). FMS Vhost.xml ResourceLimits/MaxConnections overrides it.
   */
  maxConnections: number;
  /** Client connections from one IP address at once (0 = no limit). */
  maxConnectionsPerAddress: number;
  /**
   * trace() lines one application instance may log per second; beyond it lines are dropped, and how many
   * is logged once a second (a script that traces in a loop cannot fill the disk or the console).
   */
  traceLinesPerSecond: number;
  /** Folders Stream.setVirtualPath may map to besides the application's own and those Vhost.xml / Application.xml map. */
  virtualPathRoots: string[];
  /** Answer encoder RPCs (releaseStream, FCPublish, FCUnpublish, FCSubscribe, getStreamLength) when the script does not define them. */
  autoAnswerEncoderCalls: boolean;
}

export const defaultServerConfig: ServerConfig = {
  appsDir: './applications',
  host: '127.0.0.1',
  port: 1935,
  rtmfpPort: null,
  rtmfpLimits: {},
  rtmfpSessionLimits: {},
  rtmfpRequireHmac: false,
  rtmfpRequireSequence: false,
  chunkSize: 4096,
  windowAckSize: 2_500_000,
  peerBandwidth: 2_500_000,
  limits: {
    maxMessageSize: 0xffffff,
    maxChunkStreams: 64,
    maxChunkSize: 0xffffff,
    connectTimeoutSec: 30,
    maxPendingCalls: 256,
    maxServerPendingBytes: 256 * 1024 * 1024,
  },
  playerHighWaterBytes: 4 * 1024 * 1024,
  playerLowWaterBytes: 256 * 1024,
  fmsVersion: '3,5,7,7009',
  capabilities: 31,
  autoAnswerEncoderCalls: true,
  maxAppInstances: 250,
  maxConnections: 10_000,
  maxConnectionsPerAddress: 0,
  traceLinesPerSecond: 1000,
  virtualPathRoots: [],
  writeBatchMs: 20,
  writeBatchThreshold: 200,
};

export type PartialServerConfig = Partial<Omit<ServerConfig, 'limits'>> & { limits?: Partial<RtmpLimits> };

function checkInt(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError('ERR_CONFIG_INVALID', `${name} must be an integer in [${min}, ${max}], got ${v}`, { name, value: v });
  }
}

export function resolveServerConfig(partial: PartialServerConfig = {}): ServerConfig {
  const cfg: ServerConfig = {
    ...defaultServerConfig,
    ...stripUndefined(partial),
    limits: { ...defaultServerConfig.limits, ...stripUndefined(partial.limits ?? {}) },
  } as ServerConfig;
  checkInt('port', cfg.port, 0, 65535);
  if (cfg.rtmfpPort !== null) checkInt('rtmfpPort', cfg.rtmfpPort, 0, 65535);
  checkInt('chunkSize', cfg.chunkSize, 128, 0xffffff);
  checkInt('windowAckSize', cfg.windowAckSize, 1, 0x7fffffff);
  checkInt('peerBandwidth', cfg.peerBandwidth, 1, 0x7fffffff);
  checkInt('limits.maxMessageSize', cfg.limits.maxMessageSize, 1, 0xffffff);
  checkInt('limits.maxChunkStreams', cfg.limits.maxChunkStreams, 1, 65599);
  checkInt('limits.maxChunkSize', cfg.limits.maxChunkSize, 128, 0x7fffffff);
  checkInt('maxAppInstances', cfg.maxAppInstances, 1, 1_000_000);
  checkInt('maxConnections', cfg.maxConnections, 1, 10_000_000);
  checkInt('maxConnectionsPerAddress', cfg.maxConnectionsPerAddress, 0, 10_000_000);
  checkInt('traceLinesPerSecond', cfg.traceLinesPerSecond, 1, 10_000_000);
  checkInt('limits.maxPendingCalls', cfg.limits.maxPendingCalls, 1, 1_000_000);
  checkInt('limits.maxServerPendingBytes', cfg.limits.maxServerPendingBytes, 1024 * 1024, 2 ** 40);
  checkInt('writeBatchMs', cfg.writeBatchMs, 0, 1000);
  checkInt('writeBatchThreshold', cfg.writeBatchThreshold, 1, 1_000_000);
  if (cfg.playerLowWaterBytes > cfg.playerHighWaterBytes) {
    throw new ConfigError('ERR_CONFIG_INVALID', 'playerLowWaterBytes must not exceed playerHighWaterBytes');
  }
  return cfg;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
