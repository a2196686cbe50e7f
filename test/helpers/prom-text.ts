/**
 * A strict parser of the Prometheus text exposition format (0.0.4), for tests: prom-client ships
 * no parser, and a scrape that Prometheus would refuse must fail the test, not pass it. Checks
 * metric and label names, label-value escapes, `# TYPE` before its samples and declared once,
 * every sample belonging to a declared family (with the suffixes its type allows), no series
 * twice, and histograms whose buckets are cumulative and end in `+Inf` equal to `_count`.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'

export interface PromSample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface PromFamily {
  name: string
  type: MetricType
  help: string | undefined
  samples: PromSample[]
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])
const SUFFIXES: Record<MetricType, readonly string[]> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
}

export class PromParseError extends Error {
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`)
    this.name = 'PromParseError'
  }
}

export function parsePromText(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>()
  const series = new Set<string>()
  if (text.length > 0 && !text.endsWith('\n'))
    throw new PromParseError(0, 'the exposition must end with a newline')
  const lines = text.split('\n').slice(0, -1)
  lines.forEach((line, index) => {
    const n = index + 1
    if (line === '') return
    if (line.startsWith('#')) {
      comment(line, n, families)
      return
    }
    const sample = parseSample(line, n)
    const family = familyOf(sample.name, families)
    if (family === undefined)
      throw new PromParseError(n, `sample ${sample.name} has no # TYPE declared before it`)
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`
    if (series.has(key)) throw new PromParseError(n, `series ${key} appears twice`)
    series.add(key)
    family.samples.push(sample)
  })
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family)
  return families
}

function comment(line: string, n: number, families: Map<string, PromFamily>): void {
  const match = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line)
  if (match === null) return // a plain comment
  const [, keyword, name, rest] = match as unknown as [string, string, string, string | undefined]
  if (!METRIC_NAME.test(name)) throw new PromParseError(n, `bad metric name ${JSON.stringify(name)}`)
  let family = families.get(name)
  if (keyword === 'HELP') {
    if (family?.help !== undefined) throw new PromParseError(n, `second # HELP for ${name}`)
    if (family === undefined) {
      family = { name, type: 'untyped', help: undefined, samples: [] }
      families.set(name, family)
    }
    family.help = unescapeHelp(rest ?? '', n)
    return
  }
  if (rest === undefined || !TYPES.has(rest)) throw new PromParseError(n, `bad type ${JSON.stringify(rest)}`)
  if (family !== undefined && (family.samples.length > 0 || family.type !== 'untyped'))
    throw new PromParseError(n, `# TYPE for ${name} after its samples or twice`)
  if (family === undefined)
    families.set(name, { name, type: rest as MetricType, help: undefined, samples: [] })
  else family.type = rest as MetricType
}

function familyOf(sampleName: string, families: Map<string, PromFamily>): PromFamily | undefined {
  for (const [name, family] of families) {
    for (const suffix of SUFFIXES[family.type]) if (sampleName === `${name}${suffix}`) return family
  }
  return undefined
}

function parseSample(line: string, n: number): PromSample {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)
  if (nameMatch === null) throw new PromParseError(n, `no metric name in ${JSON.stringify(line)}`)
  const name = nameMatch[0]
  let i = name.length
  const labels: Record<string, string> = {}
  if (line[i] === '{') {
    i++
    while (line[i] !== '}') {
      const labelMatch = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(i))
      if (labelMatch === null) throw new PromParseError(n, `bad label at column ${i + 1}`)
      const label = labelMatch[1] as string
      if (!LABEL_NAME.test(label) || label.startsWith('__'))
        throw new PromParseError(n, `reserved or bad label name ${label}`)
      if (label in labels) throw new PromParseError(n, `label ${label} twice`)
      i += labelMatch[0].length
      let value = ''
      for (;;) {
        const c = line[i]
        if (c === undefined) throw new PromParseError(n, 'unterminated label value')
        i++
        if (c === '"') break
        if (c === '\\') {
          const e = line[i++]
          if (e === 'n') value += '\n'
          else if (e === '\\' || e === '"') value += e
          else throw new PromParseError(n, `bad escape \\${e ?? ''} in a label value`)
        } else value += c
      }
      labels[label] = value
      if (line[i] === ',') i++
      else if (line[i] !== '}') throw new PromParseError(n, `expected , or } at column ${i + 1}`)
    }
    i++
  }
  const rest = line.slice(i)
  const valueMatch = /^ (\S+)(?: (-?\d+))?$/.exec(rest)
  if (valueMatch === null) throw new PromParseError(n, `bad value part ${JSON.stringify(rest)}`)
  return { name, labels, value: parseValue(valueMatch[1] as string, n) }
}

/** As Prometheus reads values (Go's ParseFloat): Inf and NaN in any case (prom-client writes `Nan`). */
function parseValue(text: string, n: number): number {
  if (/^\+?inf(inity)?$/i.test(text)) return Number.POSITIVE_INFINITY
  if (/^-inf(inity)?$/i.test(text)) return Number.NEGATIVE_INFINITY
  if (/^nan$/i.test(text)) return Number.NaN
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new PromParseError(n, `bad value ${text}`)
  return Number(text)
}

function unescapeHelp(text: string, n: number): string {
  return text.replace(/\\(.?)/g, (_all, e: string) => {
    if (e === 'n') return '\n'
    if (e === '\\') return '\\'
    throw new PromParseError(n, `bad escape \\${e} in HELP`)
  })
}

function checkHistogram(family: PromFamily): void {
  const groups = new Map<string, { buckets: Array<[number, number]>; count?: number }>()
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels
    const key = JSON.stringify(Object.entries(rest).sort())
    const group = groups.get(key) ?? { buckets: [] }
    groups.set(key, group)
    if (sample.name.endsWith('_bucket')) {
      if (le === undefined) throw new PromParseError(0, `${family.name}: a bucket without le`)
      group.buckets.push([parseValue(le, 0), sample.value])
    } else if (sample.name.endsWith('_count')) group.count = sample.value
  }
  for (const [key, group] of groups) {
    const sorted = group.buckets.sort((a, b) => a[0] - b[0])
    const last = sorted.at(-1)
    if (last === undefined || last[0] !== Number.POSITIVE_INFINITY)
      throw new PromParseError(0, `${family.name}${key}: no +Inf bucket`)
    if (last[1] !== group.count) throw new PromParseError(0, `${family.name}${key}: +Inf bucket ≠ _count`)
    for (let i = 1; i < sorted.length; i++)
      if ((sorted[i] as [number, number])[1] < (sorted[i - 1] as [number, number])[1])
        throw new PromParseError(0, `${family.name}${key}: buckets are not cumulative`)
  }
}

/** The sum of the samples of `name` (or its `suffix` series) whose labels include `labels`; 0 when none. */
export function sampleValue(
  families: Map<string, PromFamily>,
  name: string,
  labels: Record<string, string> = {},
  suffix = '',
): number {
  const family = families.get(name)
  if (family === undefined) throw new Error(`no metric family ${name} in the scrape`)
  const matches = family.samples.filter(
    (s) => s.name === `${name}${suffix}` && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )
  return matches.reduce((sum, s) => sum + s.value, 0)
}
