/**
 * The BullMQ side's worker process for `npm run bench -- vs-bullmq`: one `Worker` with the given
 * concurrency on the given queue, either an in-process no-op processor or a sandboxed processor
 * file (BullMQ runs it in child processes). Prints `ready` once the worker is running; exits on
 * SIGTERM after closing the worker.
 *
 * argv: <redis port> <queue name> <concurrency> <noop|sandboxed>
 */
import { EventEmitter } from 'node:events'
import { fileURLToPath } from 'node:url'
import { Worker } from 'bullmq'

const [portText, queue, concurrencyText, mode] = process.argv.slice(2)
const port = Number(portText)
const concurrency = Number(concurrencyText)
if (!Number.isInteger(port) || queue === undefined || !Number.isInteger(concurrency)) {
  process.stderr.write('usage: bullmq-worker <redis port> <queue> <concurrency> <noop|sandboxed>\n')
  process.exit(2)
}
// A sandboxed worker with 32 slots pipes 32 child processes through shared emitters; Node's
// default of 10 listeners would only print false leak warnings.
EventEmitter.defaultMaxListeners = concurrency * 2
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null }
const processor =
  mode === 'sandboxed'
    ? fileURLToPath(new URL('./bullmq-sandboxed-processor.js', import.meta.url))
    : async (): Promise<null> => null
const worker = new Worker(queue, processor, { connection, concurrency, autorun: true })
await worker.waitUntilReady()
process.stdout.write('ready\n')
process.once('SIGTERM', () => {
  worker.close().then(
    () => process.exit(0),
    () => process.exit(1),
  )
})
