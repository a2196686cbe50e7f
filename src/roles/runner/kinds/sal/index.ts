/**
 * The `sal` kind: a script (in the sandbox) with system operations — `os.exec`, `fs.read/write/list`
 * confined to the job's work directory, `http.get/post` — plus the runner's registered functions.
 * `input` holds upstream outputs, `inputs` the run's inputs, `run` the run (id, workflow, error),
 * `env` the job's environment; the last expression is the output.
 */

import { type KindHandler, scriptContext } from '../../execution/index.js'
import { salHostApi } from './host-api.js'

export function salKind(): KindHandler {
  return async (job, ctx) => {
    const run = await ctx.sandbox.runScript({
      code: job.payload,
      globals: { input: job.input, env: ctx.env, ...scriptContext(job) },
      hostFunctions: { ...ctx.functions.hostFunctions(), ...salHostApi(ctx) },
      limits: { wallTimeMs: job.timeoutMs },
      signal: ctx.signal,
      onLog: (line) => ctx.log(line),
    })
    return run.value
  }
}
