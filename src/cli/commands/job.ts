import { readFile } from 'node:fs/promises'
import type { JobResultView, JobStatusView } from '../../client/types.js'
import { MAX_JOB_TIMEOUT_MS } from '../../protocols/jobs/constants.js'
import { SUPERVISOR_JOB_STATUSES } from '../../roles/supervisor/job-record.js'
import { listFlags, parseCommandArgs, stringFlag } from '../args.js'
import { withClient } from '../client-connection.js'
import { CONNECT_HELP, CONNECT_OPTIONS } from '../connect.js'
import { EXIT, UsageError } from '../errors.js'
import { livenessLabels, type PeerLabel } from '../names.js'
import type { Output } from '../output.js'
import { untilInterrupted } from '../progress-sink.js'
import { parseSecretFlags, SECRET_HELP, SECRET_OPTIONS } from '../secret-flags.js'

export const JOB_HELP = `Usage: horus job <subcommand> [options] (--peer MA | --gateway URL)

Subcommands:
  create --runner KIND --payload TEXT|@FILE [--input JSON] [--env K=V ...] [--secret NAME[=V] ...]
         [--timeout MS] [--wait] [--wait-for-runner]
                    build a job, sign it with this client's key (--data-dir) and hand it to a
                    supervisor; prints the job id, or with --wait the job's output. A job for a
                    capability no live runner offers is refused at once (no_runner) unless
                    --wait-for-runner is given
  list [--status S] [--limit N]
                    jobs on the supervisor this client uses, newest first; S is
                    ${SUPERVISOR_JOB_STATUSES.join('|')}
  status JOB_ID     where the job is: status, reason, runner, and runners that refused it (why)
  result JOB_ID [--wait]
                    the job's signed result (checked before it is printed); --wait holds until the
                    job ends
  logs JOB_ID       lines the job printed
  cancel JOB_ID     cancel the job; a runner executing it is told to stop

Options:
  --runner KIND     the capability that runs it: hero, sal, osiris or a custom kind
  --payload P       the script; @FILE reads it from FILE
  --input JSON      a JSON object the script sees as \`input\`
  --env K=V         an environment variable for the job (repeatable)
${SECRET_HELP}
  --timeout MS      the job's time limit in milliseconds (at most 604800000, 7 days)
  --wait            wait for the job to end; exit 0 if it succeeded, 1 otherwise (says why
                    while the job waits, e.g. that no runner can run it)
  --wait-for-runner queue the job even when no runner offers its capability yet
  --status S        (list) only jobs in status S
  --limit N         (list) at most N jobs (default 1000)

Supervisors accept only jobs signed by a key their trust policy admits for the capability: run
with --data-dir of a trusted identity. --peer may name any mesh node: the client finds a
supervisor through it.
${CONNECT_HELP}

Exit codes: 0 success, 1 job failed (or was refused), 2 usage error, 3 cannot reach the mesh.`

const OPTIONS = {
  ...CONNECT_OPTIONS,
  runner: { type: 'string' },
  payload: { type: 'string' },
  input: { type: 'string' },
  env: { type: 'string', multiple: true },
  ...SECRET_OPTIONS,
  timeout: { type: 'string' },
  wait: { type: 'boolean' },
  'wait-for-runner': { type: 'boolean' },
  status: { type: 'string' },
  limit: { type: 'string' },
} as const

type Values = ReturnType<typeof parseCommandArgs>['values']

export async function jobCommand(argv: string[], out: Output): Promise<number> {
  const [sub, ...rest] = argv
  const { values, positionals } = parseCommandArgs(`job ${sub ?? ''}`.trim(), rest, OPTIONS)
  const json = values.json === true
  switch (sub) {
    case 'create':
      if (positionals.length > 0) throw new UsageError(`job create: unexpected argument "${positionals[0]}"`)
      return create(values, out)
    case 'list': {
      if (positionals.length > 0) throw new UsageError(`job list: unexpected argument "${positionals[0]}"`)
      const options = listFlags('job list', values, SUPERVISOR_JOB_STATUSES)
      await withClient(values, async (client) => {
        const jobs = await client.listJobs(options)
        if (json) out.json(jobs)
        else if (jobs.length === 0) out.line('no jobs')
        else {
          const label = await livenessLabels(client)
          for (const job of jobs) out.line(describeJob(job, label))
        }
      })
      return EXIT.ok
    }
    case 'status': {
      const jobId = one(positionals, sub)
      await withClient(values, async (client) => {
        const status = await client.getJobStatus(jobId)
        if (json) {
          out.json(status)
          return
        }
        out.line(`${status.jobId}  ${status.status}  ${status.capability}`)
        if (status.runner !== undefined) out.line(`runner: ${(await livenessLabels(client))(status.runner)}`)
        if (status.reason !== undefined) out.line(`reason: ${status.reason}`)
        printRefusals(status.refusals, out)
      })
      return EXIT.ok
    }
    case 'result': {
      const jobId = one(positionals, sub)
      const view = await withClient(values, async (client) =>
        values.wait === true
          ? (await untilInterrupted((signal) => client.waitForJob(jobId, { signal })))?.value
          : client.getJobResult(jobId),
      )
      if (view === undefined) return EXIT.failed
      return printResult(view, json, out)
    }
    case 'logs': {
      const jobId = one(positionals, sub)
      const lines = await withClient(values, (client) => client.jobLogs(jobId))
      if (json) out.json(lines)
      else for (const line of lines) out.line(line)
      return EXIT.ok
    }
    case 'cancel': {
      const jobId = one(positionals, sub)
      const status = await withClient(values, (client) => client.cancelJob(jobId))
      if (json) out.json(status)
      else out.line(`${status.jobId}: ${status.status}`)
      return EXIT.ok
    }
    default:
      throw new UsageError(
        `job: ${sub === undefined ? 'missing subcommand' : `unknown subcommand "${sub}"`}\n\n${JOB_HELP}`,
      )
  }
}

