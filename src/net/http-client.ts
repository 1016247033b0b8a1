/**
 * The one HTTP client of the script classes (XML.load/send/sendAndLoad, LoadVars, WebService, Flash
 * Remoting): Node's fetch (undici) with the limits a server needs when scripts reach out. A request may take
 * at most `timeoutMs` in all (connect, headers and body), its answer may be at most `maxResponseBytes` (read as
 * it streams: a huge answer is cut off, never buffered whole), redirects are followed by hand, at most
 * `maxRedirects`, each target checked like the first URL, and only http: and https: URLs whose host matches
 * the allow-list (Application.xml `JSEngine/NetworkAccess/Allow`; no list = every host) are fetched.
 *
 * Failures never throw: the result says what happened with a stable code (ERR_HTTP_*), and the caller turns
 * it into the callbacks the script documentation gives (onHTTPStatus(0), onLoad(false), onStatus...).
 */
import { getLogger } from '../logger';

const log = getLogger('http');

export interface HttpLimits {
  /** Milliseconds for the whole request, body included. */
  timeoutMs: number;
  /** Most bytes of a response body. */
  maxResponseBytes: number;
  /** Most redirects followed. */
  maxRedirects: number;
  /** Host patterns that may be reached (see hostAllowed); null = any host. */
  allow: string[] | null;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  timeoutMs: 30_000,
  maxResponseBytes: 16 * 1024 * 1024,
  maxRedirects: 5,
  allow: null,
};

export interface HttpRequest {
  method: string;
  url: string;
  headers?: [string, string][];
  body?: string | Uint8Array | null;
  /** Cancels the request (the instance unloaded). */
  signal?: AbortSignal;
  /** Told as the body arrives: bytes so far and Content-Length (undefined when not sent). */
  onProgress?: (loaded: number, total: number | undefined) => void;
}

export type HttpErrorCode =
  | 'ERR_HTTP_BAD_URL'
  | 'ERR_HTTP_NOT_ALLOWED'
  | 'ERR_HTTP_TIMEOUT'
  | 'ERR_HTTP_TOO_LARGE'
  | 'ERR_HTTP_TOO_MANY_REDIRECTS'
  | 'ERR_HTTP_FAILED'
  | 'ERR_HTTP_ABORTED';

export interface HttpResult {
  /** The HTTP status, or 0 when no HTTP answer came (refused, timed out, not allowed...). */
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Where the answer came from (after redirects). */
  url: string;
  /** Set when the request failed; a response with an HTTP error status is not a failure here. */
  error?: { code: HttpErrorCode; message: string };
}

/**
 * Whether `url`'s host may be reached. Patterns: `host`, `host:port`, `*.domain` (the domain and any
 * sub-domain), `*` (anything), each optionally with `:port` or `:*`; IPv6 hosts in brackets. Case-insensitive.
 */
export function hostAllowed(url: URL, allow: string[] | null): boolean {
  if (allow === null) return true;
  const host = url.hostname.toLowerCase();
  const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
  for (const raw of allow) {
    const p = raw.trim().toLowerCase();
    if (p === '') continue;
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+|\*))?$/.exec(p);
    if (!m) continue;
    const h = m[1]!;
    const wantPort = m[2];
    if (wantPort !== undefined && wantPort !== '*' && wantPort !== port) continue;
    if (h === '*') return true;
    if (h.startsWith('*.')) {
      const d = h.slice(2);
      if (host === d || host.endsWith('.' + d)) return true;
      continue;
    }
    if (h === host) return true;
  }
  return false;
}

function fail(code: HttpErrorCode, message: string, url: string): HttpResult {
  return { status: 0, headers: {}, body: Buffer.alloc(0), url, error: { code, message } };
}

function parseUrl(raw: string, base?: string): URL | null {
  try {
    return base === undefined ? new URL(raw) : new URL(raw, base);
  } catch {
    return null;
  }
}

