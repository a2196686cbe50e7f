import { VERSION } from '../node/version.js'
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
import { describeError, formatError, formatErrorJson } from './report-error.js'

export const HELP = `horus — peer-to-peer orchestration over libp2p

Usage: horus <command> [options]
       horus --version

Commands:
  demo [--once]             start a local mesh, run a sample pipeline, show it live
  key generate|show|swarm   manage this node's identity key and private-mesh swarm keys;
                            "key show --roles R" prints a scoped trust entry for other nodes
  trust explain KEY         what this node's trust policy allows a key, and why
  node start|status         run a mesh node (coordinator, supervisor and/or runner roles);
                            a node's health, roles, addresses and peers
  workflow submit FILE      run a workflow (--wait shows live progress); also validate (offline),
                            status, logs, list, cancel, pause, resume, retry, signal
                            (a run id may be a unique prefix)
  trigger add|list|remove   cron and webhook triggers, replicated to every coordinator
  job create|list|status    run a single signed job on a runner; also result, logs, cancel
  mesh peers|runners        a node's peers; the runners alive in the mesh with their load
  rpc <method> [params]     call any JSON-RPC method of a node

Run "horus <command> --help" for a command's options.

With --json, results are JSON on stdout and an error is one JSON object on stderr:
{"name", "code", "message"} (and "issues" for a configuration error).

Exit codes: 0 success; 1 a run or job failed, or the node refused the request (trust policy,
gateway token); 2 usage or configuration error (bad flag or config value, unusable key file,
port in use, plugin that does not load); 3 cannot reach the mesh.`

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
  if (name === '--version' || name === '-V' || name === 'version') {
    out.line(`horus ${VERSION} (node ${process.versions.node})`)
    return EXIT.ok
  }
  const json = rest.includes('--json')
  const command = COMMANDS[name]
  if (command === undefined) {
    return report(new UsageError(`unknown command "${name}" (run "horus --help" for the list)`), out, json)
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    out.line(command.help)
    return EXIT.ok
  }
  try {
    return await command.run(rest, out)
  } catch (err) {
    return report(err, out, json)
  }
}

function report(err: unknown, out: Output, json: boolean): number {
  const described = describeError(err)
  out.error(json ? formatErrorJson(described) : formatError(described))
  return described.exit
}
