// @ts-check
/**
 * The dispatcher the host calls with a batch of events. Each event runs to completion in order; the
 * watchdog counter moves at every event so the host can tell a stuck event from a busy batch.
 */
function ssasDispatcher(S) {
  return function dispatch(events, bytes, base) {
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
    S.flushOps();
  };
}
