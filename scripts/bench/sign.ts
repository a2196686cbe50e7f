/**
 * Ed25519 and job-envelope throughput: `@noble/ed25519` against `node:crypto` on the same bytes,
 * and a whole job through create (canonical JSON + sign) → JSON bytes → verifier.check (parse,
 * schema, trust, canonical JSON, verify): an ad-hoc job (the baseline), then a workflow step's job
 * carrying its run's signed submission — once as a run's jobs are (the same authority, verified
 * once and cached), once with a fresh authority every time (the worst case). Then the libp2p
 * keys gossipsub signs and verifies every message with: `@libp2p/crypto`'s Ed25519 key, which
 * imports itself from JWK on every call, against the node's held signing key and a cached public
 * key object. Single thread; ~30 s.
 */
import '../../src/node/polyfills.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromRaw, publicKeyFromRaw } from '@libp2p/crypto/keys'
import { LevelDatastore } from 'datastore-level'
import { heldSigningKey } from '../../src/node/signing-key.js'
import {
  canonicalJson,
  createJob,
  createJobVerifier,
  createSubmission,
  type Ed25519Backend,
  jobSigningBytes,
  nobleEd25519,
  nodeEd25519,
  ReplayCache,
  type Signer,
  signerFromSeed,
  signerKeyHex,
  sodiumEd25519,
  TrustPolicy,
  unsignedJob,
} from '../../src/protocols/jobs/index.js'
import { type BenchTable, formatTable } from './table.js'

const WARMUP_MS = 200
const MEASURE_MS = 1_500

/** Operations per second of `op`, run in batches until `MEASURE_MS` has passed. */
function opsPerSecond(op: (i: number) => void): number {
  const run = (ms: number): number => {
    const start = performance.now()
    let count = 0
    while (performance.now() - start < ms) {
      for (let i = 0; i < 50; i++) op(count + i)
      count += 50
    }
    return (count * 1000) / (performance.now() - start)
  }
  run(WARMUP_MS)
  return run(MEASURE_MS)
}

type Fields = Parameters<typeof createJob>[0]

function sampleJobFields(): Fields {
  return {
    runner: 'hero',
    payload: "!!http.get url:'https://example.invalid/orders?since=2024-01-01'",
    input: { 'load-config': { region: 'eu-west', limit: 500, tags: ['nightly', 'orders'] } },
    env: { HTTP_TIMEOUT: '30', LANG: 'C.UTF-8' },
  }
}

const SAMPLE_WORKFLOW = {
  workflow: { name: 'orders', steps: [{ id: 'fetch-orders', runner: 'hero', payload: '!!http.get' }] },
}

/** The same job as a step of run `run`, carrying the run's submission signed by `signer`. */
function stepJobFields(signer: Signer, run: string): Fields {
  const submission = createSubmission({ runId: run, workflow: SAMPLE_WORKFLOW, inputs: {} }, signer)
  return {
    ...sampleJobFields(),
    id: `${run}/fetch-orders/1`,
    run,
    step: 'fetch-orders',
    authority: { submission },
  }
}

/**
 * Gossip signatures: what StrictSign costs per message published (sign) and per message received
 * (verify). gossipsub builds the publisher's key from the message's bytes for every message and
 * offers no hook to verify otherwise (`validateToRawMessage` in its `utils/buildRawMessage.js`), so
 * the cached-key verify row is what such a hook would allow, not what the mesh does.
 */
async function libp2pKeyTable(message: Uint8Array): Promise<BenchTable> {
  const key = await generateKeyPair('Ed25519')
  const held = heldSigningKey(key)
  const signature = Uint8Array.from(await key.sign(message))
  const publicRaw = key.publicKey.raw
  const seed = key.raw.subarray(0, 32)
  const mustVerify = (ok: boolean | Promise<boolean>): void => {
    if (ok !== true) throw new Error('a libp2p signature failed to verify (or verified asynchronously)')
  }
  const rows = [
    ['@libp2p/crypto key (JWK import each call)', opsPerSecond(() => key.sign(message))],
    ['held signing key (src/node/signing-key.ts)', opsPerSecond(() => held.sign(message))],
  ]
  const verifies = [
    [
      '@libp2p/crypto key from bytes each message (gossipsub)',
      opsPerSecond(() => mustVerify(publicKeyFromRaw(publicRaw).verify(message, signature))),
    ],
    [
      'node:crypto, public key cached',
      opsPerSecond(() => mustVerify(nodeEd25519.verify(signature, message, publicRaw))),
    ],
  ]
  // Same key either way: the held key is the libp2p key's seed.
  if (!privateKeyFromRaw(Uint8Array.from([...seed, ...publicRaw])).equals(held))
    throw new Error('key mismatch')
  return {
    title: `libp2p keys as gossipsub uses them (StrictSign: one sign per message published, one verify per message received; ${message.length} bytes)`,
    columns: ['operation', 'key', 'ops/s'],
    rows: [
      ...rows.map(([name, n]) => ['sign', name as string, n as number]),
      ...verifies.map(([name, n]) => ['verify', name as string, n as number]),
    ],
    note: `Baselines measured in the same run: the first row of each operation is what libp2p does by default.`,
  }
}

