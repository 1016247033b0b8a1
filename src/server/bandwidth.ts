/**
 * FMS 3 native bandwidth detection (Client.checkBandwidth / nc.call("checkBandwidth")): the server calls the
 * client's onBWCheck repeatedly, first empty to measure latency, then with DataSize-byte payloads for up to
 * MaxWait seconds, and finally onBWDone(kbpsDown, deltaDown, deltaTime, latency) (ssas-api.md 3.2, 11.3).
 *
 * The same check answers `_checkbw`, which librtmp (rtmpdump) and ffmpeg send when a server calls their
 * onBWDone: FMS ran it with the underscore names, `_onbwcheck` rounds and a final `_onbwdone`, and never
 * answered `_checkbw` itself (librtmp answers `_onbwcheck` and forgets its `_checkbw` at `_onbwdone`; an
 * onBWDone there would make ffmpeg send `_checkbw` again). ffmpeg answers neither, so a round that gets no
 * answer within MaxWait ends the check quietly.
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

/** The client methods a check calls: FMS 3's for checkBandwidth, FMS's underscore pair for `_checkbw`. */
export interface BandwidthMethods {
  check: string;
  done: string;
}

export const checkBandwidthMethods: BandwidthMethods = { check: 'onBWCheck', done: 'onBWDone' };
export const checkbwMethods: BandwidthMethods = { check: '_onbwcheck', done: '_onbwdone' };

export async function checkBandwidth(
  session: ClientSession,
  cfg: BandwidthDetection = defaultBandwidthDetection,
  methods: BandwidthMethods = checkBandwidthMethods,
): Promise<BandwidthResult | null> {
  if (!cfg.enabled || session.state !== 'connected') return null;
  const waitMs = Math.max(1000, cfg.maxWait * 1000);
  const round = async (payload: string | null): Promise<number> => {
    const t0 = process.hrtime.bigint();
    const p = session.call(methods.check, true, payload === null ? [] : [payload]);
    if (!p) return -1;
    let timer: NodeJS.Timeout | undefined;
    const answered = await Promise.race([
      p.then(() => true),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), waitMs);
        timer.unref?.();
      }),
    ]);
    clearTimeout(timer);
    return answered ? Number(process.hrtime.bigint() - t0) / 1e6 : -1;
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
  session.call(methods.done, false, [result.kbpsDown, result.deltaDown, result.deltaTime, result.latency]);
  return result;
}
