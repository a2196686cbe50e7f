/**
 * The built-in runner kinds, mirroring the seeds: `hero` (heroscript actions), `sal` (system
 * operations in a script), `osiris` (data operations in a script). Custom kinds are plain
 * `async (job, ctx) => output` functions registered on the executor.
 */

import type { KindHandler } from '../execution/index.js'
import { heroKind } from './hero/index.js'
import { type OsirisKindInit, osirisKind } from './osiris/index.js'
import { salKind } from './sal/index.js'

export { HeroscriptParseError, heroKind, parseHeroscript } from './hero/index.js'
export * from './osiris/index.js'
export { salKind } from './sal/index.js'
export * from './system/errors.js'

export interface BuiltinKindsInit {
  osiris?: OsirisKindInit
}

export function builtinKinds(init: BuiltinKindsInit = {}): Record<string, KindHandler> {
  return { hero: heroKind(), sal: salKind(), osiris: osirisKind(init.osiris) }
}
