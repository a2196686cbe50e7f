import { HorusError } from '../core/errors.js'

/** The dashboard's files are not where the package put them (a broken install or build). */
export class DashboardAssetsMissingError extends HorusError {
  static override readonly code = 'DASHBOARD_ASSETS_MISSING'

  constructor(looked: readonly string[]) {
    super(`dashboard assets not found; looked in: ${looked.join(', ')}`)
  }
}
