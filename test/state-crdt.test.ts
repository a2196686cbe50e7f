import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  formatHlc,
  Hlc,
  type LogEntry,
  leaseHolder,
  RunMismatchError,
  RunState,
  renewLease,
  STEP_PHASES,
  type StepEntry,
  takeOverLease,
} from '../src/protocols/state/index.js'

const stamp = (wall: number, node = 'n1', counter = 0) => formatHlc({ wall, counter, node })

function entry(
  attempt: number,
  phase: StepEntry['phase'],
  hlc: string,
  extra: Partial<StepEntry> = {},
): StepEntry {
  const base: StepEntry = { attempt, phase, hlc, ...extra }
  if (phase === 'failed' && base.error === undefined) return { ...base, error: { message: 'x' } }
  if (phase === 'retrying' && base.retryAt === undefined) return { ...base, retryAt: 0 }
  return base
}

function joined(...states: RunState[]): RunState {
  const out = new RunState(states[0]?.run ?? 'r')
  for (const s of states) out.merge(s)
  return out
}

describe('run state lattice', () => {
  it('a later attempt wins over any phase of an earlier one', () => {
    const s = new RunState('r')
    s.setStep('a', entry(1, 'succeeded', stamp(50), { result: 1 }))
    s.setStep('a', entry(2, 'retrying', stamp(10)))
    expect(s.step('a')).toMatchObject({ attempt: 2, phase: 'retrying' })
    s.setStep('a', entry(1, 'failed', stamp(99)))
    expect(s.step('a')?.attempt).toBe(2)
  })

  it('within an attempt, phases advance and a terminal phase absorbs', () => {
    const s = new RunState('r')
    s.setStep('a', entry(1, 'running', stamp(20)))
    s.setStep('a', entry(1, 'dispatched', stamp(30)))
    expect(s.step('a')?.phase).toBe('running')
    s.setStep('a', entry(1, 'succeeded', stamp(25), { result: 'ok' }))
    s.setStep('a', entry(1, 'running', stamp(90)))
    expect(s.step('a')).toMatchObject({ phase: 'succeeded', result: 'ok' })
  })

  it('two terminal phases of one attempt resolve by (hlc, node), the same on every replica', () => {
    const cancelled = entry(1, 'cancelled', stamp(40, 'a'), { reason: 'run_cancelled' })
    const succeeded = entry(1, 'succeeded', stamp(40, 'b'), { result: 7 })
    const x = new RunState('r')
    x.setStep('s', cancelled)
    x.setStep('s', succeeded)
    const y = new RunState('r')
    y.setStep('s', succeeded)
    y.setStep('s', cancelled)
    expect(x.step('s')).toEqual(succeeded)
    expect(y.step('s')).toEqual(succeeded)
  })

  it('cancel is absorbing and keeps the first record; paused and lease are last-writer-wins', () => {
    const s = new RunState('r')
    s.cancel(stamp(30), 'second')
    s.cancel(stamp(10), 'first')
    expect(s.cancelled).toEqual({ hlc: stamp(10), reason: 'first' })
    s.setPaused(stamp(5), true)
    s.setPaused(stamp(3), false)
    expect(s.paused).toBe(true)
    s.setPaused(stamp(6), false)
    expect(s.paused).toBe(false)
    s.setLease(stamp(9, 'b'), 'b', 100)
    s.setLease(stamp(9, 'a'), 'a', 999)
    expect(s.lease?.owner).toBe('b')
  })

  it('the earliest creation record wins; the log is a grow-only set keyed by stamp', () => {
    const a = RunState.create({ run: 'r', hlc: stamp(2), workflow: { v: 'late' }, inputs: {} })
    const b = RunState.create({ run: 'r', hlc: stamp(1), workflow: { v: 'early' }, inputs: { x: 1 } })
    a.merge(b)
    expect(a.meta?.workflow).toEqual({ v: 'early' })
    const log = (hlc: string, type: string): LogEntry => ({
      hlc,
      kind: 'event',
      type,
      severity: 'info',
      message: type,
    })
    a.appendLog(log(stamp(5), 'x'))
    a.appendLog(log(stamp(4), 'y'))
    a.appendLog(log(stamp(5), 'x'))
    expect(a.log().map((e) => e.type)).toEqual(['y', 'x'])
    expect(a.hasEvent('y')).toBe(true)
  })

  it('refuses to merge another run', () => {
    expect(() => new RunState('a').merge(new RunState('b'))).toThrow(RunMismatchError)
  })

  it('mutators return just the delta; deltaSince collects local changes', () => {
    const s = RunState.create({ run: 'r', hlc: stamp(1), workflow: null, inputs: {} })
    const v = s.version
    const delta = s.setStep('a', entry(1, 'dispatched', stamp(2)))
    expect(delta.toJSON()).toEqual({ v: 1, run: 'r', steps: { a: entry(1, 'dispatched', stamp(2)) } })
    s.setStep('b', entry(1, 'dispatched', stamp(3)))
    s.setStep('a', entry(1, 'running', stamp(4)))
    const since = s.deltaSince(v).toJSON()
    expect(Object.keys(since.steps ?? {}).sort()).toEqual(['a', 'b'])
    expect(since.meta).toBeUndefined()
    expect(s.deltaSince(s.version).isEmpty()).toBe(true)
    expect(s.maxHlc).toBe(stamp(4))
  })
})

