// Tallies a cache-tests.fyi result file by test kind (required / optimal / check), next to the
// results the suite ships for other caches. Usage: node summarize.mjs <suite dir> <ours.json>
import fs from 'fs'
import path from 'path'

const [suiteDir, ours] = process.argv.slice(2)
const { default: tests } = await import(path.resolve(suiteDir, 'tests/index.mjs'))
const { default: surrogate } = await import(path.resolve(suiteDir, 'tests/surrogate-control.mjs'))
tests.push(surrogate)
const kinds = {}
for (const suite of tests) for (const test of suite.tests) kinds[test.id] = test.kind || 'required'

function tally (file) {
  const results = JSON.parse(fs.readFileSync(file))
  const counts = { required: [0, 0], optimal: [0, 0], check: [0, 0] }
  const failures = []
  for (const [id, result] of Object.entries(results)) {
    const kind = kinds[id]
    if (!counts[kind]) continue
    // A test whose setup failed did not run (its precondition is another behaviour).
    if (Array.isArray(result) && (result[0] === 'Setup' || result[0] === 'Retry')) continue
    counts[kind][result === true ? 0 : 1]++
    if (result !== true && kind === 'required') failures.push(`${id}: ${result[1]}`)
  }
  return { counts, failures }
}

const rows = [['Strata', ours], ['nginx (shipped)', `${suiteDir}/results/nginx.json`],
  ['Varnish (shipped)', `${suiteDir}/results/varnish.json`], ['Squid (shipped)', `${suiteDir}/results/squid.json`]]
console.log('cache                 required pass/fail   optimal pass/fail   check pass/fail')
for (const [name, file] of rows) {
  const { counts } = tally(file)
  const cell = ([pass, fail]) => `${pass}/${fail}`.padEnd(20)
  console.log(`${name.padEnd(22)}${cell(counts.required)}${cell(counts.optimal)}${cell(counts.check)}`)
}
const { failures } = tally(ours)
console.log(`\nStrata's failing required tests (${failures.length}):`)
for (const failure of failures) console.log(`  ${failure}`)
