/** Polling for conditions that real peers make true asynchronously. */

/**
 * Resolves once `cond()` is true (it may be async: each answer is awaited before the next poll); rejects
 * after `ms` with `what` (and `detail()`, when given) in the message.
 */
export async function until(cond: () => boolean | Promise<boolean>, ms = 10_000, what = '', detail?: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) {
      const extra = detail ? `: ${detail()}` : '';
      throw new Error(`condition not met in time${what ? ` (${what})` : ''}${extra}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}
