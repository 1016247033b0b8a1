#!/usr/bin/env -S node --no-node-snapshot
'use strict';
// The `ssas` command. isolated-vm 5 on Node 20 needs --no-node-snapshot; when started without it (e.g. via a
// plain `node scripts/ssas.js`), run ourselves again with the flag and pass signals and the exit code through.
const path = require('node:path');
const fs = require('node:fs');

const hasFlag =
  process.execArgv.includes('--no-node-snapshot') || /(^|\s)--no-node-snapshot(\s|$)/.test(process.env.NODE_OPTIONS || '');
if (!hasFlag) {
  const { spawn } = require('node:child_process');
  const child = spawn(process.execPath, ['--no-node-snapshot', ...process.execArgv, __filename, ...process.argv.slice(2)], {
    stdio: 'inherit',
    // Should this wrapper die without passing a signal on (SIGKILL), the server stops on its own.
    env: { ...process.env, SSAS_STOP_WITH_PARENT: '1' },
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code === null ? (signal === 'SIGINT' ? 130 : 1) : code));
  return;
}

const main = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
if (!fs.existsSync(main)) {
  process.stderr.write('ssas is not built yet: run `npm install` (or `npm run build`) in ' + path.join(__dirname, '..') + '\n');
  process.exit(1);
}
require(main).main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    process.stderr.write(String((err && err.stack) || err) + '\n');
    process.exit(1);
  },
);
