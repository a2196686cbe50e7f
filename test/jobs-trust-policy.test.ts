import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { pEvent } from 'p-event'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import {
  createJob,
  createJobVerifier,
  generateSigner,
  ReplayCache,
  signerKeyHex,
  TrustPolicy,
  TrustPolicyError,
  TrustPolicyWatcher,
} from '../src/protocols/jobs/index.js'
import { createStore, type Store } from './jobs-helpers.js'

function issuesOf(config: unknown): readonly string[] {
  try {
    TrustPolicy.parse(config)
  } catch (err) {
    if (err instanceof TrustPolicyError) return err.issues
    throw err
  }
  return []
}

describe('TrustPolicy validation', () => {
  const hex = 'ab'.repeat(32)

  it('accepts peer IDs and hex keys, in any case', async () => {
    const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const policy = TrustPolicy.parse({
      keys: [
        { key: peerId.toString(), name: 'ci', roles: ['client'], capabilities: ['sal'] },
        { key: hex.toUpperCase(), roles: ['coordinator', 'supervisor'] },
      ],
    })
    expect(policy.keys.map((key) => key.key)).toEqual([
      signerKeyHex({ publicKey: peerId.publicKey.raw, sign: () => new Uint8Array() }),
      hex,
    ])
    expect(policy.lookup(hex)?.capabilities.size).toBe(0)
  })

  it('reports every problem with its exact path', () => {
    expect(
      issuesOf({
        keys: [
          { key: hex, roles: ['client'] },
          { key: hex, roles: ['runner'] },
          { key: 'xyz', roles: ['client'] },
          { key: 42, roles: [] },
          { key: 'cd'.repeat(32), roles: ['root'], capabilities: ['Bad Name', '*', 'ok'], colour: 'red' },
          'not a mapping',
          { key: 'ef'.repeat(32), roles: 'client', capabilities: 'sal', name: 7 },
        ],
        extra: 1,
      }),
    ).toEqual([
      'trust.extra: unknown field (expected keys)',
      'trust.keys[1].key: duplicate of trust.keys[0].key',
      'trust.keys[2].key: not a peer ID or hex public key: "xyz"',
      'trust.keys[3].key: expected a peer ID or hex public key, got number 42',
      'trust.keys[3].roles: expected a non-empty list of client, coordinator, supervisor, runner, admin, got a list',
      'trust.keys[4].colour: unknown field (expected key, name, roles, capabilities)',
      'trust.keys[4].roles[0]: expected one of client, coordinator, supervisor, runner, admin, got "root"',
      'trust.keys[4].capabilities[0]: expected a capability name matching /^[a-z][a-z0-9_-]{0,63}$/ or "*", got "Bad Name"',
      'trust.keys[5]: expected a mapping, got "not a mapping"',
      'trust.keys[6].name: expected a string, got number 7',
      'trust.keys[6].roles: expected a non-empty list of client, coordinator, supervisor, runner, admin, got "client"',
      'trust.keys[6].capabilities: expected a list of capability names, got "sal"',
    ])
    expect(issuesOf('trust me')).toEqual(['trust: expected a mapping, got "trust me"'])
    expect(issuesOf({ keys: {} })).toEqual(['trust.keys: expected a list, got a mapping'])
  })

  it('admits by role and capability, and always admits itself', () => {
    const self = generateSigner()
    const policy = TrustPolicy.parse(
      {
        keys: [
          { key: hex, name: 'ci', roles: ['client'], capabilities: ['sal'] },
          { key: 'cd'.repeat(32), roles: ['coordinator'], capabilities: ['*'] },
        ],
      },
      { self: signerKeyHex(self) },
    )
    expect(policy.admits(hex, { role: 'client', capability: 'sal' })).toBe(true)
    expect(policy.admits(hex, { role: 'client', capability: 'hero' })).toBe(false)
    expect(policy.admits(hex, { role: 'coordinator' })).toBe(false)
    expect(policy.admits('cd'.repeat(32), { role: ['client', 'coordinator'], capability: 'anything' })).toBe(
      true,
    )
    expect(policy.admits('ee'.repeat(32), { role: 'client' })).toBe(false)
    expect(policy.decide(hex, { role: 'client', capability: 'hero' })).toMatchObject({
      admitted: false,
      reason: 'capability_denied',
      message: `key ${hex} (ci) may not use capability "hero"`,
    })
    for (const role of ['client', 'coordinator', 'supervisor', 'runner'] as const) {
      expect(policy.admits(signerKeyHex(self), { role, capability: 'osiris' })).toBe(true)
    }
  })

  it('answers the RPC "who may call" hook for hex keys and peer IDs', async () => {
    const key = await generateKeyPair('Ed25519')
    const peerId = peerIdFromPrivateKey(key)
    const policy = TrustPolicy.parse({ keys: [{ key: peerId.toString(), roles: ['supervisor'] }] })
    expect(policy.canCall(peerId.toString(), 'supervisor')).toBe(true)
    expect(
      policy.canCall(
        signerKeyHex({ publicKey: key.publicKey.raw, sign: () => new Uint8Array() }),
        'supervisor',
      ),
    ).toBe(true)
    expect(policy.canCall(peerId.toString(), 'coordinator')).toBe(false)
    expect(policy.canCall('garbage', 'supervisor')).toBe(false)
  })
})

