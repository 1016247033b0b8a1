/**
 * Coalesces socket writes: everything queued for a connection during one turn of the event loop goes out
 * in one corked burst (one writev) on the next setImmediate, shared by all connections. Media fan-out
 * queues the same Buffer for many players; this keeps it to one syscall per player per turn.
 */
export interface Flushable {
  flushQueued(): void;
}

const dirty = new Set<Flushable>();
let scheduled = false;

function flushAll(): void {
  scheduled = false;
  // Connections queued while flushing (a write callback that writes again) run on the next turn.
  const batch = Array.from(dirty);
  dirty.clear();
  for (const f of batch) f.flushQueued();
}

export function scheduleFlush(f: Flushable): void {
  dirty.add(f);
  if (!scheduled) {
    scheduled = true;
    setImmediate(flushAll);
  }
}

export function cancelFlush(f: Flushable): void {
  dirty.delete(f);
}
