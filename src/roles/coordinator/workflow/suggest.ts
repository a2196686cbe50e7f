/** "did you mean …?" for unknown names: the closest candidate within a small edit distance. */

function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    let rowMin = i
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      const value = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + cost,
      )
      current.push(value)
      rowMin = Math.min(rowMin, value)
    }
    if (rowMin > limit) return limit + 1
    previous = current
  }
  return previous[b.length] as number
}

/** ` (did you mean "x"?)`, or `''` when nothing is close. */
export function suggest(name: string, candidates: Iterable<string>): string {
  // One edit per three characters: "fech" → "fetch", but "z" suggests nothing.
  const limit = Math.floor(name.length / 3)
  if (limit === 0) return ''
  let best: string | undefined
  let bestDistance = limit + 1
  for (const candidate of candidates) {
    if (candidate === name) continue
    const distance = editDistance(name, candidate, Math.min(limit, bestDistance))
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best === undefined ? '' : ` (did you mean "${best}"?)`
}
