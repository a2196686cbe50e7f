/**
 * Runner plugin for the multi-process jobs bench: a `noop` kind that returns `null` at once, so
 * the bench measures the job path (sign, verify, persist, route, RPC hops) and nothing else.
 */
export const kinds = {
  noop: async (): Promise<null> => null,
}
