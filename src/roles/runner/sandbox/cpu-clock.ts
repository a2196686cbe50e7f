/**
 * Time spent executing inside the VM. The clock stops while a host call is pending, so a script
 * waiting on a slow command or HTTP request is not charged CPU time for it (the wall-clock limit
 * still covers that).
 */
export class CpuClock {
  private usedMs = 0
  private runningSince: number | undefined

  resume(): void {
    this.runningSince ??= performance.now()
  }

  pause(): void {
    if (this.runningSince === undefined) return
    this.usedMs += performance.now() - this.runningSince
    this.runningSince = undefined
  }

  elapsedMs(): number {
    return this.usedMs + (this.runningSince === undefined ? 0 : performance.now() - this.runningSince)
  }
}
