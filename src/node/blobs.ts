/**
 * The node's blob store and `/horus/blob/1.0.0` (../protocols/blob/): step outputs too large to
 * travel inline live here, on the runner that produced them and on the coordinators of their run.
 * Blobs are served only to peers the trust policy holds as `coordinator` or `runner`.
 *
 * ```yaml
 * blobs:
 *   maxBytes: 1073741824   # largest blob stored or fetched (default 1 GiB)
 * ```
 */
import { join } from 'node:path'
import type { ComponentLogger } from '@libp2p/interface'
import { BLOB_DIR, BlobService, BlobStore } from '../protocols/blob/index.js'
import type { TrustPolicy } from '../protocols/jobs/trust-policy.js'
import type { NodeConfig } from './config/types.js'
import { ConfigIssues, describe, readPositiveInt } from './config/validate.js'
import type { MeshLibp2p } from './node.js'

export interface BlobConfig {
  /** @default DEFAULT_MAX_BLOB_BYTES (1 GiB) */
  maxBytes?: number
}

export function readBlobConfig(raw: unknown): BlobConfig {
  if (raw === undefined || raw === null) return {}
  const issues = new ConfigIssues()
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    issues.add('blobs', `expected a mapping of settings, got ${describe(raw)}`)
    issues.throwIfAny()
  }
  const section = raw as Record<string, unknown>
  for (const key of Object.keys(section))
    if (key !== 'maxBytes') issues.add(`blobs.${key}`, 'unknown setting (known: maxBytes)')
  const maxBytes = readPositiveInt(section.maxBytes, 'blobs.maxBytes', issues)
  issues.throwIfAny()
  return maxBytes === undefined ? {} : { maxBytes }
}

export function createNodeBlobs(init: {
  config: NodeConfig
  libp2p: MeshLibp2p
  logger: ComponentLogger
  policy: () => TrustPolicy
}): BlobService {
  const { maxBytes } = readBlobConfig(init.config.extra.blobs)
  const store = new BlobStore({
    dir: join(init.config.dataDir, BLOB_DIR),
    ...(maxBytes === undefined ? {} : { maxBytes }),
  })
  return new BlobService(
    { libp2p: init.libp2p, logger: init.logger },
    { store, authorize: (peer) => init.policy().canCall(peer, ['coordinator', 'runner']) },
  )
}
