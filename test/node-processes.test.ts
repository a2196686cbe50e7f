import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Libp2p } from '@libp2p/interface'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { createClientHost } from '../src/client/host.js'
import { generateIdentity } from '../src/node/identity.js'
import { Libp2pRpcClient } from '../src/protocols/rpc/index.js'
import { waitFor } from '../src/testing/index.js'
import { type CliNode, startCliNode, stopCliNode } from './helpers/cli.js'

let dir: string
let host: Libp2p
const nodes: CliNode[] = []
const clients: Libp2pRpcClient[] = []

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'horus-procs-'))
  host = await createClientHost()
})
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await host.stop()
  const codes = await Promise.all(nodes.splice(0).map((n) => stopCliNode(n)))
  await rm(dir, { recursive: true, force: true })
  // SIGTERM is a graceful stop: every node flushed and exited 0.
  expect(codes.every((code) => code === 0)).toBe(true)
})

/**
 * Identities for the nodes, made up front, and a config file per node whose trust policy names
 * all of them: membership (heartbeats, DHT answers) follows the policy.
 */
async function trustEachOther(names: string[]): Promise<void> {
  const keys = []
  for (const name of names) {
    const { identity } = await generateIdentity(join(dir, name))
    keys.push({
      key: identity.peerId.toString(),
      name,
      roles: ['client', 'coordinator', 'supervisor', 'runner'],
    })
  }
  for (const name of names) await writeFile(join(dir, `${name}.yaml`), stringify({ trust: { keys } }))
}

async function start(name: string, args: string[] = []): Promise<{ node: CliNode; rpc: Libp2pRpcClient }> {
  const node = await startCliNode([
    '--config',
    join(dir, `${name}.yaml`),
    '--data-dir',
    join(dir, name),
    '--listen',
    '/ip4/127.0.0.1/tcp/0',
    ...args,
  ])
  nodes.push(node)
  const rpc = new Libp2pRpcClient({ libp2p: host, target: node.multiaddrs[0] as string })
  clients.push(rpc)
  return { node, rpc }
}

describe('a mesh of three OS processes started through the CLI', () => {
  it('joins through one bootstrap address, finds a DHT record and spreads gossip', async () => {
    await trustEachOther(['a', 'b', 'c'])
    const a = await start('a')
    expect(a.node.multiaddrs.every((ma) => ma.endsWith(`/p2p/${a.node.peerId}`))).toBe(true)
    const bootstrap = ['--bootstrap', a.node.multiaddrs[0] as string]
    const b = await start('b', [...bootstrap, '--roles', 'supervisor'])
    const c = await start('c', bootstrap)
    const all = [a, b, c]

    // Joined through the bootstrap address: a is connected to both, each of them to a. Direct
    // connections between every pair are not asked for: a node keeps its connections bounded
    // (tens, not N) and hears the whole mesh through gossip, checked below.
    const connected = async (self: typeof a, other: typeof a) => {
      const peers = await self.rpc.call<{ peerId: string }[]>('node.peers')
      return peers.some((p) => p.peerId === other.node.peerId)
    }
    for (const [self, other] of [
      [a, b],
      [a, c],
      [b, a],
      [c, a],
    ] as const) {
      await waitFor(() => connected(self, other), {
        what: `${self.node.peerId} to be connected to ${other.node.peerId}`,
        intervalMs: 200,
      })
    }

    // b provides its role in the DHT on its own; c was only given a's address and finds b's record
    // through its own lookup: its routing table holds a, although c's connection to a was identified
    // while c's DHT was still starting (src/node/early-connections.ts).
    const providers = await waitFor(
      async () => {
        const found = await c.rpc.call<string[]>('mesh.find_providers', { role: 'supervisor' })
        return found.includes(b.node.peerId) && found
      },
      { what: 'c to find b through the DHT', intervalMs: 300 },
    )
    expect(providers).toContain(b.node.peerId)

    // Heartbeats are gossip: each process hears the other two.
    for (const self of all) {
      const others = all.filter((o) => o !== self).map((o) => o.node.peerId)
      const alive = await waitFor(
        async () => {
          const peers = await self.rpc.call<{ peerId: string; roles: string[] }[]>('mesh.liveness')
          return others.every((id) => peers.some((p) => p.peerId === id)) && peers
        },
        { what: `${self.node.peerId} to hear both others' heartbeats`, intervalMs: 200 },
      )
      if (self !== b) expect(alive.find((p) => p.peerId === b.node.peerId)?.roles).toEqual(['supervisor'])
    }
  })
})
