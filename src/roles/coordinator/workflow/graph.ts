/**
 * Topological order and cycle detection in O(nodes + edges), without recursion, so a 100k-step
 * chain neither blows the stack nor goes quadratic.
 */

export interface GraphAnalysis {
  /** Nodes in a topological order (dependencies first); complete only when `cycles` is empty. */
  readonly order: number[]
  /**
   * One cycle per strongly connected knot found, each in execution order (every node depends on
   * the one before it, the first on the last) and starting at its lowest index.
   */
  readonly cycles: number[][]
}

/** `deps[i]` lists the (distinct) nodes node `i` depends on. */
export function analyzeGraph(deps: readonly (readonly number[])[]): GraphAnalysis {
  const n = deps.length
  const indegree = new Int32Array(n)
  const dependents: number[][] = Array.from({ length: n }, () => [])
  for (let i = 0; i < n; i++) {
    const list = deps[i] as readonly number[]
    indegree[i] = list.length
    for (const d of list) (dependents[d] as number[]).push(i)
  }
  const order: number[] = []
  for (let i = 0; i < n; i++) if (indegree[i] === 0) order.push(i)
  // `order` doubles as Kahn's FIFO queue: nodes are appended as their last dependency is placed.
  for (let head = 0; head < order.length; head++) {
    for (const next of dependents[order[head] as number] as number[]) {
      if (--(indegree[next] as number) === 0) order.push(next)
    }
  }
  return { order, cycles: order.length === n ? [] : findCycles(deps, indegree) }
}

/**
 * Every node left with a positive indegree still has a dependency that is also left, so walking
 * "first remaining dependency" from any of them must loop; each walk costs only the nodes it
 * visits for the first time.
 */
function findCycles(deps: readonly (readonly number[])[], indegree: Int32Array): number[][] {
  const n = deps.length
  const DONE = -1
  const walkOf = new Int32Array(n) // 0 = unvisited, w > 0 = on walk w, DONE = finished
  const positionInWalk = new Int32Array(n)
  const cycles: number[][] = []
  let walk = 0
  for (let start = 0; start < n; start++) {
    if ((indegree[start] as number) === 0 || walkOf[start] !== 0) continue
    walk++
    const path: number[] = []
    let current = start
    while (walkOf[current] === 0) {
      walkOf[current] = walk
      positionInWalk[current] = path.length
      path.push(current)
      const next = (deps[current] as readonly number[]).find((d) => (indegree[d] as number) > 0)
      if (next === undefined) break // unreachable: a remaining node has a remaining dependency
      current = next
    }
    if (walkOf[current] === walk) {
      const loop = path.slice(positionInWalk[current]).reverse()
      let lowest = 0
      for (let i = 1; i < loop.length; i++) if ((loop[i] as number) < (loop[lowest] as number)) lowest = i
      cycles.push([...loop.slice(lowest), ...loop.slice(0, lowest)])
    }
    for (const node of path) walkOf[node] = DONE
  }
  return cycles
}
