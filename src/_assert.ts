/** Thrown when an internal invariant does not hold: a bug, never bad input. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/** Stops loudly near the cause when an invariant breaks. One condition per call. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}
