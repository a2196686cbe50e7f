/**
 * Triggers start workflow runs: `cron` on a schedule (croner), `http` on `POST /hooks/<name>` at
 * the node's gateway (the JSON body is merged over the trigger's inputs; the answer is
 * `{ runId }`). They come from the config (`coordinator.triggers`) and from
 * `coordinator.register_trigger`, which persists them. A cron tick fires once across all
 * coordinators: see fire-once.ts.
 */
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
import type { TriggerDefinition } from './definition.js'
import { cronRunId, rendezvousWinner } from './fire-once.js'
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
  /** Starts a run (with this id when given); resolves with its id. */
  start(trigger: TriggerDefinition, inputs: Record<string, unknown>, runId?: string): Promise<string>
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
    // Registered ones override the config's of the same name: they are newer.
    for (const trigger of [...this.init.configured, ...stored]) this.activate(trigger)
    this.unmount = this.init.gateway?.route('POST', HOOKS_PATH, this.onHook)
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
      this.fire(active, runId).catch(() => {})
      return
    }
    const timer = setTimeout(() => {
      this.pending.delete(timer)
      if (this.running && !this.init.hasRun(runId)) {
        this.log('cron tick %s not started by %s: starting it here', runId, winner)
        this.fire(active, runId).catch(() => {})
      }
    }, this.init.fallbackMs)
    timer.unref()
    this.pending.add(timer)
  }

  /** Starts a run of the trigger's workflow; the outcome is logged here (callers may also await it). */
  private fire(active: Active, runId?: string, inputs: Record<string, unknown> = {}): Promise<string> {
    active.lastFiredAt = Date.now()
    const run = this.init.start(active.definition, { ...active.definition.inputs, ...inputs }, runId)
    run.then(
      (id) => this.log('trigger %s started run %s', active.definition.name, id),
      (err: Error) =>
        this.log.error('trigger %s did not start a run: %s', active.definition.name, err.message),
    )
    return run
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
    let inputs: Record<string, unknown> = {}
    try {
      const body = await readBody(req, MAX_HOOK_BODY_BYTES)
      if (body.byteLength > 0) {
        if (!isJsonContent(req)) {
          sendError(res, 415, 'UnsupportedMediaType', 'expected a JSON body (content-type: application/json)')
          return
        }
        const parsed: unknown = JSON.parse(body.toString('utf8'))
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
          sendError(res, 400, 'InvalidInputs', 'expected a JSON object of run inputs')
          return
        }
        inputs = parsed as Record<string, unknown>
      }
    } catch (err) {
      if (err instanceof BodyTooLargeError) sendError(res, 413, 'BodyTooLarge', err.message)
      else sendError(res, 400, 'InvalidJson', (err as Error).message)
      return
    }
    try {
      sendJson(res, 200, { runId: await this.fire(active, undefined, inputs) })
    } catch (err) {
      if (err instanceof HorusError)
        sendJson(res, 400, { error: { name: err.name, message: err.message, ...issuesOf(err) } })
      else throw err
    }
  }
}

function issuesOf(err: HorusError): { issues?: unknown } {
  const issues = (err as { issues?: unknown }).issues
  return issues === undefined ? {} : { issues }
}
