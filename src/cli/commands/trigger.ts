import { parseCommandArgs, stringFlag } from '../args.js'
import { withClient } from '../client-connection.js'
import { CONNECT_HELP, CONNECT_OPTIONS } from '../connect.js'
import { EXIT, UsageError } from '../errors.js'
import type { Output } from '../output.js'
import { readTextInput } from '../read-input.js'
import { parseInputs } from './workflow.js'

export const TRIGGER_HELP = `Usage: horus trigger <subcommand> [options] (--peer MA | --gateway URL)

Triggers start runs of a workflow on a schedule (cron) or on an HTTP call (POST /hooks/<name> at
any coordinator's gateway). They are replicated to every coordinator: add one anywhere, it fires
once per tick across the mesh and survives the coordinator it was added on.

Subcommands:
  add NAME --workflow FILE (--cron EXPR [--timezone TZ] | --http [--secret S]) [options]
                    register (or replace) a trigger; its runs have this key's authority
  list              the triggers every coordinator serves, with their last run
  remove NAME       remove a trigger everywhere

Options (add):
  --workflow FILE   the workflow (YAML or JSON; "-" reads stdin)
  --cron EXPR       cron schedule, 5 fields (6 with seconds first), e.g. "0 3 * * *"
  --timezone TZ     IANA time zone of the schedule (default: each coordinator's)
  --http            a webhook: POST /hooks/NAME starts a run with the JSON body as inputs
  --secret S        (http) the HMAC key hook calls sign their body with (≥ 16 characters)
  --input k=v       a run input (JSON when it parses, else a string); repeatable
  --overlap P       (cron) a tick while the previous run is unfinished: skip (default), allow,
                    or cancel_previous
  --catch-up N      (cron) start ticks missed while no coordinator ran: none (default), all, or
                    at most the latest N

${CONNECT_HELP}

Exit codes: 0 success, 1 refused (invalid trigger, unknown name), 2 usage error, 3 cannot reach the mesh.`

const OPTIONS = {
  ...CONNECT_OPTIONS,
  workflow: { type: 'string' },
  cron: { type: 'string' },
  timezone: { type: 'string' },
  http: { type: 'boolean' },
  secret: { type: 'string' },
  input: { type: 'string', multiple: true },
  overlap: { type: 'string' },
  'catch-up': { type: 'string' },
} as const

type Values = ReturnType<typeof parseCommandArgs>['values']

export async function triggerCommand(argv: string[], out: Output): Promise<number> {
  const [sub, ...rest] = argv
  const { values, positionals } = parseCommandArgs(`trigger ${sub ?? ''}`.trim(), rest, OPTIONS)
  const json = values.json === true
  switch (sub) {
    case 'add': {
      const spec = await addSpec(one(positionals, 'add', 'NAME'), values)
      const added = await withClient(values, (client) => client.triggers.add(spec))
      if (json) out.json(added)
      else out.line(`trigger ${added.name} registered`)
      return EXIT.ok
    }
    case 'list': {
      if (positionals.length > 0)
        throw new UsageError(`trigger list: unexpected argument "${positionals[0]}"`)
      const triggers = await withClient(values, (client) => client.triggers.list())
      if (json) out.json(triggers)
      else if (triggers.length === 0) out.line('no triggers')
      else
        for (const t of triggers) {
          const when = t.kind === 'cron' ? `cron "${t.schedule ?? ''}"` : `POST /hooks/${t.name}`
          const last = t.lastFiredAt === undefined ? 'never fired' : `last ${t.lastFiredAt}`
          out.line(`${t.name}  ${when}  ${last}`)
        }
      return EXIT.ok
    }
    case 'remove': {
      const name = one(positionals, 'remove', 'NAME')
      const removed = await withClient(values, (client) => client.triggers.remove(name))
      if (json) out.json(removed)
      else out.line(`trigger ${removed.name} removed`)
      return EXIT.ok
    }
    default:
      throw new UsageError(
        `trigger: ${sub === undefined ? 'missing subcommand' : `unknown subcommand "${sub}"`}\n\n${TRIGGER_HELP}`,
      )
  }
}

async function addSpec(name: string, values: Values) {
  const file = stringFlag(values.workflow)
  if (file === undefined) throw new UsageError('trigger add: --workflow FILE is required')
  const cron = stringFlag(values.cron)
  const http = values.http === true
  if ((cron === undefined) === !http)
    throw new UsageError('trigger add: give exactly one of --cron EXPR or --http')
  const workflow = await readTextInput(file, 'trigger add')
  const timezone = stringFlag(values.timezone)
  const secret = stringFlag(values.secret)
  const overlap = stringFlag(values.overlap)
  const catchUp = readCatchUp(stringFlag(values['catch-up']))
  if (http && (timezone !== undefined || overlap !== undefined || catchUp !== undefined))
    throw new UsageError('trigger add: --timezone, --overlap and --catch-up apply to --cron triggers')
  if (!http && secret !== undefined) throw new UsageError('trigger add: --secret applies to --http triggers')
  return {
    name,
    kind: http ? ('http' as const) : ('cron' as const),
    workflow,
    inputs: parseInputs(values.input),
    ...(cron === undefined ? {} : { schedule: cron }),
    ...(timezone === undefined ? {} : { timezone }),
    ...(secret === undefined ? {} : { secret }),
    ...(overlap === undefined ? {} : { overlap: overlap as 'skip' | 'allow' | 'cancel_previous' }),
    ...(catchUp === undefined ? {} : { catch_up: catchUp }),
  }
}

function readCatchUp(text: string | undefined): boolean | number | undefined {
  if (text === undefined) return undefined
  if (text === 'none') return false
  if (text === 'all') return true
  const n = Number(text)
  if (Number.isSafeInteger(n) && n >= 1) return n
  throw new UsageError(`trigger add: --catch-up: expected none, all or a number ≥ 1, got "${text}"`)
}

function one(positionals: string[], sub: string, what: string): string {
  const [value, extra] = positionals
  if (value === undefined) throw new UsageError(`trigger ${sub}: missing ${what}\n\n${TRIGGER_HELP}`)
  if (extra !== undefined) throw new UsageError(`trigger ${sub}: unexpected argument "${extra}"`)
  return value
}
