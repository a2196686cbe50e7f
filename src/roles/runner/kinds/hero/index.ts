/**
 * The `hero` kind: heroscript actions (`!!http.get url:'…'`, `!!http.post`, `!!shell.exec`), see
 * GRAMMAR.md. The whole payload is parsed and checked first; actions then run in order.
 */

import type { KindHandler } from '../../execution/index.js'
import { checkActions } from './actions.js'
import { parseHeroscript } from './parser.js'

export { HeroscriptParseError } from './errors.js'
export { type HeroAction, type HeroParam, parseHeroscript } from './parser.js'

export function heroKind(): KindHandler {
  return async (job, ctx) => {
    const actions = checkActions(parseHeroscript(job.payload))
    const outputs: unknown[] = []
    for (const action of actions) {
      ctx.signal.throwIfAborted()
      ctx.log(`!!${action.name}`)
      outputs.push(await action.spec.run(action.params, ctx))
      ctx.heartbeat({ action: action.name })
    }
    return outputs.length === 1 ? outputs[0] : outputs
  }
}
