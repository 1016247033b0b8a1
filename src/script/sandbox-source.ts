/**
 * Builds the sandbox bootstrap from sandbox/*.js: the files are concatenated inside one function so that
 * nothing they define is global unless a facade puts it there on purpose. The function takes the host
 * references as arguments (never globals) and returns the dispatcher (and the shell's statement entry).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../cli/paths';

/** Load order matters: core first, the dispatcher last. */
export const SANDBOX_FILES = [
  'core.js',
  'amf.js',
  'globals.js',
  'application.js',
  'stream.js',
  'net-connection.js',
  'group.js',
  'shared-object.js',
  'xml-parse.js',
  'http.js',
  'xml.js',
  'xml-socket.js',
  'file.js',
  'byte-array.js',
  'web-service.js',
  'inspect.js',
  'dispatch.js',
];
/** The module functions each file defines, called in this order with the core object. */
const MODULES = [
  'ssasAmf',
  'ssasGlobals',
  'ssasApplication',
  'ssasStream',
  'ssasNetConnection',
  'ssasGroup',
  'ssasSharedObject',
  'ssasHttp',
  'ssasXml',
  'ssasXmlSocket',
  'ssasFile',
  'ssasByteArray',
  'ssasWebService',
  'ssasInspect',
];

/**
 * Libraries the sandbox runs as they are published (CommonJS modules of our dependencies): wrapped as
 * module functions that run on first use (S.vendor(id)), so an instance that never parses XML never
 * evaluates saxes.
 */
const VENDOR = ['saxes', 'xmlchars/xml/1.0/ed5', 'xmlchars/xml/1.1/ed2', 'xmlchars/xmlns/1.0/ed3'];

function vendorSource(): string {
  const defs = VENDOR.map((id) => {
    const text = fs.readFileSync(require.resolve(id), 'utf8').replace(/^\/\/# sourceMappingURL=.*$/gm, '');
    return `${JSON.stringify(id)}: function (module, exports, require) {\n${text}\n}`;
  });
  return [
    'var ssasVendor = (function () {',
    `  var defs = {\n${defs.join(',\n')}\n};`,
    '  var cache = Object.create(null);',
    '  function req(id) {',
    '    if (cache[id]) return cache[id].exports;',
    "    if (!defs[id]) throw new Error('sandbox: no vendored module ' + id);",
    '    var m = { exports: {} };',
    '    cache[id] = m;',
    '    defs[id].call(m.exports, m, m.exports, req);',
    '    return m.exports;',
    '  }',
    '  return req;',
    '})();',
  ].join('\n');
}

let cached: string | null = null;

export function sandboxDir(): string {
  return path.join(packageRoot, 'sandbox');
}

export function sandboxSource(): string {
  if (cached !== null) return cached;
  const parts = SANDBOX_FILES.map((f) => {
    const text = fs.readFileSync(path.join(sandboxDir(), f), 'utf8');
    return `// ---- sandbox/${f}\n${text.replace(/^\/\/ @ts-check\s*$/m, '')}`;
  });
  cached = [
    '(function ssasSandbox(hostSync, hostAsync, hostOps, progress, boot) {',
    "'use strict';",
    vendorSource(),
    ...parts,
    'var S = ssasCore(hostSync, hostAsync, hostOps, progress, boot);',
    'S.vendor = ssasVendor;',
    ...MODULES.map((m) => `${m}(S);`),
    // The dispatcher of event batches, and the entry for one shell statement run on its own.
    'var dispatcher = ssasDispatcher(S);',
    'return { dispatch: dispatcher, evaluate: dispatcher.evaluate };',
    '})',
  ].join('\n');
  return cached;
}
