// @ts-check
/**
 * Evaluation and inspection for the interactive shell (ssas repl): `eval` runs code at global scope in the
 * instance, `complete` lists property names for tab completion. Values are described as plain data trees
 * the host prints (src/repl).
 */
function ssasInspect(S) {
  S.handlers.eval = function (ev) {
    try {
      var value = S.runScript(String(ev.code), String(ev.filename || 'repl'));
      return { ok: true, value: describe(value, 0) };
    } catch (err) {
      return { ok: false, error: S.errorInfo(err) };
    }
  };

  function describe(v, depth) {
    if (v === null) return { t: 'null' };
    var t = typeof v;
    if (t === 'undefined') return { t: 'undefined' };
    if (t === 'number' || t === 'boolean' || t === 'string') return { t: t, v: v };
    if (t === 'function') return { t: 'function', name: v.name || '' };
    return { t: 'object', text: String(v) };
  }
}
