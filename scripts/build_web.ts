/**
 * Bundles the web page (`npm run build` runs this after tsc): the worker (src/web/browser/worker.ts,
 * the same core as the CLI, with tfjs-backend-wasm's binaries inside) and the page script that
 * starts it from a string, into one classic script, dist/web/app.js, which works from file://
 * (no modules, no fetch, no second file to load). `lungtumor web` copies it into a site.
 *
 * The worker takes the core's pure modules only: the build fails if anything it reaches imports
 * one of Node's modules (see nodeFree).
 *
 *   node dist/scripts/build_web.js [--out DIR]
 */
import { build, type Plugin } from 'esbuild';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../src/pipeline/model-folder.js';

/**
 * Keeps Node out of the page. An import of a `node:` module (how our sources import Node) fails the
 * build, naming the importer: the core reached from the worker must not touch files, threads or
 * zlib. Packages that require a bare builtin on a path the page never takes (random-js's
 * require("crypto") inside a try, dicom-parser's zlib for deflated files, tfjs-core's Node
 * platform) get an empty stand-in.
 */
function nodeFree(): Plugin {
  return {
    name: 'node-free',
    setup(b) {
      b.onResolve({ filter: /^node:/ }, (args) => ({
        errors: [{ text: `${args.importer} imports ${args.path}: Node-only code must stay out of the web page (move it behind an interface; see src/core/folder.ts, src/features/threads.ts)` }],
      }));
      const bare = new RegExp(`^(${builtinModules.map((m) => m.replace(/[/]/g, '\\/')).join('|')})$`);
      b.onResolve({ filter: bare }, (args) => ({ path: args.path, namespace: 'node-stand-in' }));
      b.onLoad({ filter: /.*/, namespace: 'node-stand-in' }, () => ({ contents: 'module.exports = {};', loader: 'js' }));
    },
  };
}

/** Training's tfjs umbrella, which backend.ts imports by name for the gradients; inference never loads it. */
const NODE_ONLY = ['@tensorflow/tfjs'];

async function buildWebBundle(root: string, outDir: string): Promise<string> {
  const require = createRequire(join(root, 'package.json'));
  const wasmDir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  const wasm = {
    plain: readFileSync(join(wasmDir, 'tfjs-backend-wasm.wasm')).toString('base64'),
    simd: readFileSync(join(wasmDir, 'tfjs-backend-wasm-simd.wasm')).toString('base64'),
  };
  const common = {
    bundle: true,
    platform: 'browser' as const,
    format: 'iife' as const,
    target: 'es2022',
    minify: true,
    legalComments: 'none' as const,
    write: false,
    logLevel: 'error' as const,
    external: NODE_ONLY,
    plugins: [nodeFree()],
    absWorkingDir: root,
  };
  const worker = await build({ ...common, entryPoints: [join(root, 'src/web/browser/worker.ts')], define: { LUNGTUMOR_WASM: JSON.stringify(wasm) } });
  const page = await build({
    ...common,
    entryPoints: [join(root, 'src/web/browser/page.ts')],
    define: { LUNGTUMOR_WORKER_SOURCE: JSON.stringify(worker.outputFiles![0]!.text) },
  });
  mkdirSync(outDir, { recursive: true });
  const target = join(outDir, 'app.js');
  writeFileSync(`${target}.tmp`, page.outputFiles![0]!.contents);
  renameSync(`${target}.tmp`, target);
  return target;
}

const { values } = parseArgs({ options: { out: { type: 'string' } } });
const root = packageRoot();
const target = await buildWebBundle(root, values.out ?? join(root, 'dist', 'web'));
process.stdout.write(`web bundle: ${target} (${(readFileSync(target).length / 1e6).toFixed(2)} MB)\n`);
