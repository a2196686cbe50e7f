/**
 * Where registered triggers persisted before they were replicated
 * (`/horus/coordinator/triggers/<name>`): read once at start, moved into the replicated set
 * (trigger-replica.ts), and deleted.
 */
import { type Datastore, Key } from 'interface-datastore'
import { readTriggerDefinition, type TriggerDefinition } from './definition.js'

const PREFIX = '/horus/coordinator/triggers'
const encoder = new TextEncoder()
const decoder = new TextDecoder()

export class TriggerStore {
  constructor(private readonly datastore: Datastore) {}

  async put(trigger: TriggerDefinition): Promise<void> {
    await this.datastore.put(new Key(`${PREFIX}/${trigger.name}`), encoder.encode(JSON.stringify(trigger)))
  }

  async delete(name: string): Promise<void> {
    await this.datastore.delete(new Key(`${PREFIX}/${name}`))
  }

  /** Every stored trigger that still reads as valid (an unreadable one is reported and skipped). */
  async all(onInvalid: (key: string, problem: string) => void): Promise<TriggerDefinition[]> {
    const out: TriggerDefinition[] = []
    for await (const { key, value } of this.datastore.query({ prefix: PREFIX })) {
      let raw: unknown
      try {
        raw = JSON.parse(decoder.decode(value))
      } catch (err) {
        onInvalid(key.toString(), (err as Error).message)
        continue
      }
      const read = readTriggerDefinition(raw, key.toString())
      if (read.ok) out.push(read.trigger)
      else onInvalid(key.toString(), read.issues.join('; '))
    }
    return out
  }
}
