import { inject } from 'vitest'

/** Headless Chromium flags for CI containers: no sandbox, no GPU, no network side traffic. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/**
 * The Chromium the browser project's global set-up found or installed (`test/browser-setup.ts`).
 * Missing is a failure, not a skip: the dashboard acceptance test runs wherever the suite runs.
 */
export function chromiumPath(): string {
  return inject('chromium')
}

/** `#rrggbb` → [r, g, b]. */
function rgb(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16)
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255]
}

export interface Region {
  /** CSS pixels relative to the screenshotted element. */
  x: number
  y: number
  width: number
  height: number
}

/**
 * The share of the pixels of each region of a PNG screenshot (of an element) that have `color`
 * (within a small tolerance), and the share of all its pixels that are not the page background.
 * Decoded by the browser itself (an <img> drawn on a canvas), so the test needs no PNG library.
 */
export async function pixelShares(
  page: import('playwright-core').Page,
  png: Buffer,
  regions: Array<Region & { color: string }>,
  background = '#ffffff',
): Promise<{ regions: number[]; painted: number }> {
  const arg = JSON.stringify({
    data: png.toString('base64'),
    regions: regions.map((r) => ({ ...r, rgb: rgb(r.color) })),
    background: rgb(background),
  })
  // Browser code, as text: this project's TypeScript has no DOM types.
  return page.evaluate(`(async ({ data, regions, background }) => {
    const img = new Image()
    img.src = 'data:image/png;base64,' + data
    await img.decode()
    const canvas = document.createElement('canvas')
    canvas.width = img.naturalWidth
    canvas.height = img.naturalHeight
    const ctx = canvas.getContext('2d')
    ctx.drawImage(img, 0, 0)
    const scale = window.devicePixelRatio || 1
    const near = (a, b) => a.every((v, i) => Math.abs(v - b[i]) <= 12)
    const share = (x, y, w, h, match) => {
      const px = ctx.getImageData(Math.round(x * scale), Math.round(y * scale),
        Math.max(1, Math.round(w * scale)), Math.max(1, Math.round(h * scale))).data
      let hits = 0
      for (let i = 0; i < px.length; i += 4) if (match([px[i], px[i + 1], px[i + 2]])) hits++
      return hits / (px.length / 4)
    }
    return {
      regions: regions.map((r) => share(r.x, r.y, r.width, r.height, (p) => near(p, r.rgb))),
      painted: share(0, 0, canvas.width / scale, canvas.height / scale, (p) => !near(p, background)),
    }
  })(${arg})`)
}