/** Performs one request within the limits; never throws. */
export async function httpRequest(req: HttpRequest, limits: HttpLimits = DEFAULT_HTTP_LIMITS): Promise<HttpResult> {
  const first = parseUrl(req.url);
  if (!first || (first.protocol !== 'http:' && first.protocol !== 'https:')) {
    return fail('ERR_HTTP_BAD_URL', `not an http or https URL: ${req.url}`, req.url);
  }
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), Math.max(1, limits.timeoutMs));
  timer.unref?.();
  const onAbort = (): void => timeout.abort();
  req.signal?.addEventListener('abort', onAbort, { once: true });
  let url = first;
  let method = req.method.toUpperCase();
  let body: string | Uint8Array | null | undefined = req.body;
  try {
    for (let hop = 0; ; hop++) {
      if (!hostAllowed(url, limits.allow)) {
        return fail('ERR_HTTP_NOT_ALLOWED', `${url.host} is not in the network allow-list (Application.xml JSEngine/NetworkAccess)`, url.href);
      }
      let res: Response;
      try {
        res = await fetch(url, {
          method,
          headers: req.headers ?? [],
          body: method === 'GET' || method === 'HEAD' ? undefined : (body ?? undefined),
          redirect: 'manual',
          signal: timeout.signal,
        });
      } catch (err) {
        if (req.signal?.aborted) return fail('ERR_HTTP_ABORTED', 'the request was cancelled', url.href);
        if (timeout.signal.aborted) return fail('ERR_HTTP_TIMEOUT', `no complete answer from ${url.host} within ${limits.timeoutMs} ms`, url.href);
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        return fail('ERR_HTTP_FAILED', `${url.host}: ${cause?.code ?? ''} ${cause?.message ?? (err as Error).message}`.trim(), url.href);
      }
      if (res.status >= 300 && res.status < 400 && res.headers.has('location')) {
        await res.body?.cancel().catch(() => undefined);
        if (hop >= limits.maxRedirects) {
          return fail('ERR_HTTP_TOO_MANY_REDIRECTS', `more than ${limits.maxRedirects} redirects from ${req.url}`, url.href);
        }
        const next = parseUrl(res.headers.get('location')!, url.href);
        if (!next || (next.protocol !== 'http:' && next.protocol !== 'https:')) {
          return fail('ERR_HTTP_BAD_URL', `redirect to a URL that is not http or https: ${res.headers.get('location')}`, url.href);
        }
        // 303, and 301/302 after a POST (as browsers do), continue as GET without a body.
        if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
          method = 'GET';
          body = undefined;
        }
        url = next;
        continue;
      }
      return await readBody(res, url.href, limits, timeout.signal, req);
    }
  } finally {
    clearTimeout(timer);
    req.signal?.removeEventListener('abort', onAbort);
  }
}

async function readBody(res: Response, url: string, limits: HttpLimits, signal: AbortSignal, req: HttpRequest): Promise<HttpResult> {
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    headers[k] = v;
  });
  const lengthHeader = res.headers.get('content-length');
  const total = lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
  if (total !== undefined && total > limits.maxResponseBytes) {
    await res.body?.cancel().catch(() => undefined);
    return { ...fail('ERR_HTTP_TOO_LARGE', `the answer is ${total} bytes (limit ${limits.maxResponseBytes})`, url), status: res.status, headers };
  }
  const chunks: Buffer[] = [];
  let loaded = 0;
  req.onProgress?.(0, total);
  if (res.body) {
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        loaded += value.byteLength;
        if (loaded > limits.maxResponseBytes) {
          await reader.cancel().catch(() => undefined);
          return { ...fail('ERR_HTTP_TOO_LARGE', `the answer is larger than ${limits.maxResponseBytes} bytes`, url), status: res.status, headers };
        }
        chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
        req.onProgress?.(loaded, total);
      }
    } catch (err) {
      if (req.signal?.aborted) return fail('ERR_HTTP_ABORTED', 'the request was cancelled', url);
      if (signal.aborted) return { ...fail('ERR_HTTP_TIMEOUT', `the answer did not complete within ${limits.timeoutMs} ms`, url), status: res.status, headers };
      log.debug(`${url}: body failed: ${(err as Error).message}`);
      return { ...fail('ERR_HTTP_FAILED', `the answer from ${url} broke off: ${(err as Error).message}`, url), status: res.status, headers };
    }
  }
  return { status: res.status, headers, body: Buffer.concat(chunks, loaded), url };
}

/** The text of a response body: the charset of its Content-Type (UTF-8 by default), a BOM dropped. */
export function decodeBody(result: HttpResult): string {
  const ct = result.headers['content-type'] ?? '';
  const m = /charset\s*=\s*"?([^";\s]+)/i.exec(ct);
  const label = m ? m[1]!.toLowerCase() : 'utf-8';
  try {
    return new TextDecoder(label).decode(result.body);
  } catch {
    return new TextDecoder('utf-8').decode(result.body);
  }
}
