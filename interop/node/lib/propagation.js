'use strict';
// Shared helpers for the propagation scripts (see interop/python/_propagation.py, same modes):
//   node <script> headers              print the headers the tracer injects for a few spans
//   node <script> read <to-tracers>    print what the tracer extracts from kiseki's headers
const fs = require('fs');

function lowercase(headers) {
  const out = {};
  for (const name of Object.keys(headers).sort()) out[name.toLowerCase()] = String(headers[name]);
  return out;
}

function makeCase(name, description, span, headers) {
  return { name, description, span, headers: lowercase(headers) };
}

function kisekiCases(path) {
  return JSON.parse(fs.readFileSync(path, 'utf8')).cases.map((c) => [c.name, c.headers]);
}

async function main(tracer, headersFn, readFn) {
  const [mode = 'headers', ...args] = process.argv.slice(2);
  let cases;
  if (mode === 'headers') cases = await headersFn();
  else if (mode === 'read') cases = await readFn(...args);
  else throw new Error(`unknown mode ${mode}; use 'headers' or 'read <file>'`);
  process.stdout.write(JSON.stringify({ tracer, cases }, null, 1) + '\n');
}

module.exports = { makeCase, kisekiCases, main };
