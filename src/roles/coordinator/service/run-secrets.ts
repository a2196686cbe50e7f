/**
 * A run's secrets: steps name the secrets they need (`secrets: [API_KEY]`); the client seals each
 * value to the runners trusted for the capabilities of the steps that use it and passes the sealed
 * forms at submit time; the run keeps only those (in its replicated `meta`), and each step job
 * carries its step's. The coordinator never sees a plaintext.
 */
import type { SealedSecret, SecretRecipient } from '../../../protocols/jobs/index.js'
import type { JsonObject } from '../../../protocols/state/json-value.js'
import { resolveStep } from '../scheduling/map-steps.js'
import { WorkflowInputError } from '../workflow/errors.js'
import type { CompiledWorkflow } from '../workflow/types.js'

/** What a secret of a workflow is used for, and whom to seal it to. */
export interface SecretUse {
  name: string
  /** Ids of the job steps that name it. */
  steps: string[]
  capabilities: string[]
  recipients: SecretRecipient[]
}

/** Every secret the workflow's job steps name, with the steps and capabilities that use it. */
export function secretUses(
  workflow: CompiledWorkflow,
  recipientsFor: (capability: string) => SecretRecipient[] = () => [],
): SecretUse[] {
  const uses = new Map<string, { steps: string[]; capabilities: Set<string> }>()
  for (const step of workflow.steps) {
    if (step.kind !== 'job' || step.runner === undefined) continue
    for (const name of step.secrets) {
      const use = uses.get(name) ?? { steps: [], capabilities: new Set<string>() }
      use.steps.push(step.id)
      use.capabilities.add(step.runner)
      uses.set(name, use)
    }
  }
  return [...uses].map(([name, use]) => {
    const recipients = new Map<string, SecretRecipient>()
    for (const capability of use.capabilities) {
      for (const recipient of recipientsFor(capability)) recipients.set(recipient.key, recipient)
    }
    return {
      name,
      steps: use.steps,
      capabilities: [...use.capabilities],
      recipients: [...recipients.values()],
    }
  })
}

/** Checks the sealed secrets given at submit time against the ones the steps name. */
export function checkRunSecrets(
  workflow: CompiledWorkflow,
  given: Readonly<Record<string, SealedSecret>>,
): void {
  const issues: { path: string; message: string }[] = []
  const uses = secretUses(workflow)
  for (const use of uses) {
    if (!Object.hasOwn(given, use.name)) {
      issues.push({
        path: `secrets.${use.name}`,
        message: `step${use.steps.length === 1 ? '' : 's'} ${use.steps.join(', ')} need${use.steps.length === 1 ? 's' : ''} this secret; pass its value when submitting (SDK: secrets, CLI: --secret ${use.name})`,
      })
    }
  }
  for (const name of Object.keys(given)) {
    if (!uses.some((use) => use.name === name)) {
      issues.push({ path: `secrets.${name}`, message: 'no step of the workflow names this secret' })
    }
  }
  if (issues.length > 0) throw new WorkflowInputError(issues)
}

/** The sealed secrets a step's job (or a for_each child's, `step[i]`) carries, from the run's stored ones. */
export function stepSecrets(
  workflow: CompiledWorkflow,
  stepId: string,
  stored: JsonObject | undefined,
): Record<string, SealedSecret> | undefined {
  const names = resolveStep(workflow, stepId)?.step.secrets ?? []
  if (names.length === 0 || stored === undefined) return undefined
  const out: Record<string, SealedSecret> = {}
  for (const name of names) {
    const sealed = stored[name]
    if (sealed !== undefined) out[name] = sealed as unknown as SealedSecret
  }
  return out
}
