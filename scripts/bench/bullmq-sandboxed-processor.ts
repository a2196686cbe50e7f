/**
 * BullMQ sandboxed processor for the comparison with a Horus `sal` job whose script is `1 + 1`:
 * BullMQ runs this file in a child process and calls the default export per job; it computes the
 * same expression. (Horus runs the script text in a fresh QuickJS context per job; BullMQ's
 * isolation is the child process, reused across jobs.)
 */
export default async function process(): Promise<number> {
  return 1 + 1
}
