/**
 * The supervisor's execute batcher keeps each batched job's own deadline and abort although the
 * jobs share one timer and no job has an AbortSignal: driven here through its two transport
 * callbacks (what `RemoteRunnerLink` gives it), with a runner side that accepts every job and
 * answers only when the test says — the case of a runner that stops answering.
 */
import { describe, expect, it } from 'vitest'
import { createLogger } from '../src/core/logger.js'
import { createJob, generateSigner, type JobEnvelope } from '../src/protocols/jobs/index.js'
import { CallTimeoutError, CancelledError, RemoteError } from '../src/protocols/rpc/index.js'
import type { ExecuteResponse } from '../src/roles/runner/service/wire.js'
import { Cancellation } from '../src/roles/supervisor/cancellation.js'
import { ExecuteBatcher } from '../src/roles/supervisor/execute-batcher.js'

const signer = generateSigner()

function jobs(n: number): JobEnvelope[] {
  return Array.from({ length: n }, (_, i) => createJob({ runner: 'work', payload: `j${i}` }, signer))
}

/** A batcher whose runner accepts every job of a batch and never sends an execution by itself. */
function silentRunner(): { batcher: ExecuteBatcher; handed: JobEnvelope[][]; strays: unknown[] } {
  const handed: JobEnvelope[][] = []
  const strays: unknown[] = []
  const batcher = new ExecuteBatcher({
    one: () => Promise.reject(new Error('every job here goes batched')),
    many: async (batch) => {
      handed.push(batch)
      return batch.map(() => ({ ok: true as const }))
    },
    errors: new Map(),
    log: createLogger().forComponent('test'),
    onStray: (jobId) => strays.push(jobId),
  })
  return { batcher, handed, strays }
}

