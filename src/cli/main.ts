import { InputError, UsageError } from '../core/errors.js';
import type { Command } from './command.js';
import { synthCommand } from './commands/synth.js';
import { evaluateCommand } from './commands/evaluate.js';
import { submitCommand } from './commands/submit.js';
import { demoCommand } from './commands/demo.js';
import { trainCommand } from './commands/train.js';
import { predictCommand } from './commands/predict.js';
import { featuresCommand } from './commands/features.js';
import { reportCommand } from './commands/report.js';
import { webCommand } from './commands/web.js';

const commands: Command[] = [demoCommand, synthCommand, featuresCommand, trainCommand, predictCommand, evaluateCommand, submitCommand, reportCommand, webCommand];

function topUsage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'lungtumor — finds and outlines the primary lung tumour in a thoracic CT (NIfTI).',
    '',
    'usage: lungtumor <command> [options]     (lungtumor <command> --help for its options)',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
  ].join('\n');
}

/**
 * For process entries: an interrupt (Ctrl-C) or termination ends the process through process.exit,
 * with the shell's usual codes, so 'exit' listeners remove temporary files and folders.
 */
export function exitOnSignals(): void {
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
}

/** Runs the CLI; returns the exit code (0 ok, 1 internal error, 2 bad input or usage). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(topUsage());
    return name === undefined ? 2 : 0;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`lungtumor: unknown command '${name}'\n\n${topUsage()}`);
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (err) {
    if (err instanceof InputError) {
      process.stderr.write(`lungtumor ${cmd.name}: error: ${err.message}\n`);
      return 2;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`lungtumor ${cmd.name}: ${err.message}\n\n${cmd.usage.trimEnd()}\n`);
      return 2;
    }
    process.stderr.write(`lungtumor ${cmd.name}: internal error: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}
