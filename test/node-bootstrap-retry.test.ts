/**
 * Defect: a node started before its bootstrap peer never joined (the bootstrap address was dialled
 * once). Now bootstrap peers are retried with a capped backoff, and a node alone says so.
 */
import { createServer } from 'node:net'
import { pEvent } from 'p-event'
import { afterEach, describe, expect, it } from 'vitest'
import { loadOrCreateIdentity } from '../src/node/identity.js'
import { TestMesh, waitFor } from '../src/testing/index.js'

const mesh = new TestMesh()
afterEach(() => mesh.cleanup())

/**
 * A free port below the ephemeral range. One inside it (what `listen(0)` hands out) can be taken,
 * while this test waits, by any socket's local end — another test's listener, or one of this
 * node's own dials of that very address — and the bootstrap peer then cannot listen there.
 */
async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    const server = createServer()
    const listening = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false))
      server.listen(port, '127.0.0.1', () => resolve(true))
    })
    if (!listening) continue
    await new Promise<void>((resolve) => server.close(() => resolve()))
    return port
  }
  throw new Error('no free port in 20000-31999 after 50 tries')
}

describe('a node started before its bootstrap peer', () => {
  it('keeps dialling it, reports itself alone meanwhile, and joins once the peer is up', async () => {
    const firstDir = await mesh.tempDir()
    const first = await loadOrCreateIdentity(firstDir)
    const port = await freePort()
    const bootstrap = `/ip4/127.0.0.1/tcp/${port}/p2p/${first.peerId.toString()}`

    const second = await mesh.node({ name: 'second', bootstrap: [bootstrap] })
    // Several dials failed: the node says it is alone, and why.
    await waitFor(() => (second.keeper.status().bootstrap[0]?.failures ?? 0) >= 2, {
      timeoutMs: 10_000,
      what: 'two failed dials of the bootstrap peer',
    })
    const health = second.health()
    expect(health.status).toBe('degraded')
    expect(health.checks?.peers).toMatch(
      /^alone for \d+ s: retrying bootstrap peers \(12D3\w+: \d+ failed dial\(s\), next in \d+ s\)$/,
    )
    expect(second.keeper.status().alone).toBe(true)

    const joined = pEvent(second.keeper, 'mesh:joined', { signal: AbortSignal.timeout(20_000) })
    const firstNode = await mesh.node({
      name: 'first',
      dataDir: firstDir,
      extra: { listen: [`/ip4/127.0.0.1/tcp/${port}`] },
    })
    await joined
    expect(second.libp2p.getConnections(firstNode.libp2p.peerId).length).toBeGreaterThan(0)
    expect(second.health().status).toBe('ok')
    expect(second.keeper.status()).toMatchObject({
      alone: false,
      bootstrap: [{ connected: true, failures: 0 }],
    })
  })
})
