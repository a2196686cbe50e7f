/**
 * `node counter-main.js <host> <port>`: runs the CounterService until SIGTERM; prints its URL as
 * the first line of stdout once it listens. Started inside the counter's network namespace.
 */
import { CounterService } from './counter-service.js'

const [host = '0.0.0.0', port = '0'] = process.argv.slice(2)
const counter = new CounterService()
const url = await counter.listen(host, Number(port))
process.stdout.write(`${JSON.stringify({ url })}\n`)
process.once('SIGTERM', () => {
  counter.close().then(
    () => process.exit(0),
    () => process.exit(1),
  )
})
