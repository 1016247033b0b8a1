/**
 * Tab completion: finding what is being completed at the end of the typed text (a global name, or a
 * property after a chain like `application.clients[0].`), so the sandbox can list the names that exist.
 */

/** Words of the language offered beside global names. */
export const KEYWORDS = [
  'break',
  'case',
  'catch',
  'continue',
  'default',
  'delete',
  'do',
  'else',
  'false',
  'finally',
  'for',
  'function',
  'if',
  'in',
  'instanceof',
  'new',
  'null',
  'return',
  'switch',
  'this',
  'throw',
  'true',
  'try',
  'typeof',
  'undefined',
  'var',
  'void',
  'while',
  'with',
];

export interface CompletionTarget {
  /** Property names leading to the object whose properties are listed; empty for global names. */
  path: string[];
  /** The partial name typed so far (replaced by the completion). */
  prefix: string;
}

const CHAIN = /((?:[A-Za-z_$][\w$]*)(?:\s*\.\s*[A-Za-z_$][\w$]*|\s*\[\s*(?:\d+|"[^"\\]*"|'[^'\\]*')\s*\])*)\s*\.\s*([A-Za-z_$][\w$]*)?$|([A-Za-z_$][\w$]*)$/;

/** Whether `text` ends inside a string literal or a comment (no completion there). */
function endsInLiteral(text: string): boolean {
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = null;
      continue;
    }
    if (ch === '"' || ch === "'" || ch === '`') quote = ch;
    else if (ch === '/' && text[i + 1] === '/') return true;
  }
  return quote !== null;
}

/** What the text before the cursor asks to complete, or null when it is nothing completable. */
export function completionTarget(text: string): CompletionTarget | null {
  if (endsInLiteral(text)) return null;
  if (/(^|[\s(,;=+\-*/%!&|?:{[<>~^])$/.test(text)) return { path: [], prefix: '' };
  const m = CHAIN.exec(text);
  if (!m) return null;
  const before = text.slice(0, m.index).replace(/\s+$/, '');
  // `foo().bar`, `x[i].y`, `a.b` preceded by another dot: not a chain we can follow without running code.
  if (/[\w$.\])]$/.test(before)) return null;
  if (m[3] !== undefined) return { path: [], prefix: m[3] };
  const path: string[] = [];
  const seg = /([A-Za-z_$][\w$]*)|\[\s*(\d+|"[^"\\]*"|'[^'\\]*')\s*\]/g;
  let s: RegExpExecArray | null;
  while ((s = seg.exec(m[1]!)) !== null) {
    if (s[1] !== undefined) path.push(s[1]);
    else path.push(/^["']/.test(s[2]!) ? s[2]!.slice(1, -1) : s[2]!);
  }
  return { path, prefix: m[2] ?? '' };
}