/** When (ms after `from`) the promise settled, and how. */
function track(
  promise: Promise<ExecuteResponse>,
  from: number,
): { at?: number; error?: unknown; ok?: boolean } {
  const seen: { at?: number; error?: unknown; ok?: boolean } = {}
  promise.then(
    () => {
      seen.at = performance.now() - from
      seen.ok = true
    },
    (err: unknown) => {
      seen.at = performance.now() - from
      seen.error = err
    },
  )
  return seen
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

describe('the execute batcher', () => {
  it('fails each batched job at its own deadline, never before it, while the others keep waiting', async () => {
    const { batcher, handed } = silentRunner()
    const [short, middle, long] = jobs(3) as [JobEnvelope, JobEnvelope, JobEnvelope]
    const start = performance.now()
    // Out of deadline order: the shared timer must follow the earliest, not the first.
    const seenMiddle = track(batcher.execute(middle, { cancel: new Cancellation(), timeoutMs: 150 }), start)
    const seenLong = track(batcher.execute(long, { cancel: new Cancellation(), timeoutMs: 20_000 }), start)
    const seenShort = track(batcher.execute(short, { cancel: new Cancellation(), timeoutMs: 60 }), start)
    await until(() => seenShort.at !== undefined, 'the first deadline')
    expect(handed.map((b) => b.length)).toEqual([3])
    expect(seenShort.error).toBeInstanceOf(CallTimeoutError)
    expect((seenShort.error as Error).message).toMatch(/within 60 ms/)
    expect(seenShort.at).toBeGreaterThanOrEqual(60)
    expect(seenMiddle.at).toBeUndefined()
    await until(() => seenMiddle.at !== undefined, 'the second deadline')
    expect(seenMiddle.error).toBeInstanceOf(CallTimeoutError)
    expect(seenMiddle.at).toBeGreaterThanOrEqual(150)
    expect(seenLong.at).toBeUndefined()
    // The one still waiting is answered normally.
    batcher.deliver([{ jobId: long.id, response: { result: { status: 'succeeded' }, logs: [] } }])
    await until(() => seenLong.at !== undefined, 'the answer')
    expect(seenLong.ok).toBe(true)
  })

  it('rejects a job whose dispatch is cancelled at once, before or after its batch went, and drops its late execution', async () => {
    const { batcher, handed, strays } = silentRunner()
    const [early, late, kept] = jobs(3) as [JobEnvelope, JobEnvelope, JobEnvelope]
    const start = performance.now()
    const cancelEarly = new Cancellation()
    const cancelLate = new Cancellation()
    const seenEarly = track(batcher.execute(early, { cancel: cancelEarly, timeoutMs: 20_000 }), start)
    const seenLate = track(batcher.execute(late, { cancel: cancelLate, timeoutMs: 20_000 }), start)
    const seenKept = track(batcher.execute(kept, { cancel: new Cancellation(), timeoutMs: 20_000 }), start)
    // Cancelled in the turn it was queued: never handed to the runner.
    cancelEarly.abort(new Error('lost runner'))
    await until(() => handed.length === 1, 'the batch')
    expect(handed[0]?.map((j) => j.id)).toEqual([late.id, kept.id])
    expect(seenEarly.error).toBeInstanceOf(CancelledError)
    cancelLate.abort(new Error('cancelled job'))
    await until(() => seenLate.at !== undefined, 'the cancel')
    expect(seenLate.error).toBeInstanceOf(CancelledError)
    expect(((seenLate.error as Error).cause as Error).message).toBe('cancelled job')
    expect(seenKept.at).toBeUndefined()
    batcher.deliver([
      { jobId: late.id, response: { result: { status: 'cancelled' }, logs: [] } },
      { jobId: kept.id, response: { result: { status: 'succeeded' }, logs: [] } },
    ])
    await until(() => seenKept.at !== undefined, 'the answer')
    expect(seenKept.ok).toBe(true)
    expect(strays).toEqual([late.id])
  })
  it('settles each job once whatever a runner answers: an execution with error null, a refusal without an error, a batch answer that is not a list', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    try {
      const { batcher, handed } = silentRunner()
      const [nulled, fine] = jobs(2) as [JobEnvelope, JobEnvelope]
      const start = performance.now()
      const seenNulled = track(
        batcher.execute(nulled, { cancel: new Cancellation(), timeoutMs: 5_000 }),
        start,
      )
      const seenFine = track(batcher.execute(fine, { cancel: new Cancellation(), timeoutMs: 5_000 }), start)
      await until(() => handed.length === 1, 'the batch to be handed over')
      batcher.deliver([
        { jobId: nulled.id, error: null },
        { jobId: fine.id, response: { logs: [] } },
      ])
      await until(() => seenNulled.at !== undefined && seenFine.at !== undefined, 'both executions')
      expect(seenNulled.error).toBeInstanceOf(RemoteError)
      expect((seenNulled.error as Error).message).toMatch(/malformed error \(null\)/)
      expect(seenFine.ok).toBe(true)

      for (const accepted of [[{ ok: false }], null, 7] as unknown[]) {
        const refusing = new ExecuteBatcher({
          one: () => Promise.reject(new Error('every job here goes batched')),
          many: async () => accepted as never,
          errors: new Map(),
          log: createLogger().forComponent('test'),
        })
        const [a, b] = jobs(2) as [JobEnvelope, JobEnvelope]
        const both = [a, b].map((job) =>
          refusing
            .execute(job, { cancel: new Cancellation(), timeoutMs: 5_000 })
            .catch((err: unknown) => err),
        )
        const errors = await Promise.all(both)
        // A refusal without its error is the runner's malformed answer; a job a non-list leaves
        // unanswered fails as not answered — each at once, not at its deadline.
        expect(errors[0]).toBeInstanceOf(Array.isArray(accepted) ? RemoteError : Error)
        expect(errors[1]).toBeInstanceOf(Error)
      }
      await new Promise((resolve) => setImmediate(resolve))
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })

  it("keeps a deadline beyond setTimeout's range without spinning its timer", async () => {
    const warnings: string[] = []
    const onWarning = (warning: Error): void => void warnings.push(warning.name)
    process.on('warning', onWarning)
    try {
      const { batcher, handed } = silentRunner()
      const [far, near] = jobs(2) as [JobEnvelope, JobEnvelope]
      const start = performance.now()
      const seenFar = track(batcher.execute(far, { cancel: new Cancellation(), timeoutMs: 3e9 }), start)
      const seenNear = track(batcher.execute(near, { cancel: new Cancellation(), timeoutMs: 80 }), start)
      await until(() => handed.length === 1 && seenNear.at !== undefined, 'the near deadline')
      expect(seenNear.error).toBeInstanceOf(CallTimeoutError)
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(seenFar.at).toBeUndefined()
      expect(warnings).not.toContain('TimeoutOverflowWarning')
      batcher.deliver([{ jobId: far.id, response: { logs: [] } }])
      await until(() => seenFar.at !== undefined, 'the far job answered')
      expect(seenFar.ok).toBe(true)
    } finally {
      process.off('warning', onWarning)
    }
  })
})

describe('Cancellation', () => {
  it('tells each listener once, gives a signal aborted with the same reason, and takes listeners back', () => {
    const cancel = new Cancellation()
    const heard: unknown[] = []
    cancel.onAbort((r) => heard.push(['a', r]))
    const takeBack = cancel.onAbort((r) => heard.push(['b', r]))
    const before = cancel.signal
    takeBack()
    const reason = new Error('stop')
    cancel.abort(reason)
    cancel.abort(new Error('again'))
    expect(heard).toEqual([['a', reason]])
    expect(cancel.aborted).toBe(true)
    expect(before.aborted).toBe(true)
    expect(before.reason).toBe(reason)
    const after = new Cancellation()
    after.abort(reason)
    expect(after.signal.reason).toBe(reason)
    expect(after.onAbort(() => heard.push('never'))).toBeTypeOf('function')
    expect(heard).toHaveLength(1)
  })

  it('races a promise: its outcome until aborted, the reason once aborted', async () => {
    const cancel = new Cancellation()
    await expect(cancel.race(Promise.resolve('done'))).resolves.toBe('done')
    await expect(cancel.race(Promise.reject(new Error('failed')))).rejects.toThrow('failed')
    const reason = new Error('runner lost')
    const pending = cancel.race(new Promise(() => {}))
    cancel.abort(reason)
    await expect(pending).rejects.toBe(reason)
    await expect(cancel.race(Promise.resolve('late'))).rejects.toBe(reason)
  })
})
