import type { Command } from '../command.js';
import { parseCommandArgs } from '../command.js';

export const synthCommand: Command = {
  name: 'synth',
  summary: '(not yet implemented)',
  usage: 'usage: lungtumor synth',
  async run(args) {
    if (!parseCommandArgs(synthCommand, args, {})) return 0;
    process.stderr.write('lungtumor synth: not yet implemented\n');
    return 1;
  },
};
