/**
 * A secret through an ad-hoc job and through a workflow, across real `horus node start` processes
 * (coordinator, supervisor, two runners) driven by the `horus` CLI with `--secret NAME` (the value
 * from the environment). The scripts use the value; afterwards every byte every process wrote —
 * each node's data dir (LevelDB files included, and every datastore entry decoded), the config
 * files, the client's dir, every captured stdout/stderr — is searched for the value, its base64,
 * base64url and hex, and none is found. (`npm test` builds dist/ first.)
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LevelDatastore } from 'datastore-level'
import { afterEach, describe, expect, it } from 'vitest'
import { ProcessMesh } from '../src/testing/process-mesh.js'
import { waitFor } from '../src/testing/wait-for.js'
import { runCli } from './helpers/cli.js'

const BIN = fileURLToPath(new URL('../dist/src/cli/bin.js', import.meta.url))
const SECRET = 'sk-live-7f3c9a1e-Zq8#wP!'

let dir: string | undefined
let processes: ProcessMesh | undefined

afterEach(async () => {
  await processes?.stop()
  processes = undefined
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  dir = undefined
})

const WORKFLOW = `
workflow:
  name: secret-flow
  steps:
    - id: a
      runner: sal
      payload: '"public-marker-output"'
    - id: b
      runner: sal
      depends_on: [a]
      secrets: [API_KEY]
      payload: |
        console.log("using " + env.API_KEY);
        ({ length: env.API_KEY.length, echo: env.API_KEY, upstream: input.a })
    - id: c
      runner: hero
      depends_on: [b]
      secrets: [API_KEY]
      payload: "!!shell.exec cmd:'printf %s \\"$API_KEY\\"'"
`

/** The forms of the value a leak would most likely take. */
function needles(value: string): Buffer[] {
  const bytes = Buffer.from(value)
  return [
    value,
    bytes.toString('base64'),
    bytes.toString('base64').replace(/=+$/, ''),
    bytes.toString('base64url'),
    bytes.toString('hex'),
    bytes.toString('hex').toUpperCase(),
  ].map((form) => Buffer.from(form))
}

async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true, recursive: true })
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name))
}

/** Every key and value of a node's LevelDB, decoded (SST blocks may be compressed on disk). */
async function datastoreBytes(dataDir: string): Promise<Buffer> {
  const store = new LevelDatastore(join(dataDir, 'datastore'))
  await store.open()
  const parts: Buffer[] = []
  try {
    for await (const { key, value } of store.query({})) {
      parts.push(Buffer.from(key.toString()), Buffer.from(value))
    }
  } finally {
    await store.close()
  }
  return Buffer.concat(parts)
}

function leaks(haystack: Buffer, forms: Buffer[]): string[] {
  return forms.filter((form) => haystack.includes(form)).map((form) => form.toString())
}

describe('secrets across separate node processes', () => {
  it('reach the scripts, and no data dir, datastore entry or log holds them', {
    timeout: 180_000,
  }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'horus-secrets-proc-'))
    processes = new ProcessMesh({ dir, bin: BIN, env: { DEBUG: 'horus:*' } })
    const [coord, sup, run1, run2] = await processes.start([
      { name: 'coord', roles: ['coordinator'] },
      { name: 'sup', roles: ['supervisor'] },
      { name: 'run1', roles: ['runner'] },
      { name: 'run2', roles: ['runner'] },
    ])
    if (coord === undefined || sup === undefined || run1 === undefined || run2 === undefined)
      throw new Error('mesh did not start')
    const stdout: string[] = []
    for (const node of processes.nodes)
      node.child.stdout?.on('data', (c: Buffer) => stdout.push(c.toString()))
    const connect = ['--peer', coord.multiaddrs[0] as string, '--data-dir', processes.clientDir]
    const cliRuns: string[] = []
    const cli = async (args: string[]) => {
      const result = await runCli([...args, ...connect], { env: { API_KEY: SECRET }, timeoutMs: 90_000 })
      cliRuns.push(result.stdout, result.stderr)
      return result
    }
    await waitFor(
      async () => {
        const { stdout: out } = await cli(['mesh', 'runners', '--json'])
        const runners = JSON.parse(out || '[]') as Array<{ peerId: string; capabilities: string[] }>
        return [run1, run2].every((r) =>
          runners.some((x) => x.peerId === r.peerId && x.capabilities.includes('sal')),
        )
      },
      { timeoutMs: 60_000, what: 'both runners to be seen' },
    )

    // An ad-hoc job: the CLI seals API_KEY (read from its environment) to the trusted runners.
    const job = await cli([
      'job',
      'create',
      '--runner',
      'sal',
      '--payload',
      'console.log("key " + env.API_KEY); ({ length: env.API_KEY.length, echo: env.API_KEY })',
      '--secret',
      'API_KEY',
      '--wait',
      '--json',
    ])
    expect(job.code, job.stderr).toBe(0)
    const view = JSON.parse(job.stdout) as { jobId: string; runner: string; result: { output: unknown } }
    expect(view.result.output).toEqual({ length: SECRET.length, echo: '***' })
    expect([run1.peerId, run2.peerId]).toContain(view.runner)
    const jobLogs = await cli(['job', 'logs', view.jobId])
    expect(jobLogs.stdout.trim()).toBe('key ***')

    // A workflow whose steps b (sal) and c (hero) name the secret.
    const file = join(dir, 'secret-flow.yaml')
    await writeFile(file, WORKFLOW)
    const submitted = await cli(['workflow', 'submit', file, '--secret', 'API_KEY', '--wait', '--json'])
    expect(submitted.code, submitted.stderr).toBe(0)
    const run = JSON.parse(submitted.stdout) as {
      runId: string
      status: string
      steps: Array<{ id: string; output?: unknown }>
    }
    expect(run.status).toBe('completed')
    const output = (id: string) => run.steps.find((s) => s.id === id)?.output
    expect(output('b')).toEqual({ length: SECRET.length, echo: '***', upstream: 'public-marker-output' })
    expect(output('c')).toMatchObject({ code: 0, stdout: '***' })
    const runLogs = await cli(['workflow', 'logs', run.runId, '--json'])
    expect(runLogs.stdout).toContain('using ***')
    await cli(['workflow', 'status', run.runId, '--json'])

    const captured = [...processes.nodes.map((n) => n.stderr()), ...stdout, ...cliRuns]
    await processes.stop()
    processes = undefined

    const forms = needles(SECRET)
    // The searches can find things: markers that must be there are.
    const coordinatorStore = await datastoreBytes(coord.dataDir)
    expect(coordinatorStore.includes(Buffer.from('public-marker-output'))).toBe(true)
    expect(coordinatorStore.includes(Buffer.from('"alg":"x25519-hkdf-sha256-xchacha20poly1305"'))).toBe(true)
    expect(captured.join('').includes('horus:')).toBe(true)

    for (const node of [coord, sup, run1, run2]) {
      expect(leaks(await datastoreBytes(node.dataDir), forms), `${node.name}'s datastore`).toEqual([])
    }
    const files = await filesUnder(dir)
    expect(files.some((f) => f.endsWith('.log') || f.endsWith('.ldb'))).toBe(true)
    for (const path of files) {
      expect(leaks(await readFile(path), forms), path).toEqual([])
    }
    expect(leaks(Buffer.from(captured.join('\n')), forms), 'captured output').toEqual([])
  })
})
