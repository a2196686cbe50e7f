import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** Sensor readings the demo pipeline fetches: a stand-in for "https://api.example.com/data". */
export const DEMO_READINGS = {
  source: 'horus-demo',
  readings: [
    { sensor: 'north', value: 12.5 },
    { sensor: 'south', value: 17.25 },
    { sensor: 'east', value: 9.75 },
    { sensor: 'west', value: 21 },
    { sensor: 'roof', value: 14.5 },
  ],
}

/** A loopback HTTP server answering `GET /data` with the demo readings. */
export class FixtureServer {
  private server: Server | undefined

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      if (req.method === 'GET' && req.url === '/data') {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify(DEMO_READINGS))
        return
      }
      res.writeHead(404).end()
    })
    const server = this.server
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/data`
  }

  async stop(): Promise<void> {
    const server = this.server
    if (server === undefined) return
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
