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
