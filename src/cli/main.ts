import { isUnreachable } from '../client/failover.js'
import { ConfigError, HorusError } from '../core/errors.js'
import { RpcError } from '../protocols/rpc/errors.js'
import { DEMO_HELP, demoCommand } from './commands/demo.js'
import { JOB_HELP, jobCommand } from './commands/job.js'
import { KEY_HELP, keyCommand } from './commands/key.js'
import { MESH_HELP, meshCommand } from './commands/mesh.js'
import { NODE_HELP, nodeCommand } from './commands/node-start.js'
import { RPC_HELP, rpcCommand } from './commands/rpc.js'
import { TRIGGER_HELP, triggerCommand } from './commands/trigger.js'
import { TRUST_HELP, trustCommand } from './commands/trust.js'
import { WORKFLOW_HELP, workflowCommand } from './commands/workflow.js'
import { EXIT, UsageError } from './errors.js'
import { type Output, processOutput } from './output.js'

export const HELP = `horus — peer-to-peer orchestration over libp2p

Usage: horus <command> [options]

Commands:
  demo [--once]             start a local mesh, run a sample pipeline, show it live
  key generate|show|swarm   manage this node's identity key and private-mesh swarm keys;
                            "key show --roles R" prints a scoped trust entry for other nodes
  trust explain KEY         what this node's trust policy allows a key, and why
  node start                run a mesh node (coordinator, supervisor and/or runner roles)
  workflow submit FILE      run a workflow (--wait shows live progress); also validate (offline),
                            status, logs, list, cancel, pause, resume, retry, signal
  trigger add|list|remove   cron and webhook triggers, replicated to every coordinator
  job create|status|result  run a single signed job on a runner; also logs, cancel
  mesh peers|runners        a node's peers; the runners alive in the mesh with their load
  rpc <method> [params]     call any JSON-RPC method of a node

Run "horus <command> --help" for a command's options.

Exit codes: 0 success, 1 failed, 2 usage or configuration error, 3 cannot reach the mesh.`

type Command = { help: string; run: (argv: string[], out: Output) => Promise<number> }

const COMMANDS: Record<string, Command> = {
  demo: { help: DEMO_HELP, run: demoCommand },
  key: { help: KEY_HELP, run: keyCommand },
  node: { help: NODE_HELP, run: nodeCommand },
  mesh: { help: MESH_HELP, run: meshCommand },
  workflow: { help: WORKFLOW_HELP, run: workflowCommand },
  trigger: { help: TRIGGER_HELP, run: triggerCommand },
  job: { help: JOB_HELP, run: jobCommand },
  rpc: { help: RPC_HELP, run: rpcCommand },
  trust: { help: TRUST_HELP, run: trustCommand },
}

/** Runs one command line and returns the process exit code; never throws. */
export async function main(argv: string[], out: Output = processOutput): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    out.line(HELP)
    return name === undefined ? EXIT.usage : EXIT.ok
  }
  const command = COMMANDS[name]
  if (command === undefined) {
    out.error(`horus: unknown command "${name}"\n\n${HELP}`)
    return EXIT.usage
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    out.line(command.help)
    return EXIT.ok
  }
  try {
    return await command.run(rest, out)
  } catch (err) {
    return reportError(err, out)
  }
}

function reportError(err: unknown, out: Output): number {
  if (err instanceof UsageError || err instanceof ConfigError) {
    out.error(`horus: ${err.message}`)
    return EXIT.usage
  }
  if (isUnreachable(err)) {
    out.error(`horus: cannot reach the mesh: ${(err as Error).message}`)
    return EXIT.unreachable
  }
  if (err instanceof RpcError) {
    out.error(`horus: ${err.data.name}: ${err.message} [${err.code}]`)
    return EXIT.failed
  }
  if (err instanceof HorusError) {
    out.error(`horus: ${err.message} [${err.code}]`)
    return err.retryable ? EXIT.unreachable : EXIT.failed
  }
  out.error(`horus: unexpected error: ${(err as Error).stack ?? String(err)}`)
  return EXIT.failed
}
