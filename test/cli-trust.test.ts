/**
 * Trust tooling: `horus key show --roles … --capabilities … --name …` prints a scoped entry (and no
 * longer an all-roles, all-capabilities one by default), and `horus trust explain KEY` says what a
 * node's policy allows a key and why, with the README's exit codes. The printed entry, pasted into
 * a config, is what `trust explain` then finds.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { generateIdentity } from '../src/node/identity.js'
import { horus } from './cli-capture.js'

const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'horus-cli-trust-'))
  dirs.push(dir)
  return dir
}

async function identity(): Promise<{ dir: string; peerId: string; publicKey: string }> {
  const dir = await tempDir()
  const { identity: id } = await generateIdentity(dir)
  return { dir, peerId: id.peerId.toString(), publicKey: id.publicKeyHex }
}

/** `key show` scoped as the README's example: client, hero, named alice. */
function showAlice(dir: string) {
  return horus([
    'key',
    'show',
    '--data-dir',
    dir,
    '--roles',
    'client',
    '--capabilities',
    'hero',
    '--name',
    'alice',
  ])
}

describe('horus key show', () => {
  it('prints a scoped entry that parses as YAML and names exactly what it grants', async () => {
    const alice = await identity()
    const shown = await showAlice(alice.dir)
    expect(shown.code).toBe(0)
    expect(shown.stdout).toContain(`# peer id:    ${alice.peerId}`)
    expect(shown.stdout).toContain(
      `- key: ${alice.peerId}\n  name: alice\n  roles: [ client ]\n  capabilities: [ hero ]`,
    )
    expect(parse(shown.stdout)).toEqual([
      { key: alice.peerId, name: 'alice', roles: ['client'], capabilities: ['hero'] },
    ])

    const json = await horus(['key', 'show', '--data-dir', alice.dir, '--roles', 'runner,client', '--json'])
    expect(JSON.parse(json.stdout)).toMatchObject({
      peerId: alice.peerId,
      entry: { key: alice.peerId, roles: ['runner', 'client'], capabilities: [] },
    })
  })

  it('prints no entry without --roles (no more all roles and "*"), and refuses bad scopes', async () => {
    const alice = await identity()
    const bare = await horus(['key', 'show', '--data-dir', alice.dir])
    expect(bare.code).toBe(0)
    expect(bare.stdout).not.toMatch(/^\s*(roles|capabilities):/m)
    expect(bare.stdout).not.toContain("'*'")
    expect(bare.stdout).toContain('#   horus key show --roles ROLE[,ROLE] [--capabilities C,...] [--name N]')
    expect(parse(bare.stdout)).toBeNull()

    const badRole = await horus(['key', 'show', '--data-dir', alice.dir, '--roles', 'root'])
    expect(badRole.code).toBe(2)
    expect(badRole.stderr).toContain(
      'key show: --roles: expected one of client, coordinator, supervisor, runner, admin, got "root"',
    )
    const badCap = await horus([
      'key',
      'show',
      '--data-dir',
      alice.dir,
      '--roles',
      'client',
      '--capabilities',
      'Sal',
    ])
    expect(badCap.code).toBe(2)
    expect(badCap.stderr).toContain('--capabilities: expected capability names')
    const noRoles = await horus(['key', 'show', '--data-dir', alice.dir, '--capabilities', 'sal'])
    expect(noRoles.code).toBe(2)
    expect(noRoles.stderr).toContain('give --roles too')
    expect((await horus(['key', '--help'])).stdout).toContain('There is no default')
  })
})

