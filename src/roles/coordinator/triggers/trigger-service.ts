/**
 * Triggers start workflow runs: `cron` on a schedule (croner), `http` on `POST /hooks/<name>` at
 * the node's gateway (the JSON body is merged over the trigger's inputs; the answer is
 * `{ runId }`). They come from the config (`coordinator.triggers`, signed by this coordinator's
 * key at start; local to the coordinators that declare them) and from
 * `coordinator.register_trigger` (signed by the registrar), which are **replicated to every
 * coordinator** (trigger-set.ts, trigger-replica.ts) and removed everywhere by
 * `coordinator.remove_trigger`. Every run a trigger starts executes under its signed registration.
 * A cron tick fires once across all coordinators (fire-once.ts); the latest tick started is
 * replicated too, so ticks missed while no coordinator ran are started late as `catch_up` allows,
 * and a tick while the trigger's previous run is unfinished follows `overlap` (cron-plan.ts).
 *
 * A hook call must prove it may start a run: an `X-Horus-Signature-256: sha256=<hex>` header, the
 * HMAC-SHA256 of the raw body keyed by the trigger's `secret` (GitHub-webhook style), or the
 * gateway's bearer token. The body must be JSON (`content-type: application/json`), empty or not,
 * so a cross-site form post cannot even reach the signature check with a usable request.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ComponentLogger, Logger } from '@libp2p/interface'
import { Cron } from 'croner'
import type { Datastore } from 'interface-datastore'
import { HorusError } from '../../../core/errors.js'
import type { HttpGateway } from '../../../node/gateway/http-gateway.js'
import {
  BodyTooLargeError,
  isJsonContent,
  readBody,
  sendError,
  sendJson,
} from '../../../node/gateway/http-io.js'
import type { TopicPubSub } from '../../../protocols/gossip/validated-topic.js'
import { peerIdFromPublicKeyHex, type SignedTriggerRegistration } from '../../../protocols/jobs/index.js'
import { TriggerInvalidError, TriggerNotFoundError } from '../service/errors.js'
import { missedTicks, overlapDecision, roundToSecond, scheduledTick } from './cron-plan.js'
import type { TriggerDefinition } from './definition.js'
import { cronRunId, hookRunId, rendezvousWinner } from './fire-once.js'
import { decodeTrigger, encodeTrigger, type TriggerSealing } from './trigger-record.js'
import { TriggerReplica } from './trigger-replica.js'
import { TriggerStore } from './trigger-store.js'

export interface TriggerServiceInit {
  datastore: Datastore
  logger: ComponentLogger
  self: string
  pubsub: TopicPubSub
  /** Whether a peer may write the replicated triggers (trust role `coordinator`). */
  isCoordinator(peer: string): boolean
  /** A fresh HLC stamp (registrations and removals are ordered by it). */
  stamp(): string
  sealing: TriggerSealing
  /** Runs of this trigger not finished yet (its cron runs this coordinator holds). */
  unfinishedRuns(name: string): string[]
  /** Cancels a run (`overlap: cancel_previous`). */
  cancelRun(runId: string, reason: string): void
  gateway: HttpGateway | undefined
  configured: readonly TriggerDefinition[]
  fallbackMs: number
  liveCoordinators(): string[]
  hasRun(runId: string): boolean
  /** A config trigger's registration, signed by this coordinator's key. */
  sign(trigger: TriggerDefinition): SignedTriggerRegistration
  /** Why a stored registration is no longer usable (bad signature), or undefined. */
  problem(trigger: TriggerDefinition): string | undefined
  /** Starts the run `runId` of a firing at `at` under the trigger's registration; resolves with its id. */
  start(
    trigger: TriggerDefinition,
    inputs: Record<string, unknown>,
    runId: string,
    at: number,
  ): Promise<string>
}

/** Header of a hook call's body signature. */
export const HOOK_SIGNATURE_HEADER = 'x-horus-signature-256'

/** Counters of hook calls refused, by reason (tests and metrics read them). */
export interface HookStats {
  accepted: number
  unauthenticated: number
  badSignature: number
  notJson: number
}

interface Active {
  definition: TriggerDefinition
  /** `config`, or the stamp of the registration in force (a change re-activates the trigger). */
  version: string
  cron: Cron | undefined
  lastFiredAt: number | undefined
}

