/**
 * The demo workflow: the seed's data pipeline (fetch → process → store) with a parallel fan-out of
 * three statistics and an aggregate step between process and store.
 */
export function demoWorkflow(fetchUrl: string): string {
  return `workflow:
  name: "demo-data-pipeline"
  steps:
    - id: "fetch"
      runner: "hero"
      payload: "!!http.get url:'${fetchUrl}'"
    - id: "process"
      runner: "sal"
      depends_on: ["fetch"]
      payload: |
        let data = input.fetch;
        let processed = process_data(data);
        processed
    - id: "minimum"
      runner: "sal"
      depends_on: ["process"]
      payload: |
        ({ min: Math.min(...input.process.values) })
    - id: "maximum"
      runner: "sal"
      depends_on: ["process"]
      payload: |
        ({ max: Math.max(...input.process.values) })
    - id: "mean"
      runner: "sal"
      depends_on: ["process"]
      payload: |
        let v = input.process.values;
        ({ mean: v.reduce((a, b) => a + b, 0) / v.length })
    - id: "aggregate"
      runner: "sal"
      depends_on: ["process", "minimum", "maximum", "mean"]
      payload: |
        ({ sensors: input.process.count, ...input.minimum, ...input.maximum, ...input.mean })
    - id: "store"
      runner: "osiris"
      depends_on: ["aggregate"]
      payload: |
        let model = osiris.model("results");
        model.create(input.aggregate);
`
}