describe('lease', () => {
  it('renews only its own lease and takes over only after expiry plus grace', () => {
    const s = new RunState('r')
    expect(takeOverLease(s, stamp(1, 'a'), 'a', 1_000, { ttlMs: 100 })).toBeDefined()
    expect(leaseHolder(s, 1_050)).toEqual({ owner: 'a', expiresAt: 1_100, live: true })
    expect(renewLease(s, stamp(2, 'b'), 'b', 1_050)).toBeUndefined()
    expect(takeOverLease(s, stamp(2, 'b'), 'b', 1_150, { graceMs: 100 })).toBeUndefined()
    renewLease(s, stamp(3, 'a'), 'a', 1_090, { ttlMs: 100 })
    expect(leaseHolder(s, 1_150).live).toBe(true)
    expect(takeOverLease(s, stamp(4, 'b'), 'b', 1_300, { ttlMs: 100, graceMs: 100 })).toBeDefined()
    expect(s.lease?.owner).toBe('b')
  })

  it('concurrent takeovers converge on one owner', () => {
    const base = new RunState('r')
    base.setLease(stamp(1, 'old'), 'old', 10)
    const x = base.clone()
    const y = base.clone()
    expect(takeOverLease(x, stamp(100, 'x'), 'x', 10_000)).toBeDefined()
    expect(takeOverLease(y, stamp(100, 'y'), 'y', 10_000)).toBeDefined()
    x.merge(y)
    y.merge(base)
    y.merge(x)
    expect(x.lease?.owner).toBe('y')
    expect(y.lease?.owner).toBe('y')
  })
})

// ---- properties ------------------------------------------------------------------------------

const stampArb = fc
  .record({
    wall: fc.integer({ min: 1, max: 6 }),
    node: fc.constantFrom('a', 'b', 'c'),
    counter: fc.integer({ min: 0, max: 1 }),
  })
  .map(formatHlc)

const stepEntryArb: fc.Arbitrary<StepEntry> = fc
  .record({
    attempt: fc.integer({ min: 1, max: 3 }),
    phase: fc.constantFrom(...STEP_PHASES),
    hlc: stampArb,
    result: fc.oneof(fc.integer(), fc.string({ maxLength: 3 })),
    reason: fc.constantFrom('condition', 'run_cancelled'),
    // A for_each step records its item count; a rerun opens a series at `base`.
    extra: fc.constantFrom({}, { items: 3 }, { base: 1 }),
  })
  .map(({ attempt, phase, hlc, result, reason, extra }): StepEntry => {
    const base = { attempt, phase, hlc, ...extra }
    if (phase === 'succeeded') return { ...base, result }
    if (phase === 'failed') return { ...base, error: { message: String(result) } }
    if (phase === 'retrying') return { ...base, retryAt: 5 }
    if (phase === 'skipped' || phase === 'cancelled') return { ...base, reason }
    return base
  })

