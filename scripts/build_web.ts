/**
 * Bundles the web page (`npm run build` runs this after tsc): the worker (src/web/browser/worker.ts,
 * the same core as the CLI, with tfjs-backend-wasm's binaries inside) and the page script that
 * starts it from a string, into one classic script, dist/web/app.js, which works from file://
 * (no modules, no fetch, no second file to load). `lungtumor web` copies it into a site.
 *
 * The core's Node-only modules (files, threads, zlib) stay out of the page's path; their imports
 * resolve to stand-ins that throw if ever called, so a browser never runs half of a Node function.
 * Node's Buffer comes from the `buffer` package.
 *
 *   node dist/scripts/build_web.js [--out DIR]
 */
import { build, type Plugin } from 'esbuild';
import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../src/pipeline/model-folder.js';

/** Names each `node:` module is imported with anywhere in the sources (they get stand-ins). */
function nodeImports(root: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) {
        const text = readFileSync(p, 'utf8');
        for (const m of text.matchAll(/import\s+(type\s+)?\{([^}]*)\}\s+from\s+'node:([\w/]+)'/g)) {
          if (m[1]) continue;
          const names = out.get(m[3]!) ?? new Set<string>();
          for (const part of m[2]!.split(',')) {
            const name = part.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]!.trim();
            if (name && !part.trim().startsWith('type ')) names.add(name);
          }
          out.set(m[3]!, names);
        }
        for (const m of text.matchAll(/import\s+(?:\*\s+as\s+)?\w+\s+from\s+'node:([\w/]+)'/g)) {
          if (!out.has(m[1]!)) out.set(m[1]!, new Set());
        }
      }
    }
  };
  for (const d of ['src', 'gpu-kernels']) walk(join(root, d));
  return out;
}

function nodeStandIns(root: string): Plugin {
  const imports = nodeImports(root);
  return {
    name: 'node-stand-ins',
    setup(b) {
      b.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path.slice(5), namespace: 'node-stand-in' }));
      // Packages that try a bare builtin (random-js: require("crypto") inside a try) get one too.
      // 'buffer' is left to the npm package of that name (Node's Buffer for the browser).
      const bare = new RegExp(`^(${builtinModules.filter((m) => m !== 'buffer').map((m) => m.replace(/[/]/g, '\\/')).join('|')})$`);
      b.onResolve({ filter: bare }, (args) => ({ path: args.path, namespace: 'node-stand-in' }));
      b.onLoad({ filter: /.*/, namespace: 'node-stand-in' }, (args) => {
        const lines = [`const missing = (name) => () => { throw new Error('node:${args.path} ' + name + ' is not available in the browser'); };`];
        for (const name of imports.get(args.path) ?? []) {
          lines.push(name === 'constants' ? 'export const constants = {};' : `export const ${name} = missing('${name}');`);
        }
        lines.push('export default {};');
        return { contents: lines.join('\n'), loader: 'js' };
      });
    },
  };
}

/** Packages imported only on Node-only paths (native addons, training's tfjs umbrella, threads). */
const NODE_ONLY = ['webgpu', '@tensorflow/tfjs', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'worker-threads-pool'];

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
    plugins: [nodeStandIns(root)],
    inject: [join(root, 'src/web/browser/buffer-global.ts')],
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
