import test from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './helpers.js';

test('every command has --help (exit 0) and the top level lists them', () => {
  const top = runCli(['--help']);
  assert.equal(top.status, 0);
  for (const name of ['demo', 'synth', 'features', 'train', 'predict', 'evaluate', 'submit', 'report']) {
    assert.match(top.stdout, new RegExp(`\\n  ${name} `));
    const r = runCli([name, '--help']);
    assert.equal(r.status, 0, `${name} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^usage: lungtumor ${name}`));
  }
});

test('wrong command lines: exit 2 with the problem on the first line', () => {
  const cases: [string[], RegExp][] = [
    [['nope'], /unknown command 'nope'/],
    [['train', '--data', 'x', '--model', 'm', '--device', 'tpu'], /device must be one of auto, gpu, cpu/],
    [['train', '--data', 'x', '--model', 'm', '--config', 'slow'], /--config must be 'default' or 'fast'/],
    [['features', '--out', 'x'], /missing required option --data/],
    [['train', '--data', 'x', '--model', 'm', '--weight', 'y=2'], /--weight y=2: y is not one of the --data folders/],
    [['train', '--data', 'x', '--model', 'm', '--weight', 'x=0'], /--weight must be DIR=N with N a whole number from 1 to 100/],
    [['train', '--data', 'x', '--model', 'm', '--weight', 'x'], /--weight must be DIR=N/],
    [['predict', '--model', 'm', '--input', 'i', '--out', 'o', '--workers=-1'], /--workers must be 0 or more/],
    [['predict', '--model', 'm', '--input', 'i', '--bogus'], /Unknown option '--bogus'/],
  ];
  for (const [args, pattern] of cases) {
    const r = runCli(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr.split('\n')[0]!, pattern);
  }
});