type Op = (s: RunState) => void
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.tuple(fc.constantFrom('s1', 's2', 's3'), stepEntryArb).map(
    ([id, e]): Op =>
      (s) =>
        s.setStep(id, e),
  ),
  fc.tuple(stampArb, fc.constantFrom('x', 'y')).map(
    ([h, r]): Op =>
      (s) =>
        s.cancel(h, r),
  ),
  fc.tuple(stampArb, fc.boolean()).map(
    ([h, p]): Op =>
      (s) =>
        s.setPaused(h, p),
  ),
  fc.tuple(stampArb, fc.constantFrom('a', 'b'), fc.integer({ min: 0, max: 9 })).map(
    ([h, o, e]): Op =>
      (s) =>
        s.setLease(h, o, e),
  ),
  fc.tuple(stampArb, fc.constantFrom('t1', 't2')).map(
    ([h, t]): Op =>
      (s) =>
        s.appendLog({ hlc: h, kind: 'event', type: t, severity: 'info', message: t }),
  ),
  fc.tuple(stampArb, fc.integer({ min: 0, max: 2 })).map(
    ([h, w]): Op =>
      (s) =>
        s.merge(RunState.create({ run: 'r', hlc: h, workflow: { w }, inputs: {} })),
  ),
  fc.tuple(stampArb, fc.constantFrom(undefined, ['s1'], ['s2', 's3'])).map(
    ([h, steps]): Op =>
      (s) =>
        s.startRerun(h, steps),
  ),
  fc.tuple(stampArb, fc.constantFrom('approve', 'go'), fc.oneof(fc.integer(), fc.constant(null))).map(
    ([h, name, data]): Op =>
      (s) =>
        s.setSignal(name, { hlc: h, data }),
  ),
)

const stateArb = fc.array(opArb, { maxLength: 12 }).map((ops) => {
  const s = new RunState('r')
  for (const op of ops) op(s)
  return s
})

describe('run state merge (properties)', () => {
  it('is commutative', () => {
    fc.assert(
      fc.property(stateArb, stateArb, (a, b) => {
        expect(joined(a, b).equals(joined(b, a))).toBe(true)
      }),
      { numRuns: 500 },
    )
  })

  it('is associative', () => {
    fc.assert(
      fc.property(stateArb, stateArb, stateArb, (a, b, c) => {
        const left = joined(joined(a, b), c)
        const right = joined(a, joined(b, c))
        expect(left.equals(right)).toBe(true)
      }),
      { numRuns: 500 },
    )
  })

  it('agrees on what is derived: the cancel in force, the epoch, the signals', () => {
    fc.assert(
      fc.property(stateArb, stateArb, (a, b) => {
        const ab = joined(a, b)
        const ba = joined(b, a)
        expect(ab.cancelled).toEqual(ba.cancelled)
        expect(ab.epoch).toBe(ba.epoch)
        expect(ab.epoch).toBe(Math.max(a.epoch, b.epoch))
        expect([...ab.signals()]).toEqual(expect.arrayContaining([...ba.signals()]))
      }),
      { numRuns: 300 },
    )
  })

  it('is idempotent, and merging reports whether anything changed', () => {
    fc.assert(
      fc.property(stateArb, stateArb, (a, b) => {
        const ab = joined(a, b)
        expect(ab.merge(a)).toBe(false)
        expect(ab.merge(b)).toBe(false)
        expect(ab.merge(ab.clone())).toBe(false)
        expect(joined(a, a).equals(a)).toBe(true)
      }),
      { numRuns: 300 },
    )
  })

  it('survives a JSON round trip unchanged', () => {
    fc.assert(
      fc.property(stateArb, (a) => {
        expect(RunState.fromJSON(JSON.stringify(a.toJSON())).equals(a)).toBe(true)
      }),
    )
  })
})

// ---- convergence under gossip and partitions --------------------------------------------------

interface Replica {
  readonly node: string
  readonly clock: Hlc
  readonly state: RunState
  side: number
}

type Action =
  | { kind: 'op'; replica: number; op: number; step: string; value: number }
  | { kind: 'deliver'; message: number; to: number }
  | { kind: 'tick'; ms: number }

const scheduleArb = fc.record({
  actions: fc.array(
    fc.oneof(
      fc.record({
        kind: fc.constant('op' as const),
        replica: fc.nat(2),
        op: fc.nat(6),
        step: fc.constantFrom('a', 'b', 'c', 'd'),
        value: fc.nat(5),
      }),
      fc.record({ kind: fc.constant('deliver' as const), message: fc.nat(200), to: fc.nat(2) }),
      fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 50 }) }),
    ),
    { maxLength: 80 },
  ),
  partition: fc.array(fc.nat(1), { minLength: 3, maxLength: 3 }),
  healOrder: fc.array(fc.nat(1_000), { maxLength: 400 }),
})

