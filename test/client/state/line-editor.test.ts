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

/** Characters handed to the grapheme segmenter while `work` runs: the editor's work that could grow with the line. */
function segmentedDuring(work: () => void): number {
  const original = Intl.Segmenter.prototype.segment;
  let characters = 0;
  Intl.Segmenter.prototype.segment = function (this: Intl.Segmenter, input: string) {
    characters += input.length;
    return original.call(this, input);
  };
  try {
    work();
  } finally {
    Intl.Segmenter.prototype.segment = original;
  }
  return characters;
}

describe('LineEditor with long text', () => {
  const pasteOf = (n: number) => Array.from({ length: n }, (_, i) => 'abcdefghij 👍🏽é'[i % 14]).join('');

  function typeOneByOne(text: string): LineEditor {
    const editor = new LineEditor();
    // A terminal without bracketed paste delivers a paste one code unit at a time.
    for (const unit of text.split('')) editor.insert(unit);
    return editor;
  }

  it('segments only the graphemes next to the cursor as text is typed one unit at a time, so typing stays linear', function () {
    const text = pasteOf(10_000);
    let editor = new LineEditor();
    const tenThousand = segmentedDuring(() => (editor = typeOneByOne(text)));
    expect(editor.text).to.equal(text);
    expect(editor.cursor).to.equal(editor.graphemes.length);
    const twentyThousand = segmentedDuring(() => typeOneByOne(pasteOf(20_000)));
    // A few characters around the cursor per unit typed, never the whole line.
    expect(tenThousand).to.be.above(0).and.at.most(4 * 10_000);
    expect(twentyThousand).to.be.at.most(2 * tenThousand + 16);
  });

  it('inserts a 10,000-character paste at once in the middle of a line, segmenting it once and keeping the cursor after it', () => {
    const editor = new LineEditor('before after');
    editor.wordLeft();
    const text = pasteOf(10_000);
    const segmented = segmentedDuring(() => editor.insert(text));
    expect(editor.text).to.equal(`before ${text}after`);
    expect(editor.afterCursor).to.equal('after');
    expect(segmented).to.be.at.most(text.length + 16);
  });
});
