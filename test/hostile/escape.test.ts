/**
 * Hostile script: tries every classic way out of a JS sandbox. Nothing of Node (process, require, Buffer,
 * host references, the host's Function constructor) may be reachable.
 */
import { RtmpClient } from '../../src/net/rtmp-client';
import { startBed, type Bed } from './hostile-helpers';

const attempts = String.raw`
function attempt(f) { try { var r = f(); return r === undefined || r === null ? "none" : typeof r; } catch (e) { return "threw"; } }
Client.prototype.dynamicImport = function () { return eval("import('fs')"); };
Client.prototype.escape = function () {
  var out = {};
  out.process = attempt(function () { return process; });
  out.require = attempt(function () { return require; });
  out.buffer = attempt(function () { return Buffer; });
  out.ctorProcess = attempt(function () { return this.constructor.constructor("return typeof process == 'undefined' ? null : process")(); });
  out.fnThisProcess = attempt(function () { return Function("return this")().process; });
  out.clientCtor = attempt(function () { return Client.constructor.constructor("return typeof require == 'undefined' ? null : require")(); });
  out.appCtor = attempt(function () { return application.constructor.constructor("return typeof module == 'undefined' ? null : module")(); });
  out.traceCaller = attempt(function () { return trace.caller; });
  out.globalRefs = attempt(function () {
    var names = Object.getOwnPropertyNames(globalThis);
    for (var i = 0; i < names.length; i++) {
      var v = globalThis[names[i]];
      if (v && typeof v === "object" && typeof v.applySync === "function") return v;
      if (/ssas|host|ivm/i.test(names[i])) return names[i];
    }
    return null;
  });
  // Stack frames and caller chains only ever expose the script's own functions, never sandbox or host ones.
  // The pattern is built from pieces so that this script's own source does not match it.
  var foreign = new RegExp(["host" + "Sync", "host" + "Async", "apply" + "SyncPromise", "ssas" + "Core", "S\\.em" + "it\\("].join("|"));
  var isForeign = function (f) { return foreign.test(Function.prototype.toString.call(f)); };
  out.stackTrick = attempt(function () {
    var leaked = null;
    Error.prepareStackTrace = function (e, frames) {
      for (var i = 0; i < frames.length; i++) { var f = frames[i].getFunction && frames[i].getFunction(); if (f && isForeign(f)) leaked = f; }
      return "";
    };
    new Error("x").stack;
    Error.prepareStackTrace = undefined;
    return leaked;
  });
  out.callerChain = attempt(function probe() {
    var f = probe;
    for (var i = 0; i < 20 && f; i++) { if (isForeign(f)) return f; f = f.caller; }
    return null;
  });
  Object.prototype.polluted = "yes";
  return out;
};
`;

let bed: Bed;
beforeAll(async () => {
  bed = await startBed({ escape: { 'main.asc': attempts } });
});
afterAll(() => bed.close());

it('reaches nothing of the host', async () => {
  const c = await RtmpClient.connect(`${bed.base}/escape`);
  const r = (await c.call('escape')) as Record<string, string>;
  expect(r).toEqual({
    process: 'threw',
    require: 'threw',
    buffer: 'threw',
    ctorProcess: 'none',
    fnThisProcess: 'none',
    clientCtor: 'none',
    appCtor: 'none',
    traceCaller: expect.stringMatching(/none|threw/),
    globalRefs: 'none',
    stackTrick: expect.stringMatching(/none|threw/),
    callerChain: expect.stringMatching(/none|threw/),
    // Pollution of Object.prototype shows in what the script serialises, as it did on FMS (for-in).
    polluted: 'yes',
  });
  // Pollution inside the isolate does not reach the host realm.
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  c.close();
});

it('a dynamic import() (refused by isolated-vm outside the script control) costs only that instance', async () => {
  const c = await RtmpClient.connect(`${bed.base}/escape`);
  const codes: string[] = [];
  c.onStatus = (i) => codes.push(i.code);
  const closed = new Promise<void>((r) => (c.onClose = () => r()));
  await c.call('dynamicImport').catch(() => null);
  await closed;
  expect(codes).toContain('NetConnection.Connect.AppShutdown');
  const d = await RtmpClient.connect(`${bed.base}/escape`);
  expect(((await d.call('escape')) as Record<string, string>).process).toBe('threw');
  d.close();
});