/** A trigger as `coordinator.list_triggers` shows it. */
export interface TriggerListing {
  name: string
  kind: 'cron' | 'http'
  schedule?: string
  timezone?: string
  overlap?: string
  catchUp?: boolean | number
  /** `registered` (replicated to every coordinator) or `config` (this coordinator's own). */
  source: 'registered' | 'config'
  /** Peer ID of the key the trigger's runs execute for. */
  registeredBy?: string
  lastFiredAt?: string
}

const HOOKS_PATH = '/hooks/'
const MAX_HOOK_BODY_BYTES = 1024 * 1024

export class TriggerService {
  private readonly init: TriggerServiceInit
  private readonly log: Logger
  private readonly store: TriggerStore
  /** The registered triggers, replicated among coordinators. */
  readonly replica: TriggerReplica
  private configured: TriggerDefinition[] = []
  private readonly active = new Map<string, Active>()
  readonly hookStats: HookStats = { accepted: 0, unauthenticated: 0, badSignature: 0, notJson: 0 }
  private readonly pending = new Set<NodeJS.Timeout>()
  private unmount: (() => void) | undefined
  private running = false

  constructor(init: TriggerServiceInit) {
    this.init = init
    this.log = init.logger.forComponent('horus:coordinator:triggers')
    this.store = new TriggerStore(init.datastore)
    this.replica = new TriggerReplica({
      pubsub: init.pubsub,
      datastore: init.datastore,
      log: this.log,
      isCoordinator: init.isCoordinator,
      onChange: () => this.reconcile(),
    })
  }

  async start(): Promise<void> {
    this.running = true
    await this.replica.start()
    await this.migrate()
    for (const trigger of this.init.configured) {
      try {
        this.configured.push({ ...trigger, registration: this.init.sign(trigger) })
      } catch (err) {
        this.log.error('trigger %s ignored: %s', trigger.name, (err as Error).message)
      }
    }
    for (const trigger of this.configured) {
      if (trigger.kind === 'http' && trigger.secret === undefined)
        this.log('hook %s has no secret: only calls with the gateway token can fire it', trigger.name)
    }
    this.reconcile()
    this.unmount = this.init.gateway?.route('POST', HOOKS_PATH, this.onHook, { authenticatesItself: true })
  }

  async stop(): Promise<void> {
    this.running = false
    this.unmount?.()
    this.unmount = undefined
    for (const timer of this.pending) clearTimeout(timer)
    this.pending.clear()
    for (const active of this.active.values()) active.cron?.stop()
    this.active.clear()
    await this.replica.stop()
  }

  /** Registers (or replaces) a trigger on every coordinator. */
  async register(definition: TriggerDefinition): Promise<void> {
    const record = encodeTrigger(definition, this.init.sealing)
    this.replica.commit(this.replica.set.set(definition.name, this.init.stamp(), record))
  }

  /** The key that registered a (replicated) trigger, if there is one. */
  registrant(name: string): string | undefined {
    const record = this.replica.set.record(name)?.registration
    if (record === undefined) return undefined
    const decoded = decodeTrigger(name, record, this.init.sealing)
    return decoded.ok ? decoded.definition.registration?.submitter : undefined
  }

  /** Removes a registered trigger from every coordinator. */
  async remove(name: string): Promise<void> {
    if (this.replica.set.record(name)?.registration === undefined) {
      if (this.configured.some((t) => t.name === name))
        throw new TriggerInvalidError(
          `trigger ${JSON.stringify(name)} is declared in this coordinator's config: remove it there`,
        )
      throw new TriggerNotFoundError(name)
    }
    this.replica.commit(this.replica.set.remove(name, this.init.stamp()))
  }

  list(): TriggerListing[] {
    return [...this.active.values()]
      .map(({ definition, version, lastFiredAt }): TriggerListing => {
        const tick = this.replica.set.lastTick(definition.name)
        const last = definition.kind === 'cron' ? (tick ?? lastFiredAt) : lastFiredAt
        const listing: TriggerListing = {
          name: definition.name,
          kind: definition.kind,
          source: version === 'config' ? 'config' : 'registered',
        }
        if (definition.schedule !== undefined) listing.schedule = definition.schedule
        if (definition.timezone !== undefined) listing.timezone = definition.timezone
        if (definition.kind === 'cron') listing.overlap = definition.overlap ?? 'skip'
        if (definition.catch_up !== undefined) listing.catchUp = definition.catch_up
        const by = definition.registration?.submitter
        if (by !== undefined) listing.registeredBy = peerOf(by)
        if (last !== undefined) listing.lastFiredAt = new Date(last).toISOString()
        return listing
      })
      .sort((a, b) => (a.name < b.name ? -1 : 1))
  }

