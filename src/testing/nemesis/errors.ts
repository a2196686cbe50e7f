import { HorusError } from '../../core/errors.js'

/** A namespace, interface or firewall operation failed; the message quotes the command. */
export class NetLabError extends HorusError {
  static override readonly code = 'NET_LAB_FAILED'
}

/** The machine cannot run the nemesis harness; the message says what to install or change. */
export class NemesisSetupError extends HorusError {
  static override readonly code = 'NEMESIS_SETUP'
}
