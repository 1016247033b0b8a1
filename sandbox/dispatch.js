// @ts-check
/**
 * The dispatcher the host calls with a batch of events. Each event runs to completion in order; the
 * watchdog counter moves at every event so the host can tell a stuck event from a busy batch.
 */
function ssasDispatcher(S) {
  function dispatch(events, bytes, base) {
    // bytes: the packed AMF0 arguments of this batch's client calls (rcall events), from host offset base.
    if (bytes !== undefined) {
      S.amf.setInput(bytes);
      S.callBase = base;
    }
    for (var i = 0; i < events.length; i++) {
      var ev = events[i];
      Atomics.add(S.progress, 0, 1);
      var handler = S.handlers[ev.e];
      var value;
      try {
        value = handler ? handler(ev) : undefined;
      } catch (err) {
        // Handlers catch user errors themselves; what reaches here is a sandbox bug or a hostile value.
        value = S.internalFailure(err);
      }
      if (ev.seq !== undefined && value !== S.HANDLED) S.emit({ op: 'done', seq: ev.seq, value: value });
    }
    // Events the script raised for itself (S.later): after this batch, before any event the host queued
    // meanwhile, so a local failure always reaches the script before a network event that followed it.
    // Those raised while these run wait for the next dispatch (the host is asked for one): a handler that
    // raises another forever then loops across dispatches, between other events, not inside one.
    var later = S.laterQueue;
    S.laterQueue = [];
    for (var j = 0; j < later.length; j++) {
      var ev2 = later[j];
      Atomics.add(S.progress, 0, 1);
      try {
        S.handlers[ev2.e](ev2);
      } catch (err) {
        S.internalFailure(err);
      }
    }
    if (S.laterQueue.length > 0) S.emit({ op: 'wake' });
    S.flushOps();
  }

  /**
   * One shell statement, which the host runs on its own (no dispatch in flight), with its own time limit,
   * and may terminate: nothing here may be needed afterwards, since a termination skips the rest. Its ops
   * go out before its result; events it raised for itself run with the next dispatch.
   */
  dispatch.evaluate = function evaluate(code, filename) {
    Atomics.add(S.progress, 0, 1);
    var value;
    try {
      value = S.handlers.eval({ code: code, filename: filename });
    } catch (err) {
      value = S.internalFailure(err);
    }
    if (S.laterQueue.length > 0) S.emit({ op: 'wake' });
    S.flushStatementOps();
    return value;
  };
  return dispatch;
}
