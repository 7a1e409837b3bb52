import { chmodSync, lstatSync, mkdirSync, readdirSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';

const GROUP_AND_OTHERS = 0o077;

/**
 * Makes `dir` (DATA_DIR) and everything in it readable by this user only: the directory
 * 0700, and group and other bits taken off every file and directory below. The embedded
 * database's files hold webhook secrets (its WAL too), and PGlite sets their modes itself:
 * the ones it unpacks from its bundled cluster are 0666 and its relcache files 0644
 * whatever the umask, so the umask cannot do this. Run before the database opens (a
 * directory left wide by an older version) and after it opens and closes (the files it
 * wrote); in between the 0700 directory keeps other users out of every file in it.
 * Links below DATA_DIR are not followed. Throws when the directory cannot be made private.
 */
export function makePrivate(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    // DATA_DIR itself may be a link the operator made (to a volume): its target is meant.
    tighten(dir, statSync(dir));
  } catch (err) {
    throw new Error(
      `DATA_DIR ${dir} cannot be made private (mode 0700): ${(err as Error).message}; ` +
        'give it to the user quotagate runs as',
      { cause: err },
    );
  }
  for (const entry of readdirSync(dir, { recursive: true }) as string[]) {
    const file = path.join(dir, entry);
    try {
      tighten(file, lstatSync(file));
    } catch (err) {
      // Removed while we walked (PGlite deletes temporary files): nothing left to protect.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

function tighten(file: string, stat: Stats): void {
  if (stat.isSymbolicLink() || (stat.mode & GROUP_AND_OTHERS) === 0) return;
  chmodSync(file, stat.mode & 0o7700);
}
