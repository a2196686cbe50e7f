/**
 * `--secret NAME=VALUE`, `--secret NAME` (the value from the environment variable NAME, so it
 * stays out of shell history and `ps`) and `--secret-recipient KEY`, shared by `job create` and
 * `workflow submit`. The values are sealed by the SDK before anything is sent.
 */
import type { SecretOptions } from '../client/horus-client.js'
import { SECRET_NAME_PATTERN } from '../protocols/jobs/secrets.js'
import { listFlag } from './args.js'
import { UsageError } from './errors.js'

export const SECRET_OPTIONS = {
  secret: { type: 'string', multiple: true },
  'secret-recipient': { type: 'string', multiple: true },
} as const

export const SECRET_HELP = `  --secret NAME=VALUE
                    a secret environment variable (repeatable): sealed here to the runners trusted
                    for the capability, readable only by the runner that executes it, and replaced
                    by *** in logs, outputs and errors
  --secret NAME     the same, with the value taken from the environment variable NAME (keeps it
                    out of shell history and the process list)
  --secret-recipient KEY
                    seal secrets to this runner key (peer ID or hex; repeatable) instead of the
                    runners the node says it trusts`

type Values = Record<string, string | boolean | string[] | undefined>

export function parseSecretFlags(
  values: Values,
  command: string,
  env: Record<string, string | undefined> = process.env,
): SecretOptions {
  const raw = values.secret
  const items = raw === undefined || typeof raw === 'boolean' ? [] : Array.isArray(raw) ? raw : [raw]
  const secrets: Record<string, string> = {}
  for (const item of items) {
    const eq = item.indexOf('=')
    const name = eq < 0 ? item : item.slice(0, eq)
    if (!SECRET_NAME_PATTERN.test(name)) {
      throw new UsageError(
        `${command}: --secret: expected NAME=VALUE or NAME (a variable name), got "${name}"`,
      )
    }
    const value = eq < 0 ? env[name] : item.slice(eq + 1)
    if (value === undefined) {
      throw new UsageError(`${command}: --secret ${name}: the environment has no variable ${name}`)
    }
    if (Object.hasOwn(secrets, name)) throw new UsageError(`${command}: --secret ${name}: given twice`)
    secrets[name] = value
  }
  const recipients = listFlag(values['secret-recipient'])
  return {
    ...(items.length === 0 ? {} : { secrets }),
    ...(recipients === undefined ? {} : { secretRecipients: recipients }),
  }
}