  /** Triggers persisted here before they were replicated join the replicated set once. */
  private async migrate(): Promise<void> {
    const stored = await this.store.all((key, problem) =>
      this.log.error('trigger %s ignored: %s', key, problem),
    )
    for (const trigger of stored) {
      if (this.replica.set.record(trigger.name) === undefined) await this.register(trigger)
      await this.store.delete(trigger.name)
    }
  }

  /** Activates what the config and the replicated set hold now; stops what they no longer do. */
  private reconcile(): void {
    if (!this.running) return
    const wanted = new Map<string, { definition: TriggerDefinition; version: string }>()
    for (const trigger of this.configured)
      wanted.set(trigger.name, { definition: trigger, version: 'config' })
    // Registered ones override the config's of the same name: they are newer.
    for (const [name, record] of this.replica.set.entries()) {
      const decoded = decodeTrigger(name, record.registration, this.init.sealing)
      const problem = decoded.ok ? this.init.problem(decoded.definition) : decoded.problem
      if (!decoded.ok || problem !== undefined) {
        this.log.error('trigger %s ignored: %s', name, problem)
        continue
      }
      if (decoded.note !== undefined) this.log('trigger %s: %s', name, decoded.note)
      wanted.set(name, { definition: decoded.definition, version: record.hlc })
    }
    for (const [name, active] of this.active) {
      if (wanted.get(name)?.version === active.version) continue
      active.cron?.stop()
      this.active.delete(name)
    }
    for (const [name, { definition, version }] of wanted)
      if (!this.active.has(name)) this.activate(definition, version)
  }

  private activate(definition: TriggerDefinition, version: string): void {
    const active: Active = { definition, version, cron: undefined, lastFiredAt: undefined }
    this.active.set(definition.name, active)
    if (definition.kind !== 'cron') return
    const timezone = definition.timezone === undefined ? {} : { timezone: definition.timezone }
    active.cron = new Cron(definition.schedule as string, { ...timezone, protect: true }, (job: Cron) =>
      this.onTick(active, scheduledTick(job, Date.now())),
    )
    this.catchUp(active)
  }

  /** Starts the ticks missed while no coordinator ran the trigger, as `catch_up` allows. */
  private catchUp(active: Active): void {
    const { definition } = active
    if (definition.catch_up === undefined || definition.catch_up === false) return
    const registeredAt = definition.registration?.createdAt
    const since = this.replica.set.lastTick(definition.name) ?? registeredAt
    if (since === undefined) return
    const ticks = missedTicks(definition.schedule as string, {
      ...(definition.timezone === undefined ? {} : { timezone: definition.timezone }),
      since,
      now: Date.now() - 1_000,
      catchUp: definition.catch_up,
    })
    if (ticks.length > 0) this.log('trigger %s: catching up %d missed tick(s)', definition.name, ticks.length)
    for (const tick of ticks) this.onTick(active, tick)
  }

  private onTick(active: Active, at: number): void {
    const name = active.definition.name
    // Ticks are whole seconds in every schedule croner accepts.
    const tick = roundToSecond(at)
    const runId = cronRunId(name, tick)
    const winner = rendezvousWinner(`${name}/${tick}`, [this.init.self, ...this.init.liveCoordinators()])
    if (winner === this.init.self) {
      this.fireTick(active, runId, tick)
      return
    }
    const timer = setTimeout(() => {
      this.pending.delete(timer)
      // Started (or skipped by its overlap policy) by the designated coordinator: its tick is marked.
      const marked = (this.replica.set.lastTick(name) ?? 0) >= tick
      if (this.running && !this.init.hasRun(runId) && !marked) {
        this.log('cron tick %s not started by %s: starting it here', runId, winner)
        this.fireTick(active, runId, tick)
      }
    }, this.init.fallbackMs)
    timer.unref()
    this.pending.add(timer)
  }

  /** A cron tick: marked as started (replicated), then a run unless `overlap` says otherwise. */
  private fireTick(active: Active, runId: string, tick: number): void {
    const name = active.definition.name
    this.replica.commit(this.replica.set.markTick(name, tick))
    const unfinished = this.init.unfinishedRuns(name).filter((id) => id !== runId)
    const decision = overlapDecision(active.definition.overlap ?? 'skip', unfinished)
    for (const previous of decision.cancel)
      this.init.cancelRun(
        previous,
        `trigger ${name}: replaced by the run of tick ${new Date(tick).toISOString()}`,
      )
    if (!decision.start) {
      this.log(
        'trigger %s: tick %s skipped, run %s is still going (overlap: skip)',
        name,
        tick,
        unfinished[0],
      )
      return
    }
    this.fire(active, runId, tick).catch(() => {})
  }