describe('horus trust explain', () => {
  async function node(entries: string) {
    const self = await identity()
    const config = join(self.dir, 'horus.yaml')
    await writeFile(config, `dataDir: ${self.dir}\ntrust:\n  keys:\n${entries}`)
    return { self, config }
  }

  it('names the entry, its roles and capabilities, and decides one capability', async () => {
    const alice = await identity()
    const shown = await showAlice(alice.dir)
    const pasted = shown.stdout
      .split('\n')
      .filter((line) => !line.startsWith('#'))
      .map((line) => `    ${line}`)
      .join('\n')
    const runner = await identity()
    const { self, config } = await node(
      `    - { key: ${runner.peerId}, name: run1, roles: [runner], capabilities: ['*'] }\n${pasted}\n`,
    )

    const plain = await horus(['trust', 'explain', alice.peerId, '--config', config])
    expect(plain.code).toBe(0)
    expect(plain.stdout).toContain('entry:        trust.keys[1] (name: alice)')
    expect(plain.stdout).toContain('roles:        client')
    expect(plain.stdout).toContain('capabilities: hero')
    expect(plain.stdout).toContain('client       call coordinator and supervisor methods')

    const allowed = await horus([
      'trust',
      'explain',
      alice.publicKey,
      '--config',
      config,
      '--capability',
      'hero',
    ])
    expect(allowed.code).toBe(0)
    expect(allowed.stdout).toContain('capability "hero": allowed')
    expect(allowed.stdout).toContain('submit (client, coordinator): yes - trust.keys[1] lists "hero"')
    expect(allowed.stdout).toMatch(
      /serve \(runner\): +no - untrusted_key: key .* \(alice\) does not hold role runner/,
    )

    const denied = await horus([
      'trust',
      'explain',
      alice.peerId,
      '--config',
      config,
      '--capability',
      'sal',
      '--json',
    ])
    expect(denied.code).toBe(1)
    expect(JSON.parse(denied.stdout)).toMatchObject({
      inPolicy: true,
      entry: { source: 'trust.keys[1]', name: 'alice', roles: ['client'], capabilities: ['hero'] },
      capability: {
        name: 'sal',
        allowed: false,
        submit: {
          allowed: false,
          why: expect.stringMatching(/^capability_denied: .* may not use capability "sal"$/),
        },
      },
    })

    const served = await horus(['trust', 'explain', runner.peerId, '--config', config, '--capability', 'sal'])
    expect(served.code).toBe(0)
    expect(served.stdout).toContain(`serve (runner):               yes - trust.keys[0] lists '*'`)

    const own = await horus(['trust', 'explain', self.peerId, '--config', config])
    expect(own.code).toBe(0)
    expect(own.stdout).toContain("this node's own key (always trusted, every role and capability)")
  })

  it('says "not in the policy" with exit 1, and exit 2 for a bad key or a bad config', async () => {
    const stranger = await identity()
    const { config } = await node('    []\n')
    const unknown = await horus([
      'trust',
      'explain',
      stranger.peerId,
      '--config',
      config,
      '--capability',
      'hero',
    ])
    expect(unknown.code).toBe(1)
    expect(unknown.stdout).toContain('not in the policy: refused in every role')
    expect(unknown.stdout).toContain('capability "hero": denied')

    const badKey = await horus(['trust', 'explain', 'not-a-key', '--config', config])
    expect(badKey.code).toBe(2)
    expect(badKey.stderr).toContain('trust explain: KEY: not a peer ID or hex public key: not-a-key')

    const broken = join(await tempDir(), 'broken.yaml')
    await writeFile(broken, 'trust:\n  keys:\n    - { key: nope, roles: [wizard] }\n')
    const invalid = await horus(['trust', 'explain', stranger.peerId, '--config', broken])
    expect(invalid.code).toBe(2)
    expect(invalid.stderr).toContain('trust.keys[0].key: not a peer ID or hex public key: "nope"')
    expect(invalid.stderr).toContain(
      'trust.keys[0].roles[0]: expected one of client, coordinator, supervisor, runner, admin, got "wizard"',
    )
    expect((await horus(['trust', 'explain'])).code).toBe(2)
    expect((await horus(['trust', 'grant'])).code).toBe(2)
  })
})
