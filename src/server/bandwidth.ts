/**
 * FMS 3 native bandwidth detection (Client.checkBandwidth / nc.call("checkBandwidth")): the server calls the
 * client's onBWCheck repeatedly, first empty to measure latency, then with DataSize-byte payloads for up to
 * MaxWait seconds, and finally onBWDone(kbpsDown, deltaDown, deltaTime, latency) (ssas-api.md 3.2, 11.3).
 */
import type { ClientSession } from './session';

export interface BandwidthDetection {
  enabled: boolean;
  /** Kbps ceiling reported (-1 = none). */
  maxRate: number;
  /** Bytes per onBWCheck payload. */
  dataSize: number;
  /** Seconds the measurement may take. */
  maxWait: number;
}

export const defaultBandwidthDetection: BandwidthDetection = { enabled: true, maxRate: -1, dataSize: 16384, maxWait: 2 };

export interface BandwidthResult {
  kbpsDown: number;
  deltaDown: number;
  deltaTime: number;
  latency: number;
}

export async function checkBandwidth(session: ClientSession, cfg: BandwidthDetection = defaultBandwidthDetection): Promise<BandwidthResult | null> {
  if (!cfg.enabled || session.state !== 'connected') return null;
  const round = async (payload: string | null): Promise<number> => {
    const t0 = process.hrtime.bigint();
    const p = session.call('onBWCheck', true, payload === null ? [] : [payload]);
    if (!p) return -1;
    await p;
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  let latency = Infinity;
  for (let i = 0; i < 3; i++) {
    const rtt = await round(null);
    if (rtt < 0) return null;
    latency = Math.min(latency, rtt);
  }
  const payload = 'x'.repeat(Math.max(1, Math.min(cfg.dataSize, 1 << 20)));
  const started = Date.now();
  let bytes = 0;
  let elapsedMs = 0;
  for (let i = 0; i < 64 && Date.now() - started < cfg.maxWait * 1000; i++) {
    const rtt = await round(payload);
    if (rtt < 0) return null;
    bytes += payload.length;
    elapsedMs += rtt;
  }
  const transferMs = Math.max(0.001, elapsedMs - latency * Math.max(1, Math.round(bytes / payload.length)) * 0.5);
  let kbps = (bytes * 8) / transferMs;
  if (cfg.maxRate > 0) kbps = Math.min(kbps, cfg.maxRate);
  const result: BandwidthResult = {
    kbpsDown: Math.round(kbps),
    deltaDown: Math.round(bytes / 1024),
    deltaTime: Math.round(elapsedMs),
    latency: Math.round(latency),
  };
  session.call('onBWDone', false, [result.kbpsDown, result.deltaDown, result.deltaTime, result.latency]);
  return result;
}
