// A pacer for the key rate cap. Pure but for the clock.
import { sleep } from '../clock';

/** Paces work to a rate: each take(n) waits until n more units fit under it since the first. */
export class RateLimiter {
  private nextFreeAt = 0;

  constructor(private readonly perSecond: number) {}

  async take(units: number): Promise<void> {
    if (this.perSecond <= 0) return;
    const now = performance.now();
    // Idle time is not saved up beyond a tenth of a second's worth: no burst after a pause.
    const startAt = Math.max(now - 100, this.nextFreeAt);
    this.nextFreeAt = startAt + (units * 1000) / this.perSecond;
    if (startAt > now) await sleep(startAt - now);
  }
}
