import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ClientMesh } from './client-mesh.js'
import { type CliNode, startCliNode, stopCliNode } from './helpers/cli.js'

/** The built example (`npm test` builds first). */
const EXAMPLE = join(import.meta.dirname, '../dist/scripts/examples/submit-workflow.js')

const identities = new ClientMesh()
const nodes: CliNode[] = []
afterEach(async () => {
  await Promise.allSettled(nodes.splice(0).map((n) => stopCliNode(n)))
  await identities.cleanup()
})

describe('scripts/examples/submit-workflow', () => {
  it('runs the data pipeline on a mesh of separate processes and exits 0', async () => {
    const [coord, runner, example] = [
      await identities.member('coord'),
      await identities.member('runner'),
      await identities.member('example'),
    ]
    const config = join(await identities.tempDir(), 'horus.yaml')
    const keys = [coord, runner, example].map(
      (m) =>
        `    - key: ${m.peerId}\n      name: ${m.name}\n      roles: [client, coordinator, supervisor, runner]\n      capabilities: ['*']`,
    )
    await writeFile(config, `trust:\n  keys:\n${keys.join('\n')}\n`)
    const common = ['--config', config, '--listen', '/ip4/127.0.0.1/tcp/0']
    const c = await startCliNode([
      ...common,
      '--data-dir',
      coord.dataDir,
      '--roles',
      'coordinator,supervisor',
    ])
    nodes.push(c)
    const r = await startCliNode([
      ...common,
      '--data-dir',
      runner.dataDir,
      '--roles',
      'runner',
      '--bootstrap',
      c.multiaddrs[0] as string,
    ])
    nodes.push(r)

    const child = spawn(
      process.execPath,
      [
        EXAMPLE,
        '--bootstrap',
        c.multiaddrs[0] as string,
        '--identity',
        example.dataDir,
        '--timeout-ms',
        '40000',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], timeout: 50_000 },
    )
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const [code] = (await once(child, 'close')) as [number | null]
    expect(stderr).toBe('')
    expect(code).toBe(0)
    expect(stdout).toContain(`connected as ${example.peerId}`)
    expect(stdout).toMatch(/store\s+succeeded/)
    expect(stdout).toContain('run completed; stored record:')
    expect(stdout).toContain('"count":8')
    expect(stdout).toContain('"sum":31')
  })
})
