import { RunNotFoundError } from '../../client/errors.js'
import type { HorusClient } from '../../client/horus-client.js'
import type { RunStatus, RunView } from '../../client/types.js'
import { listFlags, parseCommandArgs, stringFlag } from '../args.js'
import { withClient } from '../client-connection.js'
import { CONNECT_HELP, CONNECT_OPTIONS } from '../connect.js'
import { EXIT, UsageError } from '../errors.js'
import type { Output } from '../output.js'
import { createProgressView, formatDuration, renderRun } from '../progress.js'
import { progressSink, untilInterrupted } from '../progress-sink.js'
import { readStdin, readTextInput } from '../read-input.js'
import { parseSecretFlags, SECRET_HELP, SECRET_OPTIONS } from '../secret-flags.js'
import { exportBundle, verifyBundle } from './provenance.js'
import { validateCommand } from './workflow-validate.js'

/** Shorter prefixes are never completed: too many runs would share them. */
const MIN_RUN_PREFIX = 4

export const WORKFLOW_HELP = `Usage: horus workflow <subcommand> [options] (--peer MA | --gateway URL)

Subcommands:
  validate FILE... [--runners a,b]
                    check workflow files offline (no mesh needed): print every issue with its
                    path; exit 0 when all are valid, 2 otherwise. --runners names the runner kinds
                    the target mesh serves (default: hero,sal,osiris)
  submit FILE [--input k=v ...] [--secret NAME[=V] ...] [--run-id ID] [--wait]
                    start a run of the workflow in FILE (YAML or JSON; "-" reads stdin) and print
                    its run id; with --wait, show each step's state and duration live until the
                    run ends, then print its outputs. The submission is signed with this client's
                    key: the run executes with that key's trust, and only that key (or an admin
                    key) may read or control it
  status RUN_ID     the run and each of its steps (RUN_ID may be a unique prefix of at least
                    ${MIN_RUN_PREFIX} characters, as with git; so for every RUN_ID below)
  logs RUN_ID [--step ID]
                    the run's log lines (of one step with --step), with the audit trail of who
                    read or controlled the run
  list [--status S] [--limit N]
                    your runs (every run for an admin key), newest first; S is
                    pending|running|paused|completed|failed|cancelled; N is at most 1000
  cancel RUN_ID     cancel a run (running jobs are cancelled too)
  pause RUN_ID      dispatch nothing new until resumed
  resume RUN_ID     continue a paused run
  retry RUN_ID [--step ID ...] [--wait]
                    rerun a finished run: its failed, cancelled and skipped steps, or the steps
                    named with --step (whatever their state) and everything downstream of them;
                    succeeded steps keep their outputs
  signal RUN_ID NAME [--data JSON]
                    deliver signal NAME to the run: the step waiting for it completes with the
                    data (a JSON value; default null) as its output
  export RUN_ID     print the run's provenance bundle (JSON): its signed submission, every step
                    attempt's signed job and signed result, the DAG, and the public keys (with
                    roles and capabilities) of every signer; redirect it to a file
  verify FILE [--submitter KEY]
                    check a bundle offline (no mesh): every job chains back to the submission,
                    every output is a result signed by a key the bundle trusts as a runner of
                    that capability, bound to its job, in the DAG's order; exit 0 only if all
                    holds, else exit 1 naming each failed check and its step. --submitter
                    requires the submission to be signed by KEY (peer ID or hex key)

Options:
  --input k=v       a run input; v is parsed as JSON when it is valid JSON (3, true, {"a":1}),
                    else taken as a string. Repeat for more inputs.
  --run-id ID       (submit) the run's id (default: a random UUID): 1-128 of A-Z a-z 0-9 _ . : -,
                    not starting with "cron." or "hook."; an id already taken is refused
                    (RunExistsError), so a scripted retry cannot start a second run
${SECRET_HELP}
                    (submit: the values of the secrets the steps name in \`secrets:\`)
  --wait            (submit, retry) wait for the run to end; exit 0 if it completed, 1 otherwise.
                    Ctrl-C stops waiting (the run goes on).

--peer may name any mesh node: the client finds a coordinator through it.
${CONNECT_HELP}

Exit codes: 0 success (run completed, bundle verified), 1 run failed or was cancelled, a bundle
did not verify, or the request was refused, 2 usage error or invalid workflow file (validate),
3 cannot reach the mesh.`

const OPTIONS = {
  ...CONNECT_OPTIONS,
  input: { type: 'string', multiple: true },
  'run-id': { type: 'string' },
  ...SECRET_OPTIONS,
  wait: { type: 'boolean' },
  step: { type: 'string', multiple: true },
  status: { type: 'string' },
  limit: { type: 'string' },
  runners: { type: 'string', multiple: true },
  data: { type: 'string' },
  submitter: { type: 'string' },
} as const

const RUN_STATUSES: readonly RunStatus[] = [
  'pending',
  'running',
  'paused',
  'completed',
  'failed',
  'cancelled',
]

