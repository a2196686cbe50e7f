import type { Libp2p, PeerInfo } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** Finds up to `limit` distinct providers of a key, stopping early when the limit is reached. */
export async function findProviders(
  libp2p: Libp2p,
  cid: CID,
  options: { signal?: AbortSignal; limit?: number } = {},
): Promise<PeerInfo[]> {
  const limit = options.limit ?? 20
  const found = new Map<string, PeerInfo>()
  const signal = options.signal ?? AbortSignal.timeout(10_000)
  try {
    for await (const provider of libp2p.contentRouting.findProviders(cid, { signal })) {
      found.set(provider.id.toString(), provider)
      if (found.size >= limit) break
    }
  } catch (err) {
    // A query that times out still returns what it found; callers decide whether that is enough.
    if (!signal.aborted) throw err
  }
  return [...found.values()]
}
