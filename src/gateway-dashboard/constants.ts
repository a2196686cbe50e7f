/** Where the dashboard's files are served; the page itself is `/`. */
export const DASHBOARD_ASSET_PREFIX = '/dashboard'

/** The dashboard's own files, by URL name → file name under `assets/`, with their content type. */
export const DASHBOARD_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  'app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  'dag.js': { file: 'dag.js', type: 'text/javascript; charset=utf-8' },
  'timeline.js': { file: 'timeline.js', type: 'text/javascript; charset=utf-8' },
  'style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
}

/** dagre's browser bundle, shipped from node_modules (no CDN). */
export const DAGRE_BUNDLE = 'dagre/dist/dagre.min.js'
