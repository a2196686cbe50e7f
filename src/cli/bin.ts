#!/usr/bin/env node
import '../node/polyfills.js'
import { main } from './main.js'
import { toleratePipeClose } from './output.js'

toleratePipeClose()

process.exitCode = await main(process.argv.slice(2))
// A stopped node leaves nothing running; if a stray handle still holds the loop, do not hang the
// user's terminal. The timer is unref'd, so it never delays a clean exit.
setTimeout(() => process.exit(), 5_000).unref()