describe('TrustPolicyWatcher', () => {
  let dir: string
  let file: string
  let watcher: TrustPolicyWatcher | undefined
  let store: Store | undefined
  const client = generateSigner()
  const self = generateSigner()

  function config(capabilities: string[]): string {
    return stringify({
      listen: ['/ip4/127.0.0.1/tcp/0'],
      trust: { keys: [{ key: signerKeyHex(client), name: 'client', roles: ['client'], capabilities }] },
    })
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'horus-trust-'))
    file = join(dir, 'horus.yaml')
    await writeFile(file, config(['sal']))
  })

  afterEach(async () => {
    await watcher?.stop()
    watcher = undefined
    await store?.close()
    store = undefined
    await rm(dir, { recursive: true, force: true })
  })

  async function startWatcher(): Promise<TrustPolicyWatcher> {
    watcher = new TrustPolicyWatcher({ file, self: signerKeyHex(self), debounceMs: 20 })
    await watcher.start()
    return watcher
  }

  it('applies a changed file without a restart, and the verifier follows it', async () => {
    const w = await startWatcher()
    store = await createStore()
    const replayCache = new ReplayCache({ datastore: store.datastore })
    await replayCache.start()
    const verifier = createJobVerifier({ trust: w, replayCache })
    const heroJob = createJob({ runner: 'hero' }, client)
    expect(verifier.check(heroJob)).toMatchObject({ ok: false, reason: 'capability_denied' })

    const reloaded = pEvent(w, 'policy:reloaded', { signal: AbortSignal.timeout(10_000) })
    await writeFile(file, config(['sal', 'hero']))
    const event = (await reloaded) as CustomEvent<{ policy: TrustPolicy }>
    expect(event.detail.policy.admits(signerKeyHex(client), { role: 'client', capability: 'hero' })).toBe(
      true,
    )
    expect(verifier.check(heroJob).ok).toBe(true)
    await replayCache.stop()
  })

  it('follows an editor-style save (write elsewhere, rename over)', async () => {
    const w = await startWatcher()
    const reloaded = pEvent(w, 'policy:reloaded', { signal: AbortSignal.timeout(10_000) })
    const temp = join(dir, '.horus.yaml.swp')
    await writeFile(temp, config(['osiris']))
    await rename(temp, file)
    await reloaded
    expect(w.policy.admits(signerKeyHex(client), { role: 'client', capability: 'osiris' })).toBe(true)
  })

  it('keeps the old policy when the new file is invalid, and says why', async () => {
    const w = await startWatcher()
    const rejected = pEvent(w, 'policy:rejected', { signal: AbortSignal.timeout(10_000) })
    await writeFile(file, stringify({ trust: { keys: [{ key: 'xyz', roles: ['client'] }] } }))
    const event = (await rejected) as CustomEvent<{ error: Error }>
    expect(event.detail.error).toBeInstanceOf(TrustPolicyError)
    expect((event.detail.error as TrustPolicyError).issues).toEqual([
      'trust.keys[0].key: not a peer ID or hex public key: "xyz"',
    ])
    expect(w.policy.admits(signerKeyHex(client), { role: 'client', capability: 'sal' })).toBe(true)

    await writeFile(file, 'trust: [unclosed')
    expect(await w.reload()).toBe(false)
    expect(w.policy.admits(signerKeyHex(client), { role: 'client', capability: 'sal' })).toBe(true)
  })

  it('reloads on demand (SIGHUP)', async () => {
    const w = await startWatcher()
    await w.stop()
    await writeFile(file, config([]))
    // Stopped: no watching, but reload() still applies the file when asked.
    expect(w.policy.admits(signerKeyHex(client), { role: 'client', capability: 'sal' })).toBe(true)
    expect(await w.reload()).toBe(true)
    expect(w.policy.admits(signerKeyHex(client), { role: 'client', capability: 'sal' })).toBe(false)
  })

  it('refuses to start on an invalid file', async () => {
    await writeFile(file, stringify({ trust: { keys: [{ key: 'xyz', roles: ['client'] }] } }))
    watcher = new TrustPolicyWatcher({ file })
    await expect(watcher.start()).rejects.toThrow(TrustPolicyError)
  })
})
