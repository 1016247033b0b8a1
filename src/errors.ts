/**
 * One error hierarchy for the whole server. Every error carries a stable `code` string that tests and
 * callers match on; messages are for people and may change. The brand lets `isSsasError` work across
 * realms (errors re-thrown through isolated-vm or jest's module registry lose their prototype chain).
 */
const kBrand = Symbol.for('ssas.error');

export class SsasError extends Error {
  /** Stable machine-readable code, e.g. `ERR_AMF_TRUNCATED`. */
  readonly code: string;
  /** Extra structured facts (offsets, limits, names) for logs and tests. */
  readonly details?: Record<string, unknown>;

  constructor(code: string, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    if (details) this.details = details;
    (this as unknown as Record<symbol, boolean>)[kBrand] = true;
  }

  override get name(): string {
    return this.constructor.name;
  }
}

export function isSsasError(err: unknown): err is SsasError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[kBrand] === true;
}

/** Malformed or unsupported AMF0/AMF3 data. */
export class AmfError extends SsasError {}
/** RTMP handshake, chunk stream or message framing violations, or a configured limit exceeded. */
export class RtmpError extends SsasError {}
/** RTMFP packets, chunks, handshakes and flows that are malformed, unverifiable or over a limit (RFC 7016/7425). */
export class RtmfpError extends SsasError {}
/** Media container problems: FLV, MP4/F4V, MP3 files that are truncated, corrupt or unsupported. */
export class MediaError extends SsasError {}
/** Script loading, compiling and sandbox failures (syntax errors, timeouts, memory exhaustion). */
export class ScriptError extends SsasError {}
/** Configuration problems: bad Application.xml, bad CLI options, missing folders. */
export class ConfigError extends SsasError {}
/** Socket-level failures of our own transports (refused, reset, timed out). */
export class NetError extends SsasError {}