type Schedule = typeof scheduleArb extends fc.Arbitrary<infer T> ? T : never

/** One coordinator-like operation on a replica, stamped by its own clock. */
function operate(r: Replica, a: Extract<Action, { kind: 'op' }>, now: number): RunState {
  const h = r.clock.now()
  const current = r.state.step(a.step)
  const attempt = current?.attempt ?? 1
  switch (a.op) {
    case 0:
      return r.state.setStep(a.step, { attempt, phase: 'dispatched', hlc: h, dispatchedAt: now })
    case 1:
      return r.state.setStep(a.step, { attempt, phase: 'succeeded', hlc: h, result: a.value })
    case 2:
      return r.state.setStep(a.step, { attempt, phase: 'failed', hlc: h, error: { message: `e${a.value}` } })
    case 3:
      return r.state.setStep(a.step, {
        attempt: attempt + 1,
        phase: 'retrying',
        hlc: h,
        retryAt: now + a.value,
      })
    case 4:
      return r.state.cancel(h, r.node)
    case 5:
      return r.state.setPaused(h, a.value % 2 === 0)
    default:
      return r.state.appendLog({
        hlc: h,
        kind: 'log',
        type: 'stdout',
        severity: 'info',
        message: `${r.node}:${a.value}`,
      })
  }
}

describe('replica convergence', () => {
  function simulate(schedule: Schedule) {
    let now = 1_000
    const replicas: Replica[] = ['x', 'y', 'z'].map((node, i) => ({
      node,
      clock: new Hlc(node, { now: () => now + i * 7 }), // skewed clocks
      state: new RunState('r'),
      side: 0,
    }))
    const origin = RunState.create({
      run: 'r',
      hlc: replicas[0]?.clock.now() as string,
      workflow: { name: 'w' },
      inputs: {},
    })
    const messages: { from: number; delta: unknown }[] = replicas.map((_, from) => ({
      from,
      delta: origin.toJSON(),
    }))
    const receive = (r: Replica, delta: unknown) => {
      const parsed = RunState.fromJSON(JSON.parse(JSON.stringify(delta)))
      r.state.apply(parsed)
      if (parsed.maxHlc !== undefined) r.clock.receive(parsed.maxHlc)
    }
    // Partitioned phase: messages only cross between replicas on the same side.
    replicas.forEach((r, i) => {
      r.side = schedule.partition[i] ?? 0
    })
    for (const action of schedule.actions) {
      if (action.kind === 'tick') now += action.ms
      else if (action.kind === 'op') {
        const from = action.replica
        messages.push({ from, delta: operate(replicas[from] as Replica, action, now).toJSON() })
      } else if (messages.length > 0) {
        const message = messages[action.message % messages.length] as { from: number; delta: unknown }
        const to = replicas[action.to] as Replica
        if (to.side === (replicas[message.from] as Replica).side) receive(to, message.delta) // may repeat
      }
    }
    return { replicas, messages, receive }
  }

  it('converges when every delta is eventually delivered, in any order, with duplicates', () => {
    fc.assert(
      fc.property(scheduleArb, (schedule) => {
        const { replicas, messages, receive } = simulate(schedule)
        // Heal: a random order of deliveries (with repeats), then every message once more.
        for (const pick of schedule.healOrder) {
          const message = messages[pick % messages.length] as { delta: unknown }
          receive(replicas[pick % 3] as Replica, message.delta)
        }
        for (const r of replicas) for (const m of messages) receive(r, m.delta)
        const [first, ...rest] = replicas.map((r) => r.state)
        for (const other of rest) expect(other.equals(first as RunState)).toBe(true)
        const cancelledSomewhere = messages.some(
          (m) => (m.delta as { cancelled?: unknown }).cancelled !== undefined,
        )
        expect(first?.cancelled !== undefined).toBe(cancelledSomewhere)
      }),
      { numRuns: 200 },
    )
  })

  it('converges through anti-entropy (digest exchange) even when gossip was lost', () => {
    fc.assert(
      fc.property(scheduleArb, (schedule) => {
        const { replicas } = simulate(schedule)
        // Lost messages are never resent: only digest exchanges repair the replicas.
        for (let round = 0; round < 2; round++) {
          for (const a of replicas) {
            for (const b of replicas) {
              if (a === b) continue
              const wire = (x: unknown) => JSON.parse(JSON.stringify(x))
              const forA = b.state.deltaFor(wire(a.state.digest()))
              const forB = a.state.deltaFor(wire(b.state.digest()))
              a.state.apply(wire(forA.toJSON()))
              b.state.apply(wire(forB.toJSON()))
            }
          }
        }
        const [first, ...rest] = replicas.map((r) => r.state)
        for (const other of rest) {
          expect(other.equals(first as RunState)).toBe(true)
          expect(other.digest()).toEqual(first?.digest())
        }
      }),
      { numRuns: 200 },
    )
  })

  it('anti-entropy sends only the buckets that differ', () => {
    const a = RunState.create({ run: 'r', hlc: stamp(1), workflow: null, inputs: {} })
    for (let i = 0; i < 1_000; i++) a.setStep(`s${i}`, entry(1, 'succeeded', stamp(10 + i), { result: i }))
    const b = a.clone()
    expect(a.deltaFor(b.digest()).isEmpty()).toBe(true)
    b.setStep('s7', entry(2, 'dispatched', stamp(5_000)))
    const repair = a.deltaFor(b.digest())
    expect(repair.stepCount).toBeGreaterThan(0)
    expect(repair.stepCount).toBeLessThan(60) // one bucket of 64, not 1,000 steps
    b.merge(repair)
    const back = b.deltaFor(a.digest())
    a.merge(back)
    expect(a.step('s7')?.attempt).toBe(2)
    expect(a.equals(b)).toBe(true)
  })
})

