/**
 * Run by sqlite-store.test.ts as a child process: appends one message to the
 * SQLite file named on the command line, prints "stored <id>" once the append
 * resolved, then idles with the store still open until it is killed.
 */
import { openSqliteStore } from '../../src/store/sqlite-store';

async function main(): Promise<void> {
  const path = process.argv[2];
  if (!path) throw new Error('usage: append-then-wait.js <database file>');
  const store = openSqliteStore(path);
  const ann = (await store.registerUser('ann', Date.now())).user;
  const bob = (await store.registerUser('bob', Date.now())).user;
  const [result] = await store.appendMessages([
    { senderId: ann.id, receiverId: bob.id, clientId: 'before-kill', body: 'still here?', time: Date.now() },
  ]);
  process.stdout.write(`stored ${result.message.id}\n`);
  setInterval(() => undefined, 60_000);
}

main().catch((err) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
