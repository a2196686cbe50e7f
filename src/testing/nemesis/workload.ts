/**
 * The nemesis workload: random DAG workflows whose every step is an `effect` (effect-plugin.ts,
 * recorded by the counter service), and ad-hoc jobs of the same kind. Everything is derived from
 * a seeded generator, and the expected output of every step follows from the workflow alone.
 */

/** mulberry32: a small seeded generator; the same seed gives the same sequence everywhere. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

export interface WorkloadStep {
  [key: string]: unknown
  id: string
  runner: 'effect'
  payload: string
  depends_on?: string[]
  retry: { max_attempts: number; initial_delay: string }
}

export interface WorkloadWorkflow {
  [key: string]: unknown
  workflow: { name: string; steps: WorkloadStep[] }
}

export interface GeneratedWorkflow {
  document: WorkloadWorkflow
  /** Each step's expected output `{ value }`. */
  expected: Map<string, number>
}

/**
 * A DAG of `min..max` effect steps, each depending on up to two earlier ones, each `value` small
 * and `sleepMs` between 200 and 1000 (a run spans several faults). Retries absorb a runner lost
 * mid-step.
 */
export function randomWorkflow(
  random: () => number,
  counterUrl: string,
  name: string,
  size: { min: number; max: number } = { min: 6, max: 12 },
): GeneratedWorkflow {
  const count = size.min + Math.floor(random() * (size.max - size.min + 1))
  const steps: WorkloadStep[] = []
  const expected = new Map<string, number>()
  for (let i = 0; i < count; i++) {
    const id = `s${i}`
    const value = 1 + Math.floor(random() * 9)
    const deps = new Set<string>()
    if (i > 0) {
      const fanIn = Math.floor(random() * 3)
      for (let k = 0; k < fanIn; k++) deps.add(`s${Math.floor(random() * i)}`)
    }
    const sleepMs = 200 + Math.floor(random() * 800)
    steps.push({
      id,
      runner: 'effect',
      payload: JSON.stringify({ value, sleepMs, counter: counterUrl }),
      ...(deps.size > 0 ? { depends_on: [...deps] } : {}),
      retry: { max_attempts: 8, initial_delay: '500ms' },
    })
    expected.set(id, value + [...deps].reduce((sum, dep) => sum + (expected.get(dep) ?? 0), 0))
  }
  return { document: { workflow: { name, steps } }, expected }
}

/** `length` effect steps in a chain, ~800 ms each: a run that lasts through a fault. */
export function chainWorkflow(
  random: () => number,
  counterUrl: string,
  name: string,
  length: number,
): GeneratedWorkflow {
  const steps: WorkloadStep[] = []
  const expected = new Map<string, number>()
  for (let i = 0; i < length; i++) {
    const value = 1 + Math.floor(random() * 9)
    steps.push({
      id: `s${i}`,
      runner: 'effect',
      payload: JSON.stringify({ value, sleepMs: 800, counter: counterUrl }),
      ...(i > 0 ? { depends_on: [`s${i - 1}`] } : {}),
      retry: { max_attempts: 8, initial_delay: '500ms' },
    })
    expected.set(`s${i}`, value + (expected.get(`s${i - 1}`) ?? 0))
  }
  return { document: { workflow: { name, steps } }, expected }
}

/** The payload of an ad-hoc effect job and the output it must produce. */
export function randomJob(random: () => number, counterUrl: string): { payload: string; value: number } {
  const value = 1 + Math.floor(random() * 99)
  return {
    payload: JSON.stringify({ value, sleepMs: 50 + Math.floor(random() * 200), counter: counterUrl }),
    value,
  }
}
