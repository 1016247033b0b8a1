'use strict';
/**
 * The command loop of a bench worker process (rtmp-worker.js, rtmfp-worker.js): the parent sends
 * { cmd, id, ... }, the worker runs handlers[cmd] and answers { type: 'done', id, ...result } or
 * { type: 'error', id, message }; { cmd: 'exit' } runs `onExit` and leaves after `exitDelayMs`.
 */

/**
 * @param {Record<string, (m: any) => any>} handlers
 * @param {{ onExit: () => void, exitDelayMs: number }} opts
 */
function serveCommands(handlers, opts) {
  process.on('message', async (/** @type {any} */ m) => {
    if (m.cmd === 'exit') {
      opts.onExit();
      setTimeout(() => process.exit(0), opts.exitDelayMs);
      return;
    }
    const h = handlers[m.cmd];
    try {
      if (!h) throw new Error(`unknown command ${m.cmd}`);
      const r = await h(m);
      process.send?.({ type: 'done', id: m.id, ...r });
    } catch (e) {
      process.send?.({ type: 'error', id: m.id, message: String((/** @type {Error} */ (e)).stack || e) });
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.on('unhandledRejection', () => {
    /* a client closing under a pending call: counted where it matters */
  });
}

module.exports = { serveCommands };