async function create(values: Values, out: Output): Promise<number> {
  const runner = stringFlag(values.runner)
  if (runner === undefined) throw new UsageError('job create: missing --runner KIND')
  const payloadFlag = stringFlag(values.payload)
  if (payloadFlag === undefined) throw new UsageError('job create: missing --payload TEXT|@FILE')
  const payload = await readPayload(payloadFlag)
  const input = parseInput(stringFlag(values.input))
  const env = parseEnv(values.env)
  const secrets = parseSecretFlags(values, 'job create')
  const timeout = stringFlag(values.timeout)
  const timeoutMs = timeout === undefined ? undefined : Number(timeout)
  if (
    timeoutMs !== undefined &&
    (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_JOB_TIMEOUT_MS)
  ) {
    throw new UsageError(
      `job create: --timeout: expected milliseconds from 1 to ${MAX_JOB_TIMEOUT_MS} (7 days), got "${timeout}"`,
    )
  }
  const json = values.json === true
  return withClient(values, async (client) => {
    const status = await client.createJob(
      {
        runner,
        payload,
        ...(input === undefined ? {} : { input }),
        ...(env === undefined ? {} : { env }),
        ...secrets,
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
      },
      values['wait-for-runner'] === true ? { waitForRunner: true } : {},
    )
    if (values.wait !== true) {
      if (json) out.json(status)
      else out.line(status.jobId)
      return EXIT.ok
    }
    if (!json) out.error(`job ${status.jobId} accepted; waiting`)
    let said: string | undefined
    const onProgress = (view: JobResultView): void => {
      const why = waitingReason(view)
      if (json || why === said) return
      said = why
      out.error(why)
    }
    const outcome = await untilInterrupted((signal) =>
      client.waitForJob(status.jobId, { signal, onProgress }),
    )
    if (outcome === undefined) {
      out.error(`stopped waiting; see it with: horus job result ${status.jobId}`)
      return EXIT.failed
    }
    return printResult(outcome.value, json, out)
  })
}

/** What a waiting job is waiting for, in words; "nothing can run it" is said plainly. */
function waitingReason(view: JobResultView): string {
  const reason = view.reason ?? view.status
  if (/^no runner for capability/.test(reason))
    return `waiting: nothing in the mesh can run this job now (${reason}); it stays queued until a runner appears or the job expires`
  return `waiting: ${reason}`
}

/** `id  status  capability  accepted-at  runner`, a step's `run/step` after it. */
function describeJob(job: JobStatusView, label: PeerLabel): string {
  const step = job.run === undefined ? '' : `  ${job.run}/${job.step ?? '?'}`
  const runner = job.runner === undefined ? '' : `  on ${label(job.runner)}`
  const accepted = new Date(job.acceptedAt).toISOString()
  return `${job.jobId}  ${job.status.padEnd(10)}  ${job.capability.padEnd(8)}  ${accepted}${runner}${step}`
}

function printResult(view: JobResultView, json: boolean, out: Output): number {
  const succeeded = view.status === 'succeeded'
  if (json) out.json(view)
  else if (succeeded) out.line(JSON.stringify(view.result?.output ?? null, null, 2))
  else {
    const error = view.result?.error ?? view.error
    out.line(
      `${view.jobId}: ${view.status}${error === undefined ? '' : ` - ${error.name}: ${error.message}`}`,
    )
    if (view.reason !== undefined) out.line(`reason: ${view.reason}`)
    printRefusals(view.refusals, out)
  }
  const terminal = ['succeeded', 'failed', 'timed_out', 'cancelled'].includes(view.status)
  return succeeded || !terminal ? EXIT.ok : EXIT.failed
}

/** Runners that would not run the job (not trusted, capability missing…), as the supervisor heard. */
function printRefusals(refusals: Array<{ runner: string; reason: string }> | undefined, out: Output): void {
  for (const refusal of refusals ?? []) out.line(`refused by runner ${refusal.runner}: ${refusal.reason}`)
}

async function readPayload(flag: string): Promise<string> {
  if (!flag.startsWith('@')) return flag
  try {
    return await readFile(flag.slice(1), 'utf8')
  } catch (err) {
    throw new UsageError(`job create: --payload: cannot read ${flag.slice(1)}: ${(err as Error).message}`)
  }
}

function parseInput(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new UsageError(`job create: --input: not valid JSON: ${(err as Error).message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UsageError('job create: --input: expected a JSON object')
  }
  return value as Record<string, unknown>
}

function parseEnv(raw: string | boolean | string[] | undefined): Record<string, string> | undefined {
  if (raw === undefined || typeof raw === 'boolean') return undefined
  const env: Record<string, string> = {}
  for (const item of Array.isArray(raw) ? raw : [raw]) {
    const eq = item.indexOf('=')
    if (eq <= 0) throw new UsageError(`job create: --env: expected KEY=VALUE, got "${item}"`)
    env[item.slice(0, eq)] = item.slice(eq + 1)
  }
  return env
}

function one(positionals: string[], sub: string): string {
  const [value, extra] = positionals
  if (value === undefined) throw new UsageError(`job ${sub}: missing JOB_ID\n\n${JOB_HELP}`)
  if (extra !== undefined) throw new UsageError(`job ${sub}: unexpected argument "${extra}"`)
  return value
}
