/**
 * The optional restriction an HTTP caller carries (`Caller.grant`, from config `gateway.grant`).
 * A caller without a grant is limited only by its key's trust entry.
 */
import type { Caller } from './definitions.js'
import { UnauthorizedError } from './errors.js'

/** True when the caller's grant (if any) includes one of `roles`. */
export function grantAllowsRole(caller: Pick<Caller, 'grant'>, roles: readonly string[]): boolean {
  return caller.grant === undefined || roles.some((role) => caller.grant?.roles.includes(role))
}

/** True when the caller's grant (if any) includes `capability` (or `*`). */
export function grantAllowsCapability(caller: Pick<Caller, 'grant'>, capability: string): boolean {
  const granted = caller.grant?.capabilities
  return granted === undefined || granted.includes('*') || granted.includes(capability)
}

/** Throws UnauthorizedError naming the first capability the caller's grant does not include. */
export function assertGrantCovers(caller: Caller, capabilities: Iterable<string>): void {
  for (const capability of capabilities) {
    if (!grantAllowsCapability(caller, capability)) {
      throw new UnauthorizedError(
        `this gateway's grant does not include capability "${capability}" (gateway.grant.capabilities: ${caller.grant?.capabilities.join(', ') || 'none'})`,
      )
    }
  }
}
