import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { type Datastore, Key } from 'interface-datastore'
import { afterEach, describe, expect, it } from 'vitest'
import { BootstrapUnreachableError, HorusClient } from '../src/client/index.js'
import { openDatastore } from '../src/node/datastore.js'
import { writeSwarmKey } from '../src/node/index.js'
import { TestMesh, waitFor } from '../src/testing/index.js'
import { horus } from './cli-capture.js'

const mesh = new TestMesh()
afterEach(() => mesh.cleanup())

/** Keys under libp2p's peer store namespace in a node's on-disk datastore. */
async function peerStoreKeysOnDisk(datastore: Datastore): Promise<string[]> {
  const keys: string[] = []
  for await (const key of datastore.queryKeys({ prefix: '/peers/' })) keys.push(key.toString())
  return keys
}

describe('restart', () => {
  it('keeps the peer ID and reconnects from the stored peer list without a bootstrap address', async () => {
    const hub = await mesh.node({ name: 'hub' })
    const dataDir = await mesh.tempDir()
    const first = await mesh.node({ name: 'leaf', dataDir, bootstrap: [hub.multiaddrs()[0] as string] })
    const peerId = first.peerId
    await waitFor(() => first.libp2p.getPeers().some((p) => p.equals(hub.libp2p.peerId)), {
      what: 'leaf to join hub',
    })
    // libp2p's peer store is in memory (src/node/libp2p-datastore.ts): it knows the hub, and not
    // one of its records reached LevelDB.
    await waitFor(async () => (await first.libp2p.peerStore.get(hub.libp2p.peerId)).addresses.length > 0, {
      what: 'the hub in the peer store',
    })
    expect(await peerStoreKeysOnDisk(first.datastore)).toEqual([])
    await mesh.stopNode(first)
    await waitFor(() => hub.libp2p.getPeers().length === 0, { what: 'hub to see leaf leave' })
    // A peer record an earlier version kept on disk is dropped at the next start.
    const { datastore: disk } = await openDatastore(dataDir)
    await disk.put(new Key(`/peers/${hub.peerId}`), new Uint8Array([1, 2, 3]))
    await disk.close()

    const second = await mesh.node({ name: 'leaf2', dataDir })
    expect(second.config.bootstrap).toEqual([])
    expect(second.peerId).toBe(peerId)
    expect(await peerStoreKeysOnDisk(second.datastore)).toEqual([])
    await waitFor(() => second.libp2p.getPeers().some((p) => p.equals(hub.libp2p.peerId)), {
      what: 'restarted leaf to reconnect to hub from its known-peers list',
      timeoutMs: 30_000,
    })
  })
})

describe('private mesh (swarm key)', () => {
  it('refuses a node with a different swarm key and admits one with the right key', async () => {
    const dir = await mesh.tempDir()
    const key = join(dir, 'swarm.key')
    const otherKey = join(dir, 'other.key')
    await writeSwarmKey(key)
    await writeSwarmKey(otherKey)

    const member = await mesh.node({ name: 'member', swarmKeyFile: key })
    const address = member.multiaddrs()[0] as string

    // Both a node with another key and a node with none fail the handshake: the connection is refused.
    for (const name of ['outsider', 'open']) {
      const stranger = await mesh.node(name === 'outsider' ? { name, swarmKeyFile: otherKey } : { name })
      await expect(
        stranger.libp2p.dial(multiaddr(address), { signal: AbortSignal.timeout(8_000) }),
      ).rejects.toThrow()
      expect(member.libp2p.getPeers()).toEqual([])
    }

    const friend = await mesh.node({ name: 'friend', swarmKeyFile: key, bootstrap: [address] })
    await waitFor(() => friend.libp2p.getPeers().some((p) => p.equals(member.libp2p.peerId)), {
      what: 'a node with the right key to join',
    })
    expect(member.libp2p.getPeers().map(String)).toEqual([friend.peerId])
  })

  it('tells a client without the key that the node is probably a private mesh, naming the option', async () => {
    const dir = await mesh.tempDir()
    const key = join(dir, 'swarm.key')
    await writeSwarmKey(key)
    const member = await mesh.node({ name: 'member', swarmKeyFile: key })
    const address = member.multiaddrs()[0] as string

    const refused = await HorusClient.connect({ bootstrap: [address] }).catch((err: unknown) => err)
    expect(refused).toBeInstanceOf(BootstrapUnreachableError)
    expect((refused as Error).message).toMatch(/private mesh/)
    expect((refused as Error).message).toContain('--swarm-key FILE')
    expect((refused as Error).message).toContain('swarmKey')

    const cli = await horus(['mesh', 'peers', '--peer', address])
    expect(cli.code).toBe(3)
    expect(cli.stderr).toMatch(/^horus: cannot reach the mesh: .*private mesh.*--swarm-key FILE/)
    expect(cli.stderr).not.toContain('Message length')

    const client = await HorusClient.connect({ bootstrap: [address], swarmKey: key })
    await client.close()
  })
})
