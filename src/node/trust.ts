import type { ComponentLogger, Startable } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import { TrustPolicyError } from '../protocols/jobs/errors.js'
import { ReplayCache } from '../protocols/jobs/replay-cache.js'
import { SecretOpener } from '../protocols/jobs/secrets.js'
import { type Signer, signerFromPrivateKey } from '../protocols/jobs/signer.js'
import { type TrustConfig, TrustPolicy } from '../protocols/jobs/trust-policy.js'
import { TrustPolicyWatcher } from '../protocols/jobs/trust-policy-watcher.js'
import { createJobVerifier, type JobVerifier } from '../protocols/jobs/verifier.js'
import type { NodeConfig } from './config/types.js'
import type { Identity } from './identity.js'

/**
 * A node's side of the trust model: the policy in force (re-read from the config file on change or
 * SIGHUP when the node has one), the persisted replay cache, the job verifier built on both, and
 * the signer that makes this node's own signatures (submitting, re-dispatching, results), and the
 * opener of job secrets sealed to this node's key.
 */
export class NodeTrust implements Startable {
  readonly signer: Signer
  readonly replayCache: ReplayCache
  readonly verifier: JobVerifier
  /** Opens secrets sealed to this node's key (X25519 form of its Ed25519 identity). */
  readonly secrets: SecretOpener
  private readonly holder: { policy: TrustPolicy }
  private readonly watcher: TrustPolicyWatcher | undefined
  private readonly self: string

  constructor(init: {
    config: NodeConfig
    identity: Identity
    datastore: Datastore
    logger: ComponentLogger
  }) {
    const self = init.identity.publicKeyHex
    this.self = self
    this.signer = signerFromPrivateKey(init.identity.privateKey)
    // signerFromPrivateKey checked the key: Ed25519, its raw form starting with the 32-byte seed.
    this.secrets = new SecretOpener(init.identity.privateKey.raw.subarray(0, 32))
    if (init.config.file !== undefined) {
      this.watcher = new TrustPolicyWatcher({ file: init.config.file, self, logger: init.logger })
      this.holder = this.watcher
    } else {
      // No file to watch: the policy comes from code or flags and stays as given.
      this.holder = { policy: TrustPolicy.parse(init.config.extra.trust ?? { keys: [] }, { self }) }
    }
    this.replayCache = new ReplayCache({ datastore: init.datastore })
    this.verifier = createJobVerifier({
      trust: this.holder,
      replayCache: this.replayCache,
      logger: init.logger,
    })
  }

  get policy(): TrustPolicy {
    return this.holder.policy
  }

  async start(): Promise<void> {
    await this.watcher?.start()
    await this.replayCache.start()
  }

  async stop(): Promise<void> {
    await this.replayCache.stop()
    await this.watcher?.stop()
  }

  /**
   * Replaces the policy of a node configured in code (no config file to watch): membership, RPC
   * access and job verification follow it from the next decision on. Throws `TrustPolicyError`
   * for an invalid section (the old policy stays); with a config file, edit the file instead.
   */
  update(config: TrustConfig | Record<string, unknown>): void {
    if (this.watcher !== undefined) {
      throw new TrustPolicyError([
        'trust: this node reads its policy from its config file; edit the file (or send SIGHUP)',
      ])
    }
    this.holder.policy = TrustPolicy.parse(config, { self: this.self })
  }

  /** Re-reads the policy from the config file (SIGHUP); false when the new file was rejected. */
  async reload(): Promise<boolean> {
    return this.watcher === undefined ? true : this.watcher.reload()
  }
}
