/**
 * One logging mechanism for the whole runtime: libp2p's component logger, so Horus components and
 * the libp2p internals they drive are switched on the same way (`DEBUG=horus:*`, `DEBUG=libp2p:*`).
 * Each component takes `logger.forComponent('horus:<name>')`; tests give each node a prefix.
 */

import type { ComponentLogger, Logger } from '@libp2p/interface'
import { defaultLogger, prefixLogger } from '@libp2p/logger'

export type { ComponentLogger, Logger }

/** The process-wide logger, or one whose lines start with `prefix` (one per node in a test). */
export function createLogger(prefix?: string): ComponentLogger {
  return prefix === undefined ? defaultLogger() : prefixLogger(prefix)
}
