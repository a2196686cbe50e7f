import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { horus } from './cli-capture.js'
import { ClientMesh, hears, pipelineYaml, runnerVisible, serveItems } from './client-mesh.js'

const mesh = new ClientMesh()
let fixture: Awaited<ReturnType<typeof serveItems>>
beforeAll(async () => {
  fixture = await serveItems([1, 2, 3])
})
afterAll(() => fixture.close())
afterEach(() => mesh.cleanup())

const FAILING = `workflow:
  name: "fails"
  steps:
    - id: "boom"
      runner: "sal"
      payload: "throw new Error('no good')"
    - id: "after"
      runner: "sal"
      depends_on: ["boom"]
      payload: "1"
`

const INVALID = `workflow:
  name: "invalid"
  steps:
    - id: "a"
      runner: "sal"
      payload: "1"
      depends_on: ["ghost"]
`

describe('horus workflow against real nodes', () => {
  it('submits and waits with progress, then reads status, list and logs; exit codes follow the run', async () => {
    const [c, r, me] = [await mesh.member('coord'), await mesh.member('run'), await mesh.member('cli')]
    const coord = await mesh.start(c, { roles: ['coordinator', 'supervisor'], gateway: true })
    const run = await mesh.start(r, { roles: ['runner'], bootstrap: [coord] })
    await runnerVisible(coord, 'sal')
    await hears(run, [coord])
    const dir = await mesh.tempDir()
    const files = {
      ok: join(dir, 'ok.yaml'),
      fails: join(dir, 'fails.yaml'),
      invalid: join(dir, 'invalid.yaml'),
    }
    await writeFile(
      files.ok,
      pipelineYaml(fixture.url).replace('  steps:', '  inputs:\n    note:\n      required: true\n  steps:'),
    )
    await writeFile(files.fails, FAILING)
    await writeFile(files.invalid, INVALID)
    // Submits go over libp2p through the runner node (the client finds the coordinator); reads go
    // over the gateway, since libp2p takes at most 5 new connections a second from one address.
    const viaMesh = ['--peer', run.addr, '--data-dir', me.dataDir]
    const viaGateway = ['--gateway', coord.node.gateway?.url as string]

    const waited = await horus([
      'workflow',
      'submit',
      files.ok,
      '--wait',
      '--input',
      'note=hello',
      '--run-id',
      'cli-run-1',
      ...viaMesh,
    ])
    expect(waited.code).toBe(0)
    expect(waited.stderr).toContain('fetch: succeeded')
    expect(waited.stderr).toContain('store: succeeded')
    expect(waited.stderr).toMatch(/✔ store\s+succeeded/)
    const runId = /run (\S+) completed/.exec(waited.stdout)?.[1]
    expect(runId).toBe('cli-run-1')
    const again = await horus([
      'workflow',
      'submit',
      files.ok,
      '--input',
      'note=hello',
      '--run-id',
      'cli-run-1',
      ...viaMesh,
    ])
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('RUN_EXISTS')

    const status = await horus(['workflow', 'status', runId as string, ...viaGateway])
    expect(status.code).toBe(0)
    expect(status.stdout).toContain('data-pipeline')
    expect(status.stdout).toMatch(/✔ count\s+succeeded/)
    const json = await horus(['workflow', 'status', runId as string, '--json', ...viaGateway])
    // Submitted over the mesh, the run is the CLI key's (read here through the gateway, as the node, an admin).
    expect(JSON.parse(json.stdout)).toMatchObject({
      runId,
      status: 'completed',
      inputs: { note: 'hello' },
      submitter: me.peerId,
    })
    const list = await horus(['workflow', 'list', '--status', 'completed', '--json', ...viaGateway])
    expect((JSON.parse(list.stdout) as Array<{ runId: string }>).map((x) => x.runId)).toContain(runId)
    expect((await horus(['workflow', 'logs', runId as string, ...viaGateway])).code).toBe(0)
    // Like git: a unique prefix of at least 4 characters names the run; fewer never do.
    const short = await horus(['workflow', 'status', (runId as string).slice(0, 8), '--json', ...viaGateway])
    expect(short.code).toBe(0)
    expect(JSON.parse(short.stdout)).toMatchObject({ runId })
    const tooShort = await horus(['workflow', 'status', (runId as string).slice(0, 3), ...viaGateway])
    expect(tooShort.code).toBe(1)
    expect(tooShort.stderr).toContain('RUN_NOT_FOUND')
    const finished = await horus(['workflow', 'cancel', runId as string, ...viaGateway])
    expect(finished.code).toBe(1)
    expect(finished.stderr).toContain('RUN_FINISHED')

    const failed = await horus(['workflow', 'submit', files.fails, '--wait', ...viaGateway])
    expect(failed.code).toBe(1)
    expect(failed.stdout).toMatch(/run \S+ failed/)
    expect(failed.stderr).toContain('boom: failed')
    const failedId = /run (\S+) failed/.exec(failed.stdout)?.[1] as string
    const logs = await horus(['workflow', 'logs', failedId.slice(0, 6), '--json', ...viaGateway])
    expect(logs.code).toBe(0)
    // Two runs whose ids start alike: their common prefix is refused as ambiguous, naming both.
    // (Over the mesh: the client signs the submission, run id included.)
    for (const id of ['abcd-one', 'abcd-two'])
      expect((await horus(['workflow', 'submit', files.fails, '--run-id', id, ...viaMesh])).code).toBe(0)
    const ambiguous = await horus(['workflow', 'status', 'abcd', ...viaGateway])
    expect(ambiguous.code, ambiguous.stderr).toBe(2)
    expect(ambiguous.stderr).toContain('run id prefix "abcd" is ambiguous: it matches 2 runs')
    expect(ambiguous.stderr).toContain('abcd-one')
    const unique = await horus(['workflow', 'status', 'abcd-t', '--json', ...viaGateway])
    expect(JSON.parse(unique.stdout)).toMatchObject({ runId: 'abcd-two' })

    const invalid = await horus(['workflow', 'submit', files.invalid, ...viaGateway])
    expect(invalid.code).toBe(1)
    expect(invalid.stderr).toContain('depends_on')
    expect((await horus(['workflow', 'status', 'nope', ...viaGateway])).code).toBe(1)
  })
})
