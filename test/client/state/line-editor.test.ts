import { expect } from 'chai';
import { LineEditor } from '../../../src/client/state/line-editor';

describe('LineEditor', () => {
  it('inserts at the cursor and moves over emoji and accented letters as one character', () => {
    const editor = new LineEditor();
    editor.insert('a👍🏽c');
    editor.left();
    editor.left();
    expect(editor.beforeCursor).to.equal('a');
    editor.insert('e\u0301');
    expect(editor.text).to.equal('ae\u0301👍🏽c');
    expect(editor.cursor).to.equal(2);
    editor.deleteForward();
    expect(editor.text).to.equal('ae\u0301c');
    editor.backspace();
    expect(editor.text).to.equal('ac');
  });

  it('joins a combining mark typed after its letter, and a surrogate pair typed in halves', () => {
    const editor = new LineEditor('e');
    editor.insert('\u0301');
    expect(editor.graphemes).to.deep.equal(['e\u0301']);
    editor.insert('\ud83d');
    editor.insert('\ude00');
    expect(editor.graphemes).to.deep.equal(['e\u0301', '😀']);
    expect(editor.cursor).to.equal(2);
  });

  it('moves and deletes by words, and kills to either end like a shell prompt', () => {
    const editor = new LineEditor('send the  release notes');
    editor.wordLeft();
    expect(editor.afterCursor).to.equal('notes');
    editor.wordLeft();
    editor.deleteWordBack();
    expect(editor.text).to.equal('send release notes');
    editor.wordRight();
    expect(editor.beforeCursor).to.equal('send release');
    editor.killToEnd();
    expect(editor.text).to.equal('send release');
    editor.home();
    editor.right();
    editor.killToStart();
    expect(editor.text).to.equal('end release');
    editor.end();
    expect(editor.cursor).to.equal(editor.graphemes.length);
    expect(editor.clear()).to.equal('end release');
    expect(editor.isEmpty).to.equal(true);
  });

  it('places the cursor after a given prefix when the text is replaced', () => {
    const editor = new LineEditor();
    editor.set('/START bob hello', '/START bob ');
    expect(editor.cursor).to.equal(11);
  });
});

/** The fastest of a few runs of `work`, in milliseconds: the least disturbed by other processes. */
function fastestMs(work: () => void, runs = 3): number {
  let best = Infinity;
  for (let i = 0; i < runs; i += 1) {
    const started = process.hrtime.bigint();
    work();
    best = Math.min(best, Number(process.hrtime.bigint() - started) / 1e6);
  }
  return best;
}

describe('LineEditor with long text', () => {
  const pasteOf = (n: number) => Array.from({ length: n }, (_, i) => 'abcdefghij 👍🏽é'[i % 14]).join('');

  function typeOneByOne(text: string): LineEditor {
    const editor = new LineEditor();
    const giveUpAt = Date.now() + 2000;
    // A terminal without bracketed paste delivers a paste one code unit at a time.
    for (const unit of text.split('')) {
      editor.insert(unit);
      if (Date.now() > giveUpAt) throw new Error(`typing ${text.length} characters took over 2 s (stopped at ${editor.text.length})`);
    }
    return editor;
  }

  it('takes 10,000 characters typed one at a time in under 100 ms, in time linear in their number', function () {
    const text = pasteOf(10_000);
    let editor = new LineEditor();
    const tenThousand = fastestMs(() => (editor = typeOneByOne(text)));
    expect(editor.text).to.equal(text);
    expect(editor.cursor).to.equal(editor.graphemes.length);
    const twentyThousand = fastestMs(() => typeOneByOne(pasteOf(20_000)));
    console.log(`      typing 10,000 characters: ${tenThousand.toFixed(1)} ms; 20,000: ${twentyThousand.toFixed(1)} ms`);
    expect(tenThousand).to.be.below(100);
    // Twice the text may take twice the time, not four times (generously: three).
    expect(twentyThousand).to.be.below(3 * tenThousand + 10);
  });

  it('inserts a 10,000-character paste at once in the middle of a line, keeping the cursor after it', () => {
    const editor = new LineEditor('before after');
    editor.wordLeft();
    const text = pasteOf(10_000);
    const ms = fastestMs(() => {
      editor.set('before after', 'before ');
      editor.insert(text);
    });
    console.log(`      inserting a 10,000-character paste: ${ms.toFixed(1)} ms`);
    expect(editor.text).to.equal(`before ${text}after`);
    expect(editor.afterCursor).to.equal('after');
    expect(ms).to.be.below(100);
  });
});
