/**
 * Deciding whether what was typed is a whole statement, an unfinished one (keep reading lines), or a syntax
 * error, with V8 itself: the input is compiled, never run, in the host (same V8 as the isolates). An error
 * that more input could fix is "recoverable", as in Node's REPL (lib/internal/repl/recoverable.js), but
 * judged from V8's own messages instead of a second parser.
 */
import * as vm from 'node:vm';
import type { ScriptErrorInfo } from './format';

export type PreparedInput =
  /** Ready to evaluate: `code` may differ from the input (object literal wrapped in parentheses). */
  | { kind: 'complete'; code: string }
  /** More lines may finish it. */
  | { kind: 'incomplete' }
  | { kind: 'syntax'; error: ScriptErrorInfo };

function compileError(code: string, filename: string): SyntaxError | null {
  try {
    new vm.Script(code, { filename });
    return null;
  } catch (err) {
    // By name, not instanceof: the error comes from the main realm, which is not always ours (jest).
    if ((err as Error | null)?.name === 'SyntaxError') return err as SyntaxError;
    // Not a syntax problem (cannot happen for compile-only): let the sandbox report it.
    return null;
  }
}

/** Compiles `code` + `more` and tells whether that finished it or still only lacks input. */
function fixedBy(code: string, more: string): boolean {
  const e = compileError(code + more, 'probe');
  return e === null || e.message === 'Unexpected end of input';
}

/** True when the syntax error of `code` is at its end, so that more lines could complete it. */
export function isRecoverable(err: SyntaxError, code: string): boolean {
  switch (err.message) {
    case 'Unexpected end of input':
    case 'Unterminated template literal':
    case 'Missing } in template expression':
      return true;
    case 'missing ) after argument list':
      // `foo(1` lacks only the parenthesis; `foo(1 2)` does not get better with one.
      return fixedBy(code, ')');
    case 'Invalid or unexpected token':
      // A string continued with a trailing backslash, or a comment still open.
      return /\\$/.test(code) || fixedBy(code, '*/');
    default:
      return false;
  }
}

function errorLine(err: Error, filename: string): number {
  const m = new RegExp(`^${filename.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+)\\n`).exec(err.stack ?? '');
  return m ? Number(m[1]) : 1;
}

/**
 * Classifies one statement's text. Object literals typed alone (`{ a: 1 }`) are evaluated as expressions,
 * as Node's REPL does, instead of as a block with a label. Inputs run through an indirect eval, where a
 * `let`/`const` would stay local to that one input: a leading one becomes `var` (same columns), so the
 * name is there for the next line.
 */
export function prepareInput(input: string, filename: string): PreparedInput {
  const code = input.replace(/^(\s*)(let|const)(\s+)(?=[A-Za-z_$])/, (_m, a: string, kw: string, b: string) => `${a}var${kw === 'const' ? '  ' : ''}${b}`);
  if (/^\s*\{/.test(code) && !/;\s*$/.test(code)) {
    const wrapped = `(${code}\n)`;
    if (compileError(wrapped, filename) === null) return { kind: 'complete', code: wrapped };
  }
  const err = compileError(code, filename);
  if (err === null) return { kind: 'complete', code };
  if (isRecoverable(err, code)) return { kind: 'incomplete' };
  return { kind: 'syntax', error: syntaxInfo(err, code, filename) };
}

function syntaxInfo(err: SyntaxError, code: string, filename: string): ScriptErrorInfo {
  const lineno = errorLine(err, filename);
  return { description: `SyntaxError: ${err.message}`, filename, lineno, linebuf: code.split('\n')[lineno - 1] ?? '' };
}

/** The syntax error of a whole script (a file given to `.load`), or null when it compiles. */
export function scriptSyntaxError(code: string, filename: string): ScriptErrorInfo | null {
  const err = compileError(code, filename);
  return err ? syntaxInfo(err, code, filename) : null;
}
