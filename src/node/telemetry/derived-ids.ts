/**
 * The SDK's id generator, with one override: the next span started may be given its ids. Spans
 * whose ids are derived (a run's root span, the first span of an ad-hoc job's trace) are started
 * through `NodeTracing.startRoot`, which sets them just before the synchronous `startSpan` call
 * and clears them just after, so no other span can take them.
 */
import { type IdGenerator, RandomIdGenerator } from '@opentelemetry/sdk-trace'

export class DerivedIds implements IdGenerator {
  private readonly random = new RandomIdGenerator()
  private traceId: string | undefined
  private spanId: string | undefined

  /** Ids for the next span started; `clear()` right after starting it. */
  set(traceId: string, spanId?: string): void {
    this.traceId = traceId
    this.spanId = spanId
  }

  clear(): void {
    this.traceId = undefined
    this.spanId = undefined
  }

  generateTraceId(): string {
    return this.traceId ?? this.random.generateTraceId()
  }

  generateSpanId(): string {
    return this.spanId ?? this.random.generateSpanId()
  }
}
