// Copies the dashboard's static files next to the compiled gateway code, so a built or published
// package serves them without the source tree.
import { cpSync } from 'node:fs'

cpSync('src/gateway-dashboard/assets', 'dist/src/gateway-dashboard/assets', { recursive: true })