type Values = ReturnType<typeof parseCommandArgs>['values']

export async function workflowCommand(argv: string[], out: Output): Promise<number> {
  const [sub, ...rest] = argv
  const { values, positionals } = parseCommandArgs(`workflow ${sub ?? ''}`.trim(), rest, OPTIONS)
  const json = values.json === true
  switch (sub) {
    case 'validate':
      return validateCommand(positionals, values.runners, json, out, readStdin)
    case 'submit':
      return submit(values, one(positionals, 'submit', 'FILE'), out)
    case 'status': {
      const runId = one(positionals, 'status', 'RUN_ID')
      const run = await withClient(values, (client) => onRun(client, runId, (id) => client.getStatus(id)))
      if (json) out.json(run)
      else for (const line of renderRun(run)) out.line(line)
      return EXIT.ok
    }
    case 'logs': {
      const runId = one(positionals, 'logs', 'RUN_ID')
      const stepId = stringFlag(values.step)
      const lines = await withClient(values, (client) =>
        onRun(client, runId, (id) => client.logs(id, stepId === undefined ? {} : { stepId })),
      )
      if (json) out.json(lines)
      else if (lines.length === 0) out.line('no log lines')
      else
        for (const l of lines) {
          out.line(`${l.at}  ${l.level.padEnd(5)}  ${l.stepId ?? '-'}  ${l.message}`)
        }
      return EXIT.ok
    }
    case 'list': {
      none(positionals, 'list')
      const options = listFlags('workflow list', values, RUN_STATUSES)
      const runs = await withClient(values, (client) => client.listWorkflows(options))
      if (json) out.json(runs)
      else if (runs.length === 0) out.line('no runs')
      else
        for (const r of runs) {
          out.line(`${r.runId}  ${r.status.padEnd(9)}  ${r.createdAt}  ${r.workflow}`)
        }
      return EXIT.ok
    }
    case 'retry':
      return retry(values, one(positionals, 'retry', 'RUN_ID'), out)
    case 'signal': {
      const [runId, name, extra] = positionals
      if (runId === undefined || name === undefined)
        throw new UsageError(`workflow signal: expected RUN_ID NAME\n\n${WORKFLOW_HELP}`)
      if (extra !== undefined) throw new UsageError(`workflow signal: unexpected argument "${extra}"`)
      const data = parseData(stringFlag(values.data))
      const run = await withClient(values, (client) =>
        onRun(client, runId, (id) => client.signal(id, name, data)),
      )
      if (json) out.json(run)
      else out.line(`${run.runId}: signal ${name} delivered (${run.status})`)
      return EXIT.ok
    }
    case 'export': {
      const runId = one(positionals, 'export', 'RUN_ID')
      return withClient(values, (client) => onRun(client, runId, (id) => exportBundle(client, id, out)))
    }
    case 'verify': {
      const submitter = stringFlag(values.submitter)
      const options = { json, ...(submitter === undefined ? {} : { submitter }) }
      return verifyBundle(one(positionals, 'verify', 'FILE'), options, out)
    }
    case 'cancel':
    case 'pause':
    case 'resume': {
      const runId = one(positionals, sub, 'RUN_ID')
      const run = await withClient(values, (client) => onRun(client, runId, (id) => client[sub](id)))
      if (json) out.json(run)
      else out.line(`${run.runId}: ${run.status}`)
      return EXIT.ok
    }
    default:
      throw new UsageError(
        `workflow: ${sub === undefined ? 'missing subcommand' : `unknown subcommand "${sub}"`}\n\n${WORKFLOW_HELP}`,
      )
  }
}

async function retry(values: Values, given: string, out: Output): Promise<number> {
  const steps = listOfStrings(values.step)
  const json = values.json === true
  return withClient(values, async (client) => {
    const run = await onRun(client, given, (id) => client.retry(id, steps.length === 0 ? {} : { steps }))
    const runId = run.runId
    if (values.wait !== true) {
      if (json) out.json(run)
      else out.line(`${run.runId}: ${run.status} (rerun ${run.epoch})`)
      return EXIT.ok
    }
    return waitForOutcome(client, runId, 'rerunning', out, json)
  })
}

/** `--wait`: progress until the run ends, then its outcome; exit 0 only when it completed. */
async function waitForOutcome(
  client: HorusClient,
  runId: string,
  what: 'submitted' | 'rerunning',
  out: Output,
  json: boolean,
): Promise<number> {
  if (!json) out.error(`run ${runId} ${what}; waiting (Ctrl-C stops waiting, the run goes on)`)
  const run = await waitWithProgress(client, runId, out, !json)
  if (run === undefined) {
    out.error(`stopped waiting; follow it with: horus workflow status ${runId}`)
    return EXIT.failed
  }
  if (json) out.json(run)
  else printOutcome(run, out)
  return run.status === 'completed' ? EXIT.ok : EXIT.failed
}

