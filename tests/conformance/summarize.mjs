// Tallies a cache-tests.fyi result file by test kind (required / optimal / check), next to the
// results the suite ships for other caches. A test counts as the suite's own report shows it
// (lib/display.mjs, dependencies honoured): passed, failed, or not run (its setup failed, or a
// behaviour it depends on is absent). Usage: node summarize.mjs <suite dir> <ours.json>
import fs from 'fs'
import path from 'path'

const [suiteDir, ours] = process.argv.slice(2)
const { default: tests } = await import(path.resolve(suiteDir, 'tests/index.mjs'))
const { default: surrogate } = await import(path.resolve(suiteDir, 'tests/surrogate-control.mjs'))
const { determineTestResult } = await import(path.resolve(suiteDir, 'lib/display.mjs'))
tests.push(surrogate)
const kinds = {}
for (const suite of tests) for (const test of suite.tests) kinds[test.id] = test.kind || 'required'

function tally (file) {
  const results = JSON.parse(fs.readFileSync(file))
  const counts = { required: [0, 0, 0], optimal: [0, 0, 0], check: [0, 0, 0] }
  const failures = []
  for (const id of Object.keys(kinds)) {
    const kind = kinds[id]
    const [, , symbol] = determineTestResult(tests, id, results)
    const outcome = symbol === '✅' || symbol === 'Y' ? 0 : symbol === '⛔️' || symbol === '⚠️' || symbol === 'N' ? 1 : 2
    counts[kind][outcome]++
    if (outcome === 1 && kind === 'required') failures.push(`${id}: ${results[id][1]}`)
  }
  return { counts, failures }
}

const rows = [['Strata', ours]]
for (const name of ['squid', 'apache', 'trafficserver', 'varnish', 'nginx']) {
  rows.push([`${name} (shipped)`, `${suiteDir}/results/${name}.json`])
}
console.log('cache                   required pass/fail/not run   optimal pass/fail/not run   check yes/no/not run')
for (const [name, file] of rows) {
  const { counts } = tally(file)
  const cell = (numbers) => numbers.join('/').padEnd(29)
  console.log(`${name.padEnd(24)}${cell(counts.required)}${cell(counts.optimal)}${cell(counts.check)}`)
}
const { failures } = tally(ours)
console.log(`\nStrata's failing required tests (${failures.length}):`)
for (const failure of failures) console.log(`  ${failure}`)
