import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { horus } from './cli-capture.js'
import { CLI, runCli } from './helpers/cli.js'
import { tempDirs } from './helpers/temp-dirs.js'

const tempDir = tempDirs('horus-cli-err-')
const servers: Server[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))))
})

/** A port on 127.0.0.1 that this test holds, so a node cannot listen there. */
async function takenPort(): Promise<number> {
  const server = createServer()
  servers.push(server)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return (server.address() as { port: number }).port
}

/** Errors the README promises as one clear line and exit 2: no stack, no libp2p internals. */
function expectOneLineError(result: { code: number | null; stderr: string }, text: string): void {
  expect(result.code).toBe(2)
  expect(result.stderr).toContain(text)
  expect(result.stderr).not.toMatch(/\n\s+at /)
  expect(result.stderr).not.toContain('unexpected error')
}

describe('horus errors are one line with the documented exit code', () => {
  it('refuses to overwrite a swarm key, as text and as JSON', async () => {
    const file = join(await tempDir(), 'swarm.key')
    expect((await runCli(['key', 'swarm', file])).code).toBe(0)
    const again = await runCli(['key', 'swarm', file])
    expectOneLineError(again, `swarm key ${file}: already exists; it is never overwritten`)
    expect(again.stderr.trim().split('\n')).toHaveLength(1)
    const json = await runCli(['key', 'swarm', file, '--json'])
    expect(json.code).toBe(2)
    expect(JSON.parse(json.stderr)).toEqual({
      name: 'SwarmKeyError',
      code: 'SWARM_KEY_INVALID',
      message: expect.stringContaining('already exists'),
    })
  })

  it('says which address is taken when a port is in use, for libp2p and for the gateway', async () => {
    const dir = await tempDir()
    const port = await takenPort()
    const listen = await runCli([
      'node',
      'start',
      '--data-dir',
      dir,
      '--listen',
      `/ip4/127.0.0.1/tcp/${port}`,
    ])
    expectOneLineError(listen, `listen: cannot listen on /ip4/127.0.0.1/tcp/${port}: address already in use`)
    expect(listen.stderr).not.toContain('faultTolerance')
    const gateway = await runCli([
      'node',
      'start',
      '--data-dir',
      dir,
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
      '--gateway',
      `127.0.0.1:${port}`,
    ])
    expectOneLineError(gateway, `gateway.listen: cannot listen on 127.0.0.1:${port}: address already in use`)
  })

  it('reports a plugin that does not load, its path taken relative to the config file', async () => {
    const dir = await tempDir()
    await mkdir(join(dir, 'plugins'))
    await writeFile(join(dir, 'plugins', 'broken.js'), 'throw new Error("plugin exploded")\n')
    await writeFile(
      join(dir, 'node.yaml'),
      'dataDir: data\nlisten: [/ip4/127.0.0.1/tcp/0]\nroles: [runner]\nrunner: { plugins: [plugins/broken.js] }\n',
    )
    // Started from another directory: the relative paths still resolve against the file's.
    const result = await runCli(['node', 'start', '--config', join(dir, 'node.yaml')], { cwd: tmpdir() })
    expectOneLineError(
      result,
      `runner.plugins[0]: cannot load ${join(dir, 'plugins', 'broken.js')}: plugin exploded`,
    )
  })

  it('reports every problem of a config file in one run', async () => {
    const dir = await tempDir()
    await writeFile(
      join(dir, 'node.yaml'),
      [
        'listen: [nope]',
        'trust:',
        '  keys:',
        '    - { key: not-a-key, roles: [client, chef] }',
        'runner: { concurrency: 0, plugins: [missing.js] }',
        'coordinator: { colour: blue }',
        'metrics: { enabled: true }',
        '',
      ].join('\n'),
    )
    const result = await runCli(['node', 'start', '--config', join(dir, 'node.yaml')])
    expect(result.code).toBe(2)
    for (const text of [
      'listen[0]: not a multiaddr: nope',
      'trust.keys[0].key:',
      'trust.keys[0].roles[1]:',
      'runner.concurrency: expected an integer ≥ 1, got 0',
      `runner.plugins[0]: no such file: ${join(dir, 'missing.js')}`,
      'coordinator.colour: unknown setting',
      'metrics: unknown setting',
    ]) {
      expect(result.stderr).toContain(text)
    }
  })

  it('with --json, a usage error is one JSON object on stderr', async () => {
    const result = await horus([
      'workflow',
      'list',
      '--status',
      'odd',
      '--gateway',
      'http://127.0.0.1:1',
      '--json',
    ])
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(JSON.parse(result.stderr)).toEqual({
      name: 'UsageError',
      code: 'USAGE',
      message: expect.stringContaining('--status: expected one of'),
    })
    const unknown = await horus(['frobnicate', '--json'])
    expect(JSON.parse(unknown.stderr)).toMatchObject({ name: 'UsageError', code: 'USAGE' })
  })

  it('prints its version', async () => {
    const { version } = JSON.parse(
      await import('node:fs/promises').then((fs) =>
        fs.readFile(join(import.meta.dirname, '..', 'package.json'), 'utf8'),
      ),
    ) as { version: string }
    const result = await runCli(['--version'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(new RegExp(`^horus ${version.replaceAll('.', '\\.')} \\(node `))
  })

  it('ends quietly when the reader of its output goes away (| head)', async () => {
    const child = spawn(process.execPath, [CLI, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.destroy() // the reader is gone before the first write: that write gets EPIPE
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const [code] = (await once(child, 'close', { signal: AbortSignal.timeout(20_000) })) as [number]
    expect(stderr).toBe('')
    expect(code).toBe(0)
  })
})