/** `--data JSON`: a JSON value (refused when it does not parse). */
function parseData(text: string | undefined): unknown {
  if (text === undefined) return undefined
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new UsageError(
      `workflow signal: --data: expected JSON, got ${JSON.stringify(text)} (${(err as Error).message})`,
    )
  }
}

function listOfStrings(value: string | boolean | string[] | undefined): string[] {
  if (value === undefined || typeof value === 'boolean') return []
  return Array.isArray(value) ? value : [value]
}

async function submit(values: Values, file: string, out: Output): Promise<number> {
  const inputs = parseInputs(values.input)
  const secrets = parseSecretFlags(values, 'workflow submit')
  const text = await readWorkflow(file)
  const json = values.json === true
  return withClient(values, async (client) => {
    const chosen = stringFlag(values['run-id'])
    const runId = await client.submitWorkflow(
      text,
      inputs,
      chosen === undefined ? secrets : { ...secrets, runId: chosen },
    )
    if (values.wait !== true) {
      if (json) out.json({ runId })
      else out.line(runId)
      return EXIT.ok
    }
    return waitForOutcome(client, runId, 'submitted', out, json)
  })
}

/** The terminal run, or undefined when the user pressed Ctrl-C. */
async function waitWithProgress(
  client: HorusClient,
  runId: string,
  out: Output,
  showProgress: boolean,
): Promise<RunView | undefined> {
  const view = showProgress ? createProgressView(progressSink(out)) : undefined
  const outcome = await untilInterrupted((signal) =>
    client.waitForCompletion(runId, {
      signal,
      ...(view === undefined ? {} : { onProgress: (r: RunView) => view.update(r) }),
    }),
  )
  if (outcome !== undefined) view?.finish(outcome.value)
  return outcome?.value
}

function printOutcome(run: RunView, out: Output): void {
  const duration =
    run.finishedAt === undefined
      ? ''
      : ` in ${formatDuration(Date.parse(run.finishedAt) - Date.parse(run.createdAt))}`
  out.line(`run ${run.runId} ${run.status}${duration}`)
  if (run.outputs !== undefined && Object.keys(run.outputs).length > 0) {
    out.line(`outputs: ${JSON.stringify(run.outputs, null, 2)}`)
  }
  if (run.error !== undefined) {
    out.line(`error${run.error.step === undefined ? '' : ` in step ${run.error.step}`}: ${run.error.message}`)
  }
}

function readWorkflow(file: string): Promise<string> {
  return readTextInput(file, 'workflow submit')
}

/** `--input k=v`: v as JSON when it parses, else the string itself. */
export function parseInputs(raw: string | boolean | string[] | undefined): Record<string, unknown> {
  const items = raw === undefined || typeof raw === 'boolean' ? [] : Array.isArray(raw) ? raw : [raw]
  const inputs: Record<string, unknown> = {}
  for (const item of items) {
    const eq = item.indexOf('=')
    if (eq <= 0) throw new UsageError(`--input: expected key=value, got "${item}"`)
    const value = item.slice(eq + 1)
    let parsed: unknown = value
    try {
      parsed = JSON.parse(value)
    } catch {
      // a plain string
    }
    inputs[item.slice(0, eq)] = parsed
  }
  return inputs
}

/** How many runs whose id contains a prefix are looked at (enough to tell "ambiguous"). */
const PREFIX_SEARCH_LIMIT = 100

/**
 * Calls `fn` with the run id given; when no run has that id, a prefix of exactly one run's id
 * (like git's short hashes) stands for that run.
 */
async function onRun<T>(client: HorusClient, given: string, fn: (runId: string) => Promise<T>): Promise<T> {
  try {
    return await fn(given)
  } catch (err) {
    if (!(err instanceof RunNotFoundError) || given.length < MIN_RUN_PREFIX) throw err
    // Only runs whose id contains the prefix: the coordinators filter, the page stays small.
    const runs = await client.listWorkflows({ query: given, limit: PREFIX_SEARCH_LIMIT })
    const matches = runs.filter((r) => r.runId.startsWith(given)).map((r) => r.runId)
    if (matches.length === 0) throw err
    if (matches.length > 1) {
      const shown = matches.slice(0, 5).join(', ')
      throw new UsageError(
        `run id prefix "${given}" is ambiguous: it matches ${matches.length} runs (${shown}${matches.length > 5 ? ', …' : ''}); give more characters`,
      )
    }
    return fn(matches[0] as string)
  }
}

function one(positionals: string[], sub: string, what: string): string {
  const [value, extra] = positionals
  if (value === undefined) throw new UsageError(`workflow ${sub}: missing ${what}\n\n${WORKFLOW_HELP}`)
  if (extra !== undefined) throw new UsageError(`workflow ${sub}: unexpected argument "${extra}"`)
  return value
}

function none(positionals: string[], sub: string): void {
  if (positionals.length > 0) throw new UsageError(`workflow ${sub}: unexpected argument "${positionals[0]}"`)
}
