/**
 * Triggers start workflow runs: `cron` on a schedule (croner), `http` on `POST /hooks/<name>` at
 * the node's gateway (the JSON body is merged over the trigger's inputs; the answer is
 * `{ runId }`). They come from the config (`coordinator.triggers`, signed by this coordinator's
 * key at start) and from `coordinator.register_trigger` (signed by the registrar), which persists
 * them; every run a trigger starts executes under that signed registration. A cron tick fires once
 * across all coordinators: see fire-once.ts.
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
import type { SignedTriggerRegistration } from '../../../protocols/jobs/index.js'
import type { TriggerDefinition } from './definition.js'
import { cronRunId, hookRunId, rendezvousWinner } from './fire-once.js'
import { TriggerStore } from './trigger-store.js'

export interface TriggerServiceInit {
  datastore: Datastore
  logger: ComponentLogger
  self: string
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
  cron: Cron | undefined
  lastFiredAt: number | undefined
}

const HOOKS_PATH = '/hooks/'
const MAX_HOOK_BODY_BYTES = 1024 * 1024

export class TriggerService {
  private readonly init: TriggerServiceInit
  private readonly log: Logger
  private readonly store: TriggerStore
  private readonly active = new Map<string, Active>()
  readonly hookStats: HookStats = { accepted: 0, unauthenticated: 0, badSignature: 0, notJson: 0 }
  private readonly pending = new Set<NodeJS.Timeout>()
  private unmount: (() => void) | undefined
  private running = false

  constructor(init: TriggerServiceInit) {
    this.init = init
    this.log = init.logger.forComponent('horus:coordinator:triggers')
    this.store = new TriggerStore(init.datastore)
  }

  async start(): Promise<void> {
    this.running = true
    const stored = await this.store.all((key, problem) =>
      this.log.error('trigger %s ignored: %s', key, problem),
    )
    const configured: TriggerDefinition[] = []
    for (const trigger of this.init.configured) {
      try {
        configured.push({ ...trigger, registration: this.init.sign(trigger) })
      } catch (err) {
        this.log.error('trigger %s ignored: %s', trigger.name, (err as Error).message)
      }
    }
    for (const trigger of configured) {
      if (trigger.kind === 'http' && trigger.secret === undefined)
        this.log('hook %s has no secret: only calls with the gateway token can fire it', trigger.name)
    }
    const usable = stored.filter((trigger) => {
      const problem = this.init.problem(trigger)
      if (problem !== undefined) this.log.error('trigger %s ignored: %s', trigger.name, problem)
      return problem === undefined
    })
    // Registered ones override the config's of the same name: they are newer.
    for (const trigger of [...configured, ...usable]) this.activate(trigger)
    this.unmount = this.init.gateway?.route('POST', HOOKS_PATH, this.onHook, { authenticatesItself: true })
  }

  async stop(): Promise<void> {
    this.running = false
    this.unmount?.()
    this.unmount = undefined
    for (const timer of this.pending) clearTimeout(timer)
    this.pending.clear()
    for (const active of this.active.values()) active.cron?.stop()
  }

  async register(definition: TriggerDefinition): Promise<void> {
    await this.store.put(definition)
    this.activate(definition)
  }

  list(): { name: string; kind: 'cron' | 'http'; schedule?: string; lastFiredAt?: string }[] {
    return [...this.active.values()].map(({ definition, lastFiredAt }) => ({
      name: definition.name,
      kind: definition.kind,
      ...(definition.schedule === undefined ? {} : { schedule: definition.schedule }),
      ...(lastFiredAt === undefined ? {} : { lastFiredAt: new Date(lastFiredAt).toISOString() }),
    }))
  }

  private activate(definition: TriggerDefinition): void {
    this.active.get(definition.name)?.cron?.stop()
    const active: Active = { definition, cron: undefined, lastFiredAt: undefined }
    if (definition.kind === 'cron' && this.running) {
      active.cron = new Cron(
        definition.schedule as string,
        { ...(definition.timezone === undefined ? {} : { timezone: definition.timezone }), protect: true },
        (job: Cron) => this.onTick(active, job.currentRun()?.getTime() ?? Date.now()),
      )
    }
    this.active.set(definition.name, active)
  }

  private onTick(active: Active, at: number): void {
    const name = active.definition.name
    // Ticks are whole seconds in every schedule croner accepts; rounding absorbs firing jitter.
    const tick = Math.round(at / 1000) * 1000
    const runId = cronRunId(name, tick)
    const winner = rendezvousWinner(`${name}/${tick}`, [this.init.self, ...this.init.liveCoordinators()])
    if (winner === this.init.self) {
      this.fire(active, runId, tick).catch(() => {})
      return
    }
    const timer = setTimeout(() => {
      this.pending.delete(timer)
      if (this.running && !this.init.hasRun(runId)) {
        this.log('cron tick %s not started by %s: starting it here', runId, winner)
        this.fire(active, runId, tick).catch(() => {})
      }
    }, this.init.fallbackMs)
    timer.unref()
    this.pending.add(timer)
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

function issuesOf(err: HorusError): { issues?: unknown } {
  const issues = (err as { issues?: unknown }).issues
  return issues === undefined ? {} : { issues }
}
