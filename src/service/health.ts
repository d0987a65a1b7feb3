/** What every protocol's health checks ask: whether to send traffic now, and whether a restart is the cure. */

export interface Readiness {
  /** Why the service should not get traffic now, or null when it should. */
  notReadyReason(): string | null;
}

export interface Liveness {
  /** Why the service can no longer make progress (a restart is the cure), or null. */
  stuckReason(): string | null;
}
