// @ts-check
'use strict';
/**
 * ssas in a process of its own, started with `fork` by the bridge benchmark: the same Server the CLI builds
 * (`createServer` from dist/server/create.js), or a plain Server whose logic answers `echo` in TypeScript
 * with no sandbox at all (the reference of the bridge round trip). Unlike `ssas serve`, it answers the
 * parent's questions about its insides over IPC: isolate heaps, instance load times, memory.
 *
 *   argv: --mode script|plain --apps DIR [--root SSAS_ROOT]
 *   out:  {type:'listening', port}
 *   in:   {cmd:'stats', id, gc?}  -> {type:'stats', id, rss, heapUsed, external, instances, isolates, clients, isolateHeap,
 *                                      counters: {events, batches, hostCalls} summed over the runtimes}
 *         {cmd:'loads', id}       -> {type:'loads', id, loads}   (and forgets them)
 *         {cmd:'stop'}            -> closes the server and exits
 *
 * `loads` lists, per instance loaded since the last `loads`, the milliseconds ScriptLogic.load took (isolate,
 * sandbox, compiling and running main.asc, onAppStart) and the part of it spent before the script ran
 * (ScriptRuntime.create: isolate + context + sandbox facades).
 */
const path = require('node:path');

/** @param {string} name */
function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const root = path.resolve(arg('root') || process.env.BENCH_SSAS_ROOT || path.join(__dirname, '..', '..'));
const mode = arg('mode') || 'script';
const apps = path.resolve(/** @type {string} */ (arg('apps')));
const dist = (/** @type {string} */ p) => require(path.join(root, 'dist', p));

const { setLogLevel } = dist('logger.js');
const { logToStream } = dist('cli/output.js');
setLogLevel('warn');
logToStream();

/** @type {{ms:number, createMs:number, instance:string}[]} */
let loads = [];

function build() {
  if (mode === 'plain') {
    const { Server } = dist('server/server.js');
    const { DefaultLogic } = dist('server/app-logic.js');
    // The same round trip answered in TypeScript: what the session does around a call, minus the sandbox.
    class EchoLogic extends DefaultLogic {
      /** @param {unknown} _session @param {string} name @param {unknown[]} args @param {(o: unknown) => void} respond */
      onCall(_session, name, args, respond) {
        if (name === 'echo') respond({ kind: 'result', value: args.length > 0 ? args[0] : null });
        else respond({ kind: 'notFound' });
      }
    }
    return new Server({ appsDir: apps, port: 0, logicFactory: () => new EchoLogic(), defaultIdleTimeoutSec: 600 });
  }
  const { createServer } = dist('server/create.js');
  return createServer({
    appsDir: apps,
    port: 0,
    defaultIdleTimeoutSec: 600,
    /** @param {any} logic */
    onScriptLogic: (logic) => {
      // Times load() and, through the moment `runtime` is assigned, the isolate + sandbox part of it.
      let createdAt = 0;
      let rt = logic.runtime;
      Object.defineProperty(logic, 'runtime', {
        configurable: true,
        enumerable: true,
        get: () => rt,
        set: (v) => {
          if (v && !createdAt) createdAt = performance.now();
          rt = v;
        },
      });
      const load = logic.load.bind(logic);
      logic.load = async () => {
        const t0 = performance.now();
        await load();
        loads.push({ instance: logic.instance.name, ms: performance.now() - t0, createMs: (createdAt || performance.now()) - t0 });
      };
    },
  });
}

const server = build();

/** @param {unknown} m */
function send(m) {
  if (process.send) process.send(m);
}

function stats() {
  let isolateHeap = 0;
  let isolates = 0;
  let clients = 0;
  const counters = { events: 0, batches: 0, hostCalls: 0 };
  for (const inst of server.instances.values()) {
    clients += inst.clients.length;
    const rt = /** @type {any} */ (inst.logic).runtime;
    if (rt && typeof rt.heapUsed === 'function') {
      isolateHeap += rt.heapUsed();
      isolates++;
      for (const k of /** @type {const} */ (['events', 'batches', 'hostCalls'])) counters[k] += rt.counters?.[k] ?? 0;
    }
  }
  const mu = process.memoryUsage();
  return { rss: mu.rss, heapUsed: mu.heapUsed, external: mu.external, instances: server.instances.size, isolates, clients, isolateHeap, counters };
}

process.on('message', async (/** @type {any} */ m) => {
  if (m.cmd === 'stats') {
    if (m.gc && typeof global.gc === 'function') {
      global.gc();
      await new Promise((r) => setTimeout(r, 50));
      global.gc();
    }
    send({ type: 'stats', id: m.id, ...stats() });
  } else if (m.cmd === 'loads') {
    send({ type: 'loads', id: m.id, loads });
    loads = [];
  } else if (m.cmd === 'stop') {
    const t = setTimeout(() => process.exit(0), 5000);
    await server.close().catch(() => undefined);
    clearTimeout(t);
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));

server.listen().then(
  (/** @type {{port:number}} */ a) => send({ type: 'listening', port: a.port }),
  (/** @type {Error} */ e) => {
    process.stderr.write(`server-host: ${e.stack || e}\n`);
    process.exit(1);
  },
);
