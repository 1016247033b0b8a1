/** `ssas repair FILE...`: completes MP4/F4V recordings interrupted by a crash, from their `.idx` sidecar. */
import chalk from 'chalk';
import * as fs from 'node:fs';
import { repairMp4File, sidecarPath } from '../media/file-writer';
import { isSsasError } from '../errors';
import { formatHelp, parseArgs, type CommandSpec } from './args';
import { printError, printLine } from './output';

export const repairSpec: CommandSpec = {
  name: 'repair',
  summary: 'Complete MP4/F4V recordings that a crash interrupted (uses the <file>.idx index written while recording).',
  usage: 'ssas repair FILE [FILE...]',
  options: [],
  details: [
    'While ssas records mp4: streams it appends an index of every sample to <file>.idx and writes the',
    'moov box when the recording stops. If the server died first, the file has media but no moov;',
    '`ssas repair` rebuilds it from the index (samples whose bytes never reached the disk are dropped)',
    'and removes the index.',
  ].join('\n'),
};

export async function repairCommand(argv: string[]): Promise<number> {
  const args = parseArgs(repairSpec, argv);
  if (args.help || args.positionals.length === 0) {
    printLine(formatHelp(repairSpec));
    return args.help ? 0 : 1;
  }
  let failed = 0;
  for (const file of args.positionals) {
    const idx = sidecarPath(file);
    if (!fs.existsSync(idx)) {
      printError(`${file}: no index ${idx} (nothing to repair: the recording was closed cleanly, or it is not an ssas recording)`);
      failed++;
      continue;
    }
    try {
      const r = await repairMp4File(file, idx);
      printLine(`${chalk.green('repaired')} ${file}: ${r.samples} samples kept${r.droppedSamples ? `, ${r.droppedSamples} incomplete dropped` : ''}`);
    } catch (err) {
      printError(`${file}: ${isSsasError(err) ? `${err.message} [${err.code}]` : (err as Error).message}`);
      failed++;
    }
  }
  return failed === 0 ? 0 : 1;
}
