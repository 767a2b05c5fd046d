// A Secret or ConfigMap volume the way the kubelet writes it (its AtomicWriter): the files live in a
// timestamped directory, `..data` links to it, and each file name links into `..data`. An update writes a
// new directory and swaps `..data` with one rename, so a reader sees the old set or the new set, never a
// mix, and the paths it was given stay the same. What the pods' certificate reload relies on.
import { chmodSync, existsSync, lstatSync, mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

let generation = 0;

/** Writes (or atomically replaces) `files` in `dir` in the kubelet's layout; `mode` applies to each file. */
export function writeVolumeFiles(dir: string, files: Readonly<Record<string, string>>, mode = 0o644): void {
  mkdirSync(dir, { recursive: true });
  const link = path.join(dir, '..data');
  const previous = existsSync(link) ? readlinkSync(link) : undefined;
  const timestamped = `..${new Date().toISOString().replace(/[-:.]/g, '_')}.${process.pid}.${++generation}`;
  mkdirSync(path.join(dir, timestamped));
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, timestamped, name);
    writeFileSync(file, content);
    chmodSync(file, mode);
  }
  const staged = path.join(dir, '..data_tmp');
  rmSync(staged, { force: true });
  symlinkSync(timestamped, staged);
  renameSync(staged, link);
  for (const name of Object.keys(files)) {
    const visible = path.join(dir, name);
    if (!isSymlink(visible)) symlinkSync(path.join('..data', name), visible);
  }
  if (previous !== undefined) rmSync(path.join(dir, previous), { recursive: true, force: true });
}

function isSymlink(file: string): boolean {
  try {
    return lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}
