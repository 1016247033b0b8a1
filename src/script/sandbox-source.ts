/**
 * Builds the sandbox bootstrap from sandbox/*.js: the files are concatenated inside one function so that
 * nothing they define is global unless a facade puts it there on purpose. The function takes the host
 * references as arguments (never globals) and returns the dispatcher (and the shell's statement entry).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../cli/paths';

/** Load order matters: core first, the dispatcher last. */
export const SANDBOX_FILES = ['core.js', 'amf.js', 'globals.js', 'application.js', 'stream.js', 'net-connection.js', 'shared-object.js', 'inspect.js', 'dispatch.js'];
/** The module functions each file defines, called in this order with the core object. */
const MODULES = ['ssasAmf', 'ssasGlobals', 'ssasApplication', 'ssasStream', 'ssasNetConnection', 'ssasSharedObject', 'ssasInspect'];

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
    ...parts,
    'var S = ssasCore(hostSync, hostAsync, hostOps, progress, boot);',
    ...MODULES.map((m) => `${m}(S);`),
    // The dispatcher of event batches, and the entry for one shell statement run on its own.
    'var dispatcher = ssasDispatcher(S);',
    'return { dispatch: dispatcher, evaluate: dispatcher.evaluate };',
    '})',
  ].join('\n');
  return cached;
}
