/**
 * A then-able that completes when the simulator says so and calls its continuations at once: the
 * synchronous stand-in for a promise of I/O (a simulated disk write), so that the code waiting for
 * it goes on inside the very event that completes it, under the synchronous runner too.
 */
export class Completion<T = void> implements PromiseLike<T> {
  #state: "pending" | "done" | "failed" = "pending";
  #value: T | undefined;
  #error: unknown;
  #waiting: { ok: (value: T) => void; failed: (error: unknown) => void }[] = [];

  resolve(value: T): void {
    if (this.#state !== "pending") return;
    this.#state = "done";
    this.#value = value;
    for (const w of this.#take()) w.ok(value);
  }

  reject(error: unknown): void {
    if (this.#state !== "pending") return;
    this.#state = "failed";
    this.#error = error;
    for (const w of this.#take()) w.failed(error);
  }

  then<R1 = T, R2 = never>(
    onOk?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onFailed?: ((error: unknown) => R2 | PromiseLike<R2>) | null,
  ): PromiseLike<R1 | R2> {
    const next = new Completion<R1 | R2>();
    const ok = (value: T) => {
      if (!onOk) return next.resolve(value as unknown as R1);
      try {
        follow(next, onOk(value));
      } catch (error) {
        next.reject(error);
      }
    };
    const failed = (error: unknown) => {
      if (!onFailed) return next.reject(error);
      try {
        follow(next, onFailed(error));
      } catch (thrown) {
        next.reject(thrown);
      }
    };
    if (this.#state === "done") ok(this.#value as T);
    else if (this.#state === "failed") failed(this.#error);
    else this.#waiting.push({ ok, failed });
    return next;
  }

  #take() {
    const waiting = this.#waiting;
    this.#waiting = [];
    return waiting;
  }
}

function follow<R>(next: Completion<R>, result: R | PromiseLike<R>): void {
  if (typeof (result as PromiseLike<R> | undefined)?.then === "function") {
    (result as PromiseLike<R>).then((v) => next.resolve(v), (e) => next.reject(e));
  } else next.resolve(result as R);
}
