import { chmod, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { IdentityError, loadOrCreateIdentity } from '../src/node/index.js'
import { runCli } from './helpers/cli.js'
import { configIssues } from './helpers/config-issues.js'
import { tempDirs } from './helpers/temp-dirs.js'

const tempDir = tempDirs('horus-id-')

describe('config validation', () => {
  it('names the path and the reason of every bad value at once', () => {
    const issues = configIssues({
      listen: ['/ip4/127.0.0.1/tcp/0', 'not-an-addr'],
      bootstrap: ['/ip4/127.0.0.1/tcp/4001'],
      roles: ['runner', 'janitor'],
      maxConnections: 0,
      mdns: 'sometimes',
      colour: 'blue',
    })
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^listen\[1\]: not a multiaddr: not-an-addr/),
        expect.stringMatching(/^bootstrap\[0\]: must end with \/p2p\/<peer id>/),
        expect.stringMatching(/^roles\[1\]: unknown role "janitor"/),
        'maxConnections: expected an integer ≥ 1, got 0',
        'mdns: expected true or false, got "sometimes"',
        expect.stringMatching(/^colour: unknown setting/),
      ]),
    )
    expect(issues).toHaveLength(6)
  })

  it('refuses a gateway off loopback address that is not host:port', () => {
    expect(configIssues({ gateway: { listen: 'localhost' } })).toEqual([
      'gateway.listen: expected host:port (e.g. 127.0.0.1:8080), got "localhost"',
    ])
  })

  it('applies file, then HORUS_* environment, then flags', async () => {
    const dir = await tempDir()
    const file = join(dir, 'horus.yaml')
    await writeFile(file, 'roles: [runner]\nmaxConnections: 10\nmdns: true\n')
    const { loadConfig } = await import('../src/node/index.js')
    const config = await loadConfig({
      file,
      env: { HORUS_MAX_CONNECTIONS: '20', HORUS_ROLES: 'coordinator,supervisor' },
      overrides: { roles: ['supervisor'] },
    })
    expect(config.roles).toEqual(['supervisor'])
    expect(config.maxConnections).toBe(20)
    expect(config.mdns).toBe(true)
  })
})

describe('identity key file', () => {
  it('keeps the same peer ID across loads and is created with mode 0600', async () => {
    const dir = await tempDir()
    const first = await loadOrCreateIdentity(dir)
    const second = await loadOrCreateIdentity(dir)
    expect(second.peerId.toString()).toBe(first.peerId.toString())
    const { stat } = await import('node:fs/promises')
    expect((await stat(first.file)).mode & 0o777).toBe(0o600)
  })

  it('rejects a corrupt key file, naming it, and does not replace it', async () => {
    const dir = await tempDir()
    const file = join(dir, 'identity.key')
    await writeFile(file, 'garbage', { mode: 0o600 })
    await expect(loadOrCreateIdentity(dir)).rejects.toThrow(IdentityError)
    await expect(loadOrCreateIdentity(dir)).rejects.toThrow(`identity key ${file}: is corrupt`)
    const { readFile } = await import('node:fs/promises')
    expect(await readFile(file, 'utf8')).toBe('garbage')
  })
})

describe('horus CLI errors', () => {
  it('exits 2 with the path and reason for a bad config value', async () => {
    const dir = await tempDir()
    const result = await runCli([
      'node',
      'start',
      '--data-dir',
      dir,
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
      '--listen',
      'nope',
    ])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('listen[1]: not a multiaddr: nope')
  })

  it('exits 2 for an invalid HORUS_* variable and for an unreadable config file', async () => {
    const dir = await tempDir()
    const env = await runCli(['node', 'start', '--data-dir', dir], { env: { HORUS_ROLES: 'runner,chef' } })
    expect(env.code).toBe(2)
    expect(env.stderr).toContain('roles[1]: unknown role "chef"')
    const missing = await runCli(['node', 'start', '--config', join(dir, 'nope.yaml')])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('nope.yaml: cannot read config file (ENOENT)')
  })

  it('exits 2 naming the file for a corrupt key and for a world-readable key', async () => {
    const dir = await tempDir()
    const file = join(dir, 'identity.key')
    await writeFile(file, 'not a key', { mode: 0o600 })
    const corrupt = await runCli(['node', 'start', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0'])
    expect(corrupt.code).toBe(2)
    expect(corrupt.stderr).toContain(`identity key ${file}: is corrupt`)

    const other = await tempDir()
    await runCli(['key', 'generate', '--data-dir', other])
    await chmod(join(other, 'identity.key'), 0o644)
    const open = await runCli(['key', 'show', '--data-dir', other])
    expect(open.code).toBe(2)
    expect(open.stderr).toContain(
      `identity key ${join(other, 'identity.key')}: is readable by others (mode 0644)`,
    )
  })

  it('prints the peer ID and public key with key show', async () => {
    const dir = await tempDir()
    const generated = await runCli(['key', 'generate', '--data-dir', dir, '--json'])
    const shown = await runCli(['key', 'show', '--data-dir', dir, '--json'])
    expect(shown.code).toBe(0)
    const a = JSON.parse(generated.stdout) as { peerId: string; publicKey: string }
    const b = JSON.parse(shown.stdout) as { peerId: string; publicKey: string }
    expect(b.peerId).toBe(a.peerId)
    expect(b.publicKey).toMatch(/^[0-9a-f]{64}$/)
  })
})
