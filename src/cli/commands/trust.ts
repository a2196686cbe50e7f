import { access } from 'node:fs/promises'
import { loadConfig } from '../../node/config/load.js'
import { identityFile, readExistingIdentity } from '../../node/identity.js'
import { normalizePublicKey, peerIdFromPublicKeyHex } from '../../protocols/jobs/keys.js'
import { type TrustedKey, TrustPolicy, type TrustRole } from '../../protocols/jobs/trust-policy.js'
import { parseCommandArgs, stringFlag } from '../args.js'
import { EXIT, UsageError } from '../errors.js'
import type { Output } from '../output.js'

export const TRUST_HELP = `Usage: horus trust explain KEY [--capability C] [--config F] [--data-dir D] [--json]

Prints what this node's trust policy allows KEY (a peer ID or hex public key) and why: the entry
that admits it, its roles and capabilities, what each role lets it do, and with --capability
whether it may submit or serve C. The policy is the trust: section of --config (the node's
YAML file, as "horus node start --config" reads it) plus the node's own key from --data-dir,
which is always trusted.

Options:
  --capability C    also decide one capability (submitting it as client/coordinator, serving it
                    as runner)
  --config F        the node's config file                          (default: none)
  --data-dir D      the node's data directory, for its own key       [HORUS_DATA_DIR]
  --json            print the explanation as JSON

Exit codes: 0 the key is in the policy (and, with --capability, allowed it in at least one of
its roles), 1 the key is not in the policy or not allowed the capability, 2 usage or
configuration error.`

/** What each role admits a key to, in this node's words. */
const ROLE_MEANING: Record<TrustRole, string> = {
  client: 'call coordinator and supervisor methods; submit jobs and workflows for its capabilities',
  coordinator:
    'call coordinator and supervisor methods; submit and re-sign step jobs for its capabilities; replicate runs with this node',
  supervisor: "hand jobs to this node's runner (runner methods)",
  runner: 'serve its capabilities as a runner: secrets for them are sealed to its key',
  admin:
    "read, list and control every run (not only its own), and every job on this node's supervisor; call coordinator methods",
}

interface Explanation {
  key: string
  peerId: string
  policy: string
  inPolicy: boolean
  entry?: { source: string; name?: string; roles: string[]; capabilities: string[]; self: boolean }
  roles?: Array<{ role: string; means: string }>
  capability?: {
    name: string
    allowed: boolean
    submit: { allowed: boolean; why: string }
    serve: { allowed: boolean; why: string }
  }
}

export async function trustCommand(argv: string[], out: Output): Promise<number> {
  const [sub, ...rest] = argv
  const { values, positionals } = parseCommandArgs(`trust ${sub ?? ''}`.trim(), rest, {
    capability: { type: 'string' },
    config: { type: 'string' },
    'data-dir': { type: 'string' },
    json: { type: 'boolean' },
  })
  if (sub !== 'explain') {
    throw new UsageError(
      `trust: ${sub === undefined ? 'missing subcommand' : `unknown subcommand "${sub}"`}\n\n${TRUST_HELP}`,
    )
  }
  const [keyArg, extra] = positionals
  if (keyArg === undefined) throw new UsageError(`trust explain: missing KEY\n\n${TRUST_HELP}`)
  if (extra !== undefined) throw new UsageError(`trust explain: unexpected argument "${extra}"`)
  let key: string
  try {
    key = normalizePublicKey(keyArg)
  } catch {
    throw new UsageError(`trust explain: KEY: not a peer ID or hex public key: ${keyArg}`)
  }
  const { policy, source } = await loadPolicy(stringFlag(values.config), stringFlag(values['data-dir']))
  const explanation = explain(policy, source, key, stringFlag(values.capability))
  if (values.json === true) out.json(explanation)
  else printExplanation(out, explanation)
  const allowed = explanation.inPolicy && (explanation.capability?.allowed ?? true)
  return allowed ? EXIT.ok : EXIT.failed
}