  /** Starts a run of the trigger's workflow; the outcome is logged here (callers may also await it). */
  private fire(
    active: Active,
    runId: string,
    at: number,
    inputs: Record<string, unknown> = {},
  ): Promise<string> {
    active.lastFiredAt = Date.now()
    const run = this.init.start(active.definition, { ...active.definition.inputs, ...inputs }, runId, at)
    run.then(
      (id) => this.log('trigger %s started run %s', active.definition.name, id),
      (err: Error) =>
        this.log.error('trigger %s did not start a run: %s', active.definition.name, err.message),
    )
    return run
  }

  /** Undefined when the call carries the gateway token or a valid body signature. */
  private authenticate(
    req: IncomingMessage,
    body: Buffer,
    trigger: TriggerDefinition,
  ): { name: string; message: string } | undefined {
    if (this.init.gateway?.hasToken(req) === true) return undefined
    const header = req.headers[HOOK_SIGNATURE_HEADER]
    const signed = trigger.secret === undefined ? undefined : hmacMatches(header, trigger.secret, body)
    if (signed === true) return undefined
    if (signed === false) {
      this.hookStats.badSignature++
      return { name: 'BadSignature', message: `${HOOK_SIGNATURE_HEADER} does not match the body` }
    }
    this.hookStats.unauthenticated++
    return {
      name: 'Unauthorized',
      message:
        trigger.secret === undefined
          ? `hook ${trigger.name} has no secret: call it with the gateway's bearer token`
          : `expected ${HOOK_SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256 of the body> or the gateway's bearer token`,
    }
  }

  private readonly onHook = async (
    req: IncomingMessage,
    res: ServerResponse,
    ctx: { url: URL },
  ): Promise<void> => {
    const name = decodeURIComponent(ctx.url.pathname.slice(HOOKS_PATH.length))
    const active = this.active.get(name)
    if (active === undefined || active.definition.kind !== 'http') {
      sendError(res, 404, 'TriggerNotFound', `no HTTP trigger named ${JSON.stringify(name)}`)
      return
    }
    let body: Buffer
    try {
      body = await readBody(req, MAX_HOOK_BODY_BYTES)
    } catch (err) {
      if (err instanceof BodyTooLargeError) sendError(res, 413, 'BodyTooLarge', err.message)
      else sendError(res, 400, 'InvalidBody', (err as Error).message)
      return
    }
    const refused = this.authenticate(req, body, active.definition)
    if (refused !== undefined) {
      sendError(res, 401, refused.name, refused.message)
      return
    }
    if (!isJsonContent(req)) {
      this.hookStats.notJson++
      sendError(res, 415, 'UnsupportedMediaType', 'expected a JSON body (content-type: application/json)')
      return
    }
    let inputs: Record<string, unknown> = {}
    if (body.byteLength > 0) {
      let parsed: unknown
      try {
        parsed = JSON.parse(body.toString('utf8'))
      } catch (err) {
        sendError(res, 400, 'InvalidJson', (err as Error).message)
        return
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        sendError(res, 400, 'InvalidInputs', 'expected a JSON object of run inputs')
        return
      }
      inputs = parsed as Record<string, unknown>
    }
    this.hookStats.accepted++
    try {
      const runId = hookRunId(active.definition.name)
      sendJson(res, 200, { runId: await this.fire(active, runId, Date.now(), inputs) })
    } catch (err) {
      if (err instanceof HorusError)
        sendJson(res, 400, { error: { name: err.name, message: err.message, ...issuesOf(err) } })
      else throw err
    }
  }
}

/** The hook call's proof, or why there is none. */
function hmacMatches(
  header: string | string[] | undefined,
  secret: string,
  body: Buffer,
): boolean | undefined {
  if (typeof header !== 'string') return undefined
  const match = /^sha256=([0-9a-fA-F]{64})$/.exec(header.trim())
  if (match === null) return false
  const expected = createHmac('sha256', secret).update(body).digest()
  return timingSafeEqual(Buffer.from(match[1] as string, 'hex'), expected)
}

function peerOf(publicKeyHex: string): string {
  try {
    return peerIdFromPublicKeyHex(publicKeyHex).toString()
  } catch {
    return publicKeyHex
  }
}

function issuesOf(err: HorusError): { issues?: unknown } {
  const issues = (err as { issues?: unknown }).issues
  return issues === undefined ? {} : { issues }
}
