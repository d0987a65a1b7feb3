/**
 * A value now, or a promise of it. The small-tensor path of the service is synchronous from the body to the reply:
 * each `await` of a value that is already there costs a promise and a microtask turn, and a 16-value request has no
 * work to wait for, so the steps it shares with large requests return values, and only large ones return promises.
 */
export type MaybePromise<T> = T | Promise<T>;

export function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return value instanceof Promise;
}

/** `next(value)` now if `value` is here, else once it is. */
export function then<T, R>(value: MaybePromise<T>, next: (value: T) => MaybePromise<R>): MaybePromise<R> {
  return isPromise(value) ? value.then(next) : next(value);
}
