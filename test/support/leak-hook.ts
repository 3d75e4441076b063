import { forget, openResources, setOwner, shownPath, type Owner, type Resource } from './open-resources';

/**
 * A mocha root-hook plugin (.mocharc.json `require`) that fails a test which
 * leaves a gRPC server, a listening server, a gRPC call or channel, or a
 * child process open:
 * - what a test opens, in its body or its beforeEach hooks, must be gone
 *   once the test's own afterEach hooks have run;
 * - what a suite opens in its before/after hooks must be gone once its
 *   after hooks have run (the check is an "after all" hook added last to
 *   every suite).
 * A leak is reported with what it is, what to do, and where it was opened,
 * then closed by force so that the tests after it start clean.
 */

/** How long something being closed may take to finish closing after the hooks. */
const GRACE_MS = 1000;

const testOwners = new WeakMap<Mocha.Test, Owner>();
const suiteOwners = new WeakMap<Mocha.Suite, Owner>();
let runner: Mocha.Runner | undefined;

function ownerOfTest(test: Mocha.Test): Owner {
  let owner = testOwners.get(test);
  if (!owner) {
    owner = { describe: () => `the test "${test.fullTitle()}" (${shownPath(test.file)})` };
    testOwners.set(test, owner);
  }
  return owner;
}

function ownerOfSuite(suite: Mocha.Suite): Owner {
  let owner = suiteOwners.get(suite);
  if (!owner) {
    owner = suite.root
      ? { describe: () => 'the root suite (a root-level hook)' }
      : { describe: () => `a before/after hook of the suite "${suite.fullTitle()}" (${shownPath(suite.file)})` };
    suiteOwners.set(suite, owner);
  }
  return owner;
}

/** Waits up to GRACE_MS for `resources` to finish closing; returns those still open. */
async function stillOpen(resources: Resource[]): Promise<Resource[]> {
  const deadline = Date.now() + GRACE_MS;
  let left = resources.filter((r) => r.isOpen());
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    left = left.filter((r) => r.isOpen());
  }
  return left;
}

/** The failure for `leaks`, closing each of them by force. */
function leakError(leaks: Resource[], by: string, when: string): Error {
  const lines = leaks.map(
    (leak, i) =>
      `  ${i + 1}. ${leak.what}, opened by ${leak.owner.describe()}:\n` +
      `${leak.where.replace(/^/gm, '       ')}\n` +
      `     To fix: ${leak.howToClose}.`,
  );
  for (const leak of leaks) {
    try {
      leak.forceClose();
    } catch {
      // Reported either way; closing is only a courtesy to the tests that follow.
    }
    forget(leak);
  }
  const message = [
    `${by} left ${leaks.length === 1 ? 'this' : `these ${leaks.length}`} open ${when}:`,
    ...lines,
    '  (the leak check has closed them by force, so what runs next starts clean)',
  ].join('\n');
  const error = new Error(message);
  error.stack = message;
  return error;
}

/** Root hooks, run by mocha for every test. */
export const mochaHooks = {
  /** Root afterEach hooks run after every afterEach hook of the test's own suites. */
  async afterEach(this: Mocha.Context): Promise<void> {
    const test = this.currentTest;
    if (!test) return;
    const owner = ownerOfTest(test);
    const leaks = await stillOpen(openResources(owner));
    setOwner(test.parent ? ownerOfSuite(test.parent) : undefined);
    if (leaks.length === 0) return;
    const error = leakError(leaks, 'the test', 'after its afterEach hooks ran; close each in the test or in an afterEach hook');
    if (test.state === 'failed') {
      // One failure per test is enough; the leak is likely the failure's consequence.
      process.stderr.write(`\n    also, ${error.message.replace(/\n/g, '\n    ')}\n`);
      return;
    }
    if (!runner) throw error;
    // A failing root hook would stop the whole run; failing the test lets the others run.
    if (test.state === 'passed' && runner.stats) runner.stats.passes -= 1;
    (runner as unknown as { fail(test: Mocha.Test, err: Error): void }).fail(test, error);
  },
};

/**
 * Mocha calls this with the runner before the run: the runner's events say
 * which suite or test is running, so that what is opened gets an owner.
 */
export function mochaGlobalSetup(this: Mocha.Runner): void {
  runner = this;
  const suites: Mocha.Suite[] = [];
  runner.on('suite', (suite: Mocha.Suite) => {
    suites.push(suite);
    const owner = ownerOfSuite(suite);
    setOwner(owner);
    suite.afterAll('leak check: nothing this suite’s hooks opened is left open', async function () {
      // The root suite's check, the last of the run, also takes what was opened outside any suite.
      const leaks = await stillOpen(suite.root ? openResources() : openResources(owner));
      if (leaks.length > 0) throw leakError(leaks, suite.root ? 'the run' : 'the suite', 'after its after hooks ran; close each in an after hook of the suite that opened it');
    });
  });
  runner.on('suite end', () => {
    suites.pop();
    const parent = suites[suites.length - 1];
    setOwner(parent ? ownerOfSuite(parent) : undefined);
  });
  runner.on('test', (test: Mocha.Test) => setOwner(ownerOfTest(test)));
}
