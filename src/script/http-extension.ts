/**
 * The bridge part of HTTP from scripts (sandbox/http.js: XML, LoadVars, WebService): carries out
 * `httpRequest` ops with the one HTTP client (src/net/http-client.ts) and the instance's Application.xml
 * limits, and posts `httpProgress` / `httpDone` events back. At most MAX_CONCURRENT requests of an instance
 * run at once (the rest wait their turn, in order); an instance that unloads cancels what it has in flight.
 */
import type { ScriptExtension, ScriptLogic } from './script-logic';
import type { ScriptOp } from './runtime';
import { decodeBody, httpRequest, type HttpRequest, type HttpResult } from '../net/http-client';

const MAX_CONCURRENT = 16;
/** Progress events at most this often per request. */
const PROGRESS_MS = 100;

interface State {
  abort: AbortController;
  running: number;
  waiting: (() => void)[];
}

export class HttpExtension implements ScriptExtension {
  readonly #state = new WeakMap<ScriptLogic, State>();

  #of(logic: ScriptLogic): State {
    let s = this.#state.get(logic);
    if (!s) {
      s = { abort: new AbortController(), running: 0, waiting: [] };
      this.#state.set(logic, s);
    }
    return s;
  }

  /**
   * Runs a request for an instance within its limits and its concurrency bound. The promise never rejects.
   * Shared with Flash Remoting and WebService, which use the same client.
   */
  async fetch(logic: ScriptLogic, req: Omit<HttpRequest, 'signal'>): Promise<HttpResult> {
    const st = this.#of(logic);
    if (st.running >= MAX_CONCURRENT) await new Promise<void>((resolve) => st.waiting.push(resolve));
    st.running++;
    try {
      const res = await httpRequest({ ...req, signal: st.abort.signal }, logic.config.network);
      if (res.error && res.error.code !== 'ERR_HTTP_ABORTED') {
        logic.instance.log.info(`${req.method} ${req.url} failed: ${res.error.message} [${res.error.code}]`);
      }
      return res;
    } finally {
      st.running--;
      st.waiting.shift()?.();
    }
  }

  op(logic: ScriptLogic, op: ScriptOp): boolean {
    if (op.op !== 'httpRequest') return false;
    const id = Number(op.id);
    const headers = Array.isArray(op.headers)
      ? (op.headers as unknown[]).filter((h): h is [string, string] => Array.isArray(h) && h.length === 2).map((h) => [String(h[0]), String(h[1])] as [string, string])
      : [];
    const body = op.body === null || op.body === undefined ? null : op.body instanceof Uint8Array ? op.body : String(op.body);
    let lastProgress = 0;
    void this.fetch(logic, {
      method: String(op.method ?? 'GET'),
      url: String(op.url),
      headers,
      body,
      onProgress: (loaded, total) => {
        const now = Date.now();
        if (now - lastProgress < PROGRESS_MS) return;
        lastProgress = now;
        logic.runtime?.post({ e: 'httpProgress', id, loaded, total });
      },
    }).then((res) => {
      const ok = !res.error;
      logic.runtime?.post({
        e: 'httpDone',
        id,
        status: res.status,
        url: res.url,
        headers: res.headers,
        body: ok ? (op.binary === true ? new Uint8Array(res.body) : decodeBody(res)) : undefined,
        bytesLoaded: res.body.length,
        bytesTotal: res.body.length,
        error: res.error ? { code: res.error.code, message: res.error.message } : undefined,
      });
    });
    return true;
  }

  dispose(logic: ScriptLogic): void {
    const st = this.#state.get(logic);
    if (!st) return;
    st.abort.abort();
    for (const w of st.waiting.splice(0)) w();
    this.#state.delete(logic);
  }
}
