import { homedir } from 'node:os'
import { resolve } from 'node:path'
import { Document } from 'yaml'
import { DEFAULT_DATA_DIR_NAME } from '../../node/constants.js'
import { generateIdentity, type Identity, readExistingIdentity } from '../../node/identity.js'
import { writeSwarmKey } from '../../node/swarm-key.js'
import { CAPABILITY_PATTERN } from '../../protocols/jobs/constants.js'
import { TRUST_ROLES } from '../../protocols/jobs/trust-policy.js'
import { listFlag, parseCommandArgs, stringFlag } from '../args.js'
import { UsageError } from '../errors.js'
import type { Output } from '../output.js'

export const KEY_HELP = `Usage: horus key <generate|show|swarm> [options]

  horus key generate [--data-dir D]   create the node identity (ed25519) if it does not exist
  horus key show [--data-dir D] [--roles R,... [--capabilities C,...] [--name N]]
                                      print the peer ID and public key; with --roles, also the
                                      trust entry another node pastes under trust.keys to admit
                                      this key with exactly those roles and capabilities
  horus key swarm FILE                write a new private-mesh swarm key (pnet) to FILE

Options:
  --data-dir D         node data directory (default: $HORUS_DATA_DIR or ~/${DEFAULT_DATA_DIR_NAME})
  --roles R,...        roles to grant: ${TRUST_ROLES.join(', ')}. There is no default: a
                       trust entry names what it grants (least privilege), so "show" prints no
                       entry without --roles
  --capabilities C,... what the key may submit (client, coordinator) or serve (runner); '*' for
                       every capability (default: none)
  --name N             a name for the entry, shown in logs and by "horus trust explain"
  --json               print JSON (with --roles, the entry as "entry")`

export async function keyCommand(argv: string[], out: Output): Promise<number> {
  const [sub, ...rest] = argv
  const { values, positionals } = parseCommandArgs(`key ${sub ?? ''}`.trim(), rest, {
    'data-dir': { type: 'string' },
    roles: { type: 'string', multiple: true },
    capabilities: { type: 'string', multiple: true },
    name: { type: 'string' },
    json: { type: 'boolean' },
  })
  const dataDir = resolve(
    stringFlag(values['data-dir']) ?? process.env.HORUS_DATA_DIR ?? resolve(homedir(), DEFAULT_DATA_DIR_NAME),
  )
  switch (sub) {
    case 'generate': {
      const { identity, created } = await generateIdentity(dataDir)
      printIdentity(out, identity, { json: values.json === true, status: created ? 'created' : 'exists' })
      return 0
    }
    case 'show': {
      const scope = readScope(values)
      printIdentity(out, await readExistingIdentity(dataDir), { json: values.json === true, scope })
      return 0
    }
    case 'swarm': {
      const file = positionals[0]
      if (file === undefined) throw new UsageError('key swarm: missing FILE')
      await writeSwarmKey(resolve(file))
      out.line(`wrote swarm key ${resolve(file)} (share it only with members of the private mesh)`)
      return 0
    }
    default:
      throw new UsageError(
        sub === undefined
          ? `key: missing subcommand\n\n${KEY_HELP}`
          : `key: unknown subcommand "${sub}"\n\n${KEY_HELP}`,
      )
  }
}

interface Scope {
  roles: string[]
  capabilities: string[]
  name?: string
}

type Values = Record<string, string | boolean | string[] | undefined>

/** The entry's scope from --roles/--capabilities/--name, each value checked; undefined without --roles. */
function readScope(values: Values): Scope | undefined {
  const roles = listFlag(values.roles)
  const capabilities = listFlag(values.capabilities) ?? []
  const name = stringFlag(values.name)
  if (roles === undefined) {
    if (values.capabilities !== undefined || name !== undefined) {
      throw new UsageError('key show: --capabilities and --name describe a trust entry; give --roles too')
    }
    return undefined
  }
  if (roles.length === 0)
    throw new UsageError(`key show: --roles: expected one or more of ${TRUST_ROLES.join(', ')}`)
  for (const role of roles) {
    if (!(TRUST_ROLES as readonly string[]).includes(role)) {
      throw new UsageError(`key show: --roles: expected one of ${TRUST_ROLES.join(', ')}, got "${role}"`)
    }
  }
  for (const capability of capabilities) {
    if (capability !== '*' && !CAPABILITY_PATTERN.test(capability)) {
      throw new UsageError(
        `key show: --capabilities: expected capability names matching ${CAPABILITY_PATTERN} or '*', got "${capability}"`,
      )
    }
  }
  return {
    roles: [...new Set(roles)],
    capabilities: [...new Set(capabilities)],
    ...(name === undefined ? {} : { name }),
  }
}

function printIdentity(
  out: Output,
  identity: Identity,
  options: { json: boolean; status?: string; scope?: Scope | undefined },
): void {
  const { status, scope } = options
  const info = {
    peerId: identity.peerId.toString(),
    publicKey: identity.publicKeyHex,
    file: identity.file,
    ...(status === undefined ? {} : { status }),
  }
  const entry =
    scope === undefined
      ? undefined
      : {
          key: info.peerId,
          ...(scope.name === undefined ? {} : { name: scope.name }),
          roles: scope.roles,
          capabilities: scope.capabilities,
        }
  if (options.json) {
    out.json(entry === undefined ? info : { ...info, entry })
    return
  }
  // Every line is YAML (comments, then the entry), so the output can be pasted as it is.
  out.line(`# peer id:    ${info.peerId}`)
  out.line(`# public key: ${info.publicKey}`)
  out.line(`# key file:   ${info.file}${status === undefined ? '' : ` (${status})`}`)
  if (entry === undefined) {
    out.line('# for the trust entry another node needs, name what it grants:')
    out.line('#   horus key show --roles ROLE[,ROLE] [--capabilities C,...] [--name N]')
    return
  }
  out.line('# paste under trust.keys in the config of the node that should trust this key:')
  out.line(entryYaml(entry).trimEnd())
}

function entryYaml(entry: { key: string; name?: string; roles: string[]; capabilities: string[] }): string {
  const doc = new Document([entry])
  // Short lists read better inline: `roles: [client]`.
  for (const field of ['roles', 'capabilities']) {
    const node = doc.getIn([0, field], true) as { flow?: boolean } | undefined
    if (node !== undefined) node.flow = true
  }
  return doc.toString()
}
