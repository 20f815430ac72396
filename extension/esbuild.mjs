// Bundles the extension into extension/out/extension.js and, with --tests, each test file into
// extension/out/test/ with the `vscode` module replaced by the stub in extension/test/stub/.
import { build } from "esbuild";
import { readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "out");
const production = process.argv.includes("--production");
const withTests = process.argv.includes("--tests");

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  logLevel: "warning",
};

function testFiles(folder) {
  return readdirSync(folder, { recursive: true })
    .filter((name) => name.endsWith(".test.ts"))
    .map((name) => join(folder, name));
}

await build({
  ...common,
  entryPoints: [join(here, "src", "extension.ts")],
  outfile: join(out, "extension.js"),
  external: ["vscode"],
  minify: production,
  sourcemap: !production,
});

if (withTests) {
  const testRoot = join(here, "test");
  await build({
    ...common,
    entryPoints: testFiles(testRoot),
    outdir: join(out, "test"),
    outbase: testRoot,
    alias: { vscode: join(testRoot, "stub", "vscode.mjs") },
    sourcemap: "inline",
  });
  console.log(`built ${relative(process.cwd(), out)} and its tests`);
}
