/** Shared fixtures for the jobs-layer tests: a real LevelDatastore in a temp dir, keys, a verifier. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LevelDatastore } from 'datastore-level'
import {
  createJobVerifier,
  createSubmission,
  generateSigner,
  type JobAuthority,
  type JobVerifier,
  type JobVerifierInit,
  ReplayCache,
  type Signer,
  signerKeyHex,
  type TrustKeyConfig,
  TrustPolicy,
} from '../src/protocols/jobs/index.js'

export interface Store {
  dir: string
  datastore: LevelDatastore
  /** Closes and reopens the datastore, as a node restart does. */
  reopen(): Promise<LevelDatastore>
  close(): Promise<void>
}

export async function createStore(): Promise<Store> {
  const dir = await mkdtemp(join(tmpdir(), 'horus-jobs-'))
  const store: Store = {
    dir,
    datastore: new LevelDatastore(join(dir, 'db')),
    async reopen() {
      await store.datastore.close()
      store.datastore = new LevelDatastore(join(dir, 'db'))
      await store.datastore.open()
      return store.datastore
    },
    async close() {
      await store.datastore.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
  await store.datastore.open()
  return store
}

export interface VerifierFixture {
  self: Signer
  client: Signer
  coordinator: Signer
  runnerOnly: Signer
  stranger: Signer
  policy: TrustPolicy
  replayCache: ReplayCache
  verifier: JobVerifier
  store: Store
  close(): Promise<void>
}

/** A verifier whose policy trusts `client` for sal+hero (or `clientCapabilities`), `coordinator` for everything. */
export async function createVerifierFixture(
  fixtureOptions: Partial<Omit<JobVerifierInit, 'trust' | 'replayCache'>> & {
    clientCapabilities?: string[]
  } = {},
): Promise<VerifierFixture> {
  const { clientCapabilities = ['sal', 'hero'], ...options } = fixtureOptions
  const self = generateSigner()
  const client = generateSigner()
  const coordinator = generateSigner()
  const runnerOnly = generateSigner()
  const stranger = generateSigner()
  const keys: TrustKeyConfig[] = [
    { key: signerKeyHex(client), name: 'client', roles: ['client'], capabilities: clientCapabilities },
    { key: signerKeyHex(coordinator), name: 'coord', roles: ['coordinator'], capabilities: ['*'] },
    { key: signerKeyHex(runnerOnly), name: 'runner', roles: ['runner'], capabilities: ['*'] },
  ]
  const policy = TrustPolicy.parse({ keys }, { self: signerKeyHex(self) })
  const store = await createStore()
  const replayCache = new ReplayCache({ datastore: store.datastore })
  await replayCache.start()
  const verifier = createJobVerifier({ trust: policy, replayCache, ...options })
  return {
    self,
    client,
    coordinator,
    runnerOnly,
    stranger,
    policy,
    replayCache,
    verifier,
    store,
    async close() {
      await replayCache.stop()
      await store.close()
    },
  }
}

/** A run's authority for jobs built by hand: `signer`'s submission of run `runId`. */
export function submissionAuthority(
  signer: Signer,
  runId: string,
  workflow: unknown = { workflow: { name: 'test', steps: [] } },
): JobAuthority {
  return { submission: createSubmission({ runId, workflow, inputs: {} }, signer) }
}
