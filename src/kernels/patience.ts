/**
 * A waiting thread's patience: `expired()` is true once it has waited `timeoutMs` in all, counting only the
 * time between readings that lie close together. Each wait is a short sleep, so readings normally lie at most
 * about a second apart; a longer gap means the whole process was suspended (SIGSTOP, a laptop's sleep, a
 * starved machine), in which the other thread could not run either, and it does not count: a run paused
 * with `kill -STOP` and continued an hour later must not fail because a wait seemed to last an hour.
 * (No Node imports: the browser's two-thread kernels use it too.)
 */
export function waitPatience(timeoutMs: number, now: () => number = Date.now, gapMs = 2_000): { expired(): boolean } {
  let last = now(), waited = 0;
  return {
    expired() {
      const t = now();
      if (t - last <= gapMs) waited += t - last;
      last = t;
      return waited > timeoutMs;
    },
  };
}