export async function runSignBench(): Promise<BenchTable[]> {
  const seed = new Uint8Array(32).map((_, i) => (i * 37 + 11) & 0xff)
  // The bytes a submitter actually signs for a typical workflow step.
  const probe = createJob(sampleJobFields(), signerFromSeed(seed))
  const message = jobSigningBytes(canonicalJson(unsignedJob(probe)), [])

  const dir = await mkdtemp(join(tmpdir(), 'horus-bench-sign-'))
  const datastore = new LevelDatastore(join(dir, 'db'))
  await datastore.open()
  const replayCache = new ReplayCache({ datastore })
  await replayCache.start()
  try {
    const rows: (string | number)[][] = []
    const backends: Ed25519Backend[] = [
      nobleEd25519,
      nodeEd25519,
      ...(sodiumEd25519 === undefined ? [] : [sodiumEd25519]),
    ]
    for (const backend of backends) {
      const sign = backend.signer(seed)
      const publicKey = backend.publicKey(seed)
      const signature = sign(message)
      const signs = opsPerSecond(() => sign(message))
      const verifies = opsPerSecond(() => {
        if (!backend.verify(signature, message, publicKey))
          throw new Error(`${backend.name} failed to verify`)
      })
      const signer = signerFromSeed(seed, backend)
      const policy = TrustPolicy.parse({}, { self: signerKeyHex(signer) })
      const verifier = createJobVerifier({ trust: policy, replayCache, backend })
      const encoder = new TextEncoder()
      const fields = sampleJobFields()
      const throughput = (fieldsOf: (i: number) => Fields): number =>
        opsPerSecond((i) => {
          const bytes = encoder.encode(JSON.stringify(createJob(fieldsOf(i), signer)))
          const checked = verifier.check(bytes)
          if (!checked.ok) throw new Error(`envelope failed to verify: ${checked.message}`)
        })
      const envelopes = throughput(() => fields)
      const step = stepJobFields(signer, 'run-7f3a')
      const cached = throughput(() => step)
      // A new run per job: the submission is signed here and verified there every time.
      const fresh = throughput((i) => stepJobFields(signer, `run-${i}`))
      rows.push([backend.name, signs, verifies, envelopes, cached, fresh])
    }
    const table: BenchTable = {
      title: `Ed25519 and job envelopes (Node ${process.version}, one thread, ${message.length}-byte signed document)`,
      columns: [
        'backend',
        'sign/s',
        'verify/s',
        'ad-hoc job create+encode+verify/s (baseline)',
        'step job, run authority cached/s',
        'step job, new authority each/s',
      ],
      rows,
    }
    const [noble, node, sodium] = rows
    if (noble !== undefined && node !== undefined) {
      const ratio = (a: (string | number)[], b: (string | number)[], i: number): string =>
        (Number(a[i]) / Number(b[i])).toFixed(1)
      const fastest = sodium ?? node
      const vsBaseline = (i: number): string => (Number(fastest[i]) / Number(fastest[3])).toFixed(2)
      const libsodium =
        sodium === undefined
          ? 'libsodium did not load here; '
          : `libsodium vs node:crypto: sign ×${ratio(sodium, node, 1)}, verify ×${ratio(sodium, node, 2)}, envelope ×${ratio(sodium, node, 3)}; `
      table.note = `node:crypto vs @noble/ed25519: sign ×${ratio(node, noble, 1)}, verify ×${ratio(node, noble, 2)}, envelope ×${ratio(node, noble, 3)}; ${libsodium}the jobs layer uses ${fastest[0]} by default. Step jobs carrying their run's signed submission, against the ad-hoc baseline (${fastest[0]}): ×${vsBaseline(4)} with the authority cached (a run's jobs all carry the same one), ×${vsBaseline(5)} when every job brings a new one (signed and verified each time).`
    }
    return [table, await libp2pKeyTable(message)]
  } finally {
    await replayCache.stop()
    await datastore.close()
    await rm(dir, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const table of await runSignBench()) process.stdout.write(formatTable(table))
}
