#!/usr/bin/env node
// @ts-check
'use strict';
/**
 * `npm run fuzz -- TARGET [options]`: long-running fuzzers against the compiled code in dist/ (built by
 * `npm run build` or `npm install`; this script builds nothing). Each target is a module here exporting
 * `main(argv) -> Promise<exit code>`. See scripts/fuzz/README.md.
 */
const TARGETS = {
  rtmfp: () => require('./rtmfp.js'),
};

const USAGE = `usage: npm run fuzz -- TARGET [options]

targets:
  rtmfp    RTMFP decoders, flows, sessions and endpoints (src/rtmfp), see "npm run fuzz -- rtmfp --help"
`;

async function main() {
  const [name, ...rest] = process.argv.slice(2);
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  const load = TARGETS[/** @type {keyof typeof TARGETS} */ (name)];
  if (!load) {
    process.stderr.write(`unknown fuzz target "${name}"\n${USAGE}`);
    return 2;
  }
  return load().main(rest);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 1;
  },
);