/** The policy a node started with these flags would enforce (a bad file: ConfigError, exit 2). */
async function loadPolicy(
  configFile: string | undefined,
  dataDir: string | undefined,
): Promise<{ policy: TrustPolicy; source: string }> {
  const config = await loadConfig({
    ...(configFile === undefined ? {} : { file: configFile }),
    env: process.env,
    overrides: { dataDir },
  })
  const hasKey = await access(identityFile(config.dataDir)).then(
    () => true,
    () => false,
  )
  const self = hasKey ? (await readExistingIdentity(config.dataDir)).publicKeyHex : undefined
  const policy = TrustPolicy.parse(config.extra.trust ?? { keys: [] }, self === undefined ? {} : { self })
  const where = configFile === undefined ? 'no config file' : config.file
  const whose = self === undefined ? `no identity in ${config.dataDir}` : `own key from ${config.dataDir}`
  return { policy, source: `${where}; ${whose}` }
}

function explain(
  policy: TrustPolicy,
  source: string,
  key: string,
  capability: string | undefined,
): Explanation {
  const base = { key, peerId: peerIdFromPublicKeyHex(key).toString(), policy: source }
  const entry = policy.lookup(key)
  if (entry === undefined) {
    return {
      ...base,
      inPolicy: false,
      ...(capability === undefined ? {} : { capability: refusedEverywhere(capability) }),
    }
  }
  const roles = [...entry.roles]
  return {
    ...base,
    inPolicy: true,
    entry: {
      source: entry.self
        ? "this node's own key (always trusted, every role and capability)"
        : (entry.path ?? 'trust.keys'),
      ...(entry.name === undefined ? {} : { name: entry.name }),
      roles,
      capabilities: [...entry.capabilities],
      self: entry.self,
    },
    roles: roles.map((role) => ({ role, means: ROLE_MEANING[role] })),
    ...(capability === undefined ? {} : { capability: decideCapability(policy, entry, capability) }),
  }
}

function refusedEverywhere(capability: string): NonNullable<Explanation['capability']> {
  const why = 'the key is not in the policy'
  return { name: capability, allowed: false, submit: { allowed: false, why }, serve: { allowed: false, why } }
}

function decideCapability(
  policy: TrustPolicy,
  entry: TrustedKey,
  capability: string,
): NonNullable<Explanation['capability']> {
  const verdict = (roles: readonly TrustRole[]): { allowed: boolean; why: string } => {
    const decision = policy.decide(entry.key, { role: roles, capability })
    if (decision.admitted) {
      const by = entry.capabilities.has(capability) ? `lists "${capability}"` : "lists '*'"
      return { allowed: true, why: `${entry.self ? 'own key' : (entry.path ?? 'the entry')} ${by}` }
    }
    return { allowed: false, why: `${decision.reason}: ${decision.message}` }
  }
  const submit = verdict(['client', 'coordinator'])
  const serve = verdict(['runner'])
  return { name: capability, allowed: submit.allowed || serve.allowed, submit, serve }
}

function printExplanation(out: Output, e: Explanation): void {
  out.line(`key ${e.peerId}`)
  out.line(`    ${e.key}`)
  out.line(`policy: ${e.policy}`)
  if (!e.inPolicy || e.entry === undefined) {
    out.line('not in the policy: refused in every role (no RPC methods beyond node.* and mesh.*, no jobs)')
    out.line('  to admit it, add the entry its owner prints with: horus key show --roles ROLE[,ROLE] ...')
  } else {
    out.line(`entry:        ${e.entry.source}${e.entry.name === undefined ? '' : ` (name: ${e.entry.name})`}`)
    out.line(`roles:        ${e.entry.roles.join(', ')}`)
    out.line(`capabilities: ${e.entry.capabilities.join(', ') || 'none'}`)
    out.line('it may:')
    for (const { role, means } of e.roles ?? []) out.line(`  ${role.padEnd(12)} ${means}`)
  }
  const c = e.capability
  if (c === undefined) return
  out.line(`capability "${c.name}": ${c.allowed ? 'allowed' : 'denied'}`)
  out.line(`  submit (client, coordinator): ${c.submit.allowed ? 'yes' : 'no'} - ${c.submit.why}`)
  out.line(`  serve (runner):               ${c.serve.allowed ? 'yes' : 'no'} - ${c.serve.why}`)
}