describe('reruns, epochs and signals', () => {
  it('a rerun lifts a cancel of an earlier epoch; a cancel of the new epoch applies again', () => {
    const s = new RunState('r')
    s.cancel(stamp(10), 'stop')
    expect(s.cancelled?.reason).toBe('stop')
    s.startRerun(stamp(20))
    expect(s.epoch).toBe(1)
    expect(s.cancelled).toBeUndefined()
    expect(s.cancelRecord?.reason).toBe('stop')
    s.cancel(stamp(30), 'again')
    expect(s.cancelled).toMatchObject({ reason: 'again', epoch: 1 })
    // An old-epoch cancel arriving late (a partition) does not undo the rerun.
    const late = new RunState('r')
    late.cancel(stamp(5), 'late')
    const fresh = new RunState('r')
    fresh.startRerun(stamp(20))
    fresh.merge(late)
    expect(fresh.cancelled).toBeUndefined()
  })

  it('the first delivery of a signal wins on every replica', () => {
    const x = new RunState('r')
    const y = new RunState('r')
    x.setSignal('approve', { hlc: stamp(20, 'a'), data: 'late' })
    y.setSignal('approve', { hlc: stamp(10, 'b'), data: 'early' })
    x.merge(y)
    y.merge(x)
    expect(x.signal('approve')?.data).toBe('early')
    expect(y.signal('approve')?.data).toBe('early')
  })

  it('a pending entry (a rerun) ranks below every phase of its attempt and above the earlier attempt', () => {
    const s = new RunState('r')
    s.setStep('a', entry(1, 'failed', stamp(10)))
    s.setStep('a', entry(2, 'pending', stamp(20), { base: 2 }))
    expect(s.step('a')).toMatchObject({ attempt: 2, phase: 'pending', base: 2 })
    s.setStep('a', entry(2, 'dispatched', stamp(15)))
    expect(s.step('a')?.phase).toBe('dispatched')
    s.setStep('a', entry(2, 'pending', stamp(99)))
    expect(s.step('a')?.phase).toBe('dispatched')
  })

  it('remembers the latest event of each type', () => {
    const s = new RunState('r')
    s.appendLog({ hlc: stamp(30), kind: 'event', type: 'workflow_failed', severity: 'error', message: 'x' })
    s.appendLog({ hlc: stamp(10), kind: 'event', type: 'workflow_failed', severity: 'error', message: 'y' })
    expect(s.lastEvent('workflow_failed')).toBe(stamp(30))
    expect(s.lastEvent('workflow_completed')).toBeUndefined()
  })
})
