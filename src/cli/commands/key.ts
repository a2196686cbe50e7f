import { homedir } from 'node:os'
import { resolve } from 'node:path'
import { DEFAULT_DATA_DIR_NAME } from '../../node/constants.js'
import { generateIdentity, type Identity, readExistingIdentity } from '../../node/identity.js'
import { writeSwarmKey } from '../../node/swarm-key.js'
import { parseCommandArgs, stringFlag } from '../args.js'
import { UsageError } from '../errors.js'
import type { Output } from '../output.js'

export const KEY_HELP = `Usage: horus key <generate|show|swarm> [options]

  horus key generate [--data-dir D]   create the node identity (ed25519) if it does not exist
  horus key show [--data-dir D]       print the peer ID and public key
  horus key swarm FILE                write a new private-mesh swarm key (pnet) to FILE

Options:
  --data-dir D   node data directory (default: $HORUS_DATA_DIR or ~/${DEFAULT_DATA_DIR_NAME})
  --json         print JSON

"show" also prints the trust-policy entry another node needs to admit this one.`

export async function keyCommand(argv: string[], out: Output): Promise<number> {
  const [sub, ...rest] = argv
  const { values, positionals } = parseCommandArgs(`key ${sub ?? ''}`.trim(), rest, {
    'data-dir': { type: 'string' },
    json: { type: 'boolean' },
  })
  const dataDir = resolve(
    stringFlag(values['data-dir']) ?? process.env.HORUS_DATA_DIR ?? resolve(homedir(), DEFAULT_DATA_DIR_NAME),
  )
  switch (sub) {
    case 'generate': {
      const { identity, created } = await generateIdentity(dataDir)
      printIdentity(out, identity, values.json === true, created ? 'created' : 'exists')
      return 0
    }
    case 'show':
      printIdentity(out, await readExistingIdentity(dataDir), values.json === true)
      return 0
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

function printIdentity(out: Output, identity: Identity, json: boolean, status?: string): void {
  const info = {
    peerId: identity.peerId.toString(),
    publicKey: identity.publicKeyHex,
    file: identity.file,
    ...(status === undefined ? {} : { status }),
  }
  if (json) {
    out.json(info)
    return
  }
  out.line(`peer id:    ${info.peerId}`)
  out.line(`public key: ${info.publicKey}`)
  out.line(`key file:   ${info.file}${status === undefined ? '' : ` (${status})`}`)
  out.line('')
  out.line('trust policy entry for other nodes:')
  out.line('  trust:')
  out.line('    keys:')
  out.line(`      - key: ${info.peerId}`)
  out.line('        roles: [client, coordinator, supervisor, runner]')
  out.line("        capabilities: ['*']")
}
