import { afterEach, describe, expect, it } from 'vitest'
import { findProviders, roleCid } from '../src/protocols/capabilities/index.js'
import { decodeHeartbeat, encodeHeartbeat, LIVENESS_TOPIC } from '../src/protocols/liveness/index.js'
import { TestMesh, waitFor } from '../src/testing/index.js'

const mesh = new TestMesh()
afterEach(() => mesh.cleanup())

describe('presence: liveness heartbeats and role records', () => {
  it('every node hears every other, and roles are found through the DHT', async () => {
    const hub = await mesh.node({ name: 'hub' })
    const bootstrap = [hub.multiaddrs()[0] as string]
    const supervisor = await mesh.node({ name: 'sup', bootstrap, roles: ['supervisor'] })
    const runner = await mesh.node({ name: 'run', bootstrap, roles: ['runner'] })
    runner.addCapability('hero')
    runner.setLoadProvider(() => ({ running: 1, capacity: 4 }))

    for (const node of [hub, supervisor, runner]) {
      await waitFor(() => node.liveness.alive().length === 2, { what: `${node.peerId} to hear both others` })
    }
    const seen = await waitFor(
      () => hub.liveness.get(runner.peerId)?.capabilities.includes('hero') && hub.liveness.get(runner.peerId),
    )
    expect(seen.roles).toEqual(['runner'])
    expect(seen.load).toEqual({ running: 1, capacity: 4 })

    const cid = await roleCid('supervisor')
    const providers = await waitFor(
      async () => {
        const found = await findProviders(runner.libp2p, cid, { signal: AbortSignal.timeout(3_000) })
        return found.some((p) => p.id.equals(supervisor.libp2p.peerId)) && found
      },
      { what: 'the runner to find the supervisor through the DHT' },
    )
    expect(providers.map((p) => p.id.toString())).toContain(supervisor.peerId)
  })

  it('reports a stopped node as lost', async () => {
    const hub = await mesh.node({ name: 'hub' })
    const leaf = await mesh.node({ name: 'leaf', bootstrap: [hub.multiaddrs()[0] as string] })
    await waitFor(() => hub.liveness.get(leaf.peerId))
    const lost = new Promise<string>((resolve) => {
      hub.liveness.addEventListener('peer:lost', (evt) => resolve(evt.detail.peerId), { once: true })
    })
    await mesh.stopNode(leaf)
    expect(await lost).toBe(leaf.peerId)
    expect(hub.liveness.get(leaf.peerId)).toBeUndefined()
  })

  it('rejects malformed heartbeats without throwing', () => {
    expect(decodeHeartbeat(new TextEncoder().encode('{not json'))).toBeUndefined()
    expect(decodeHeartbeat(new TextEncoder().encode('{"peerId":1}'))).toBeUndefined()
    expect(decodeHeartbeat(new Uint8Array(20_000))).toBeUndefined()
    const ok = {
      peerId: 'x',
      roles: [],
      capabilities: ['a'],
      load: { running: 0, capacity: 1 },
      seq: 1,
      sentAt: 0,
    }
    expect(decodeHeartbeat(encodeHeartbeat(ok))).toEqual(ok)
    expect(LIVENESS_TOPIC).toBe('horus/v1/liveness')
  })
})
