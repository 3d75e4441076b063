import { expect } from 'chai';
import { LoginForm } from '../../../src/client/state/login-form';

describe('LoginForm', () => {
  it('puts the cursor in the first empty field and moves between fields with wrap-around', () => {
    const form = new LoginForm({ server: '127.0.0.1:50051' });
    expect(form.field.key).to.equal('user');
    form.move(1);
    expect(form.field.key).to.equal('password');
    form.move(1);
    expect(form.field.key).to.equal('server');
    form.move(-1);
    expect(form.field.key).to.equal('password');
  });

  it('shows the password as dots, asks for one when empty, and keeps its spaces', () => {
    const form = new LoginForm({ server: '127.0.0.1:1', user: 'alice' });
    expect(form.fields.find((f) => f.key === 'password')!.secret).to.equal(true);
    expect(form.validate()).to.equal(false);
    expect(form.field.key).to.equal('password');
    expect(form.error).to.include('password');
    form.field.editor.set(' two words ');
    expect(form.validate()).to.equal(true);
    expect(form.values().password).to.equal(' two words ');
  });

  it('refuses an empty name or an address without a port, saying what to type, on that field', () => {
    const form = new LoginForm({ server: 'localhost' });
    form.field.editor.set('alice');
    expect(form.validate()).to.equal(false);
    expect(form.error).to.include('host:port');
    expect(form.field.key).to.equal('server');
    form.field.editor.set('localhost:50051');
    form.fields.find((f) => f.key === 'user')!.editor.clear();
    expect(form.validate()).to.equal(false);
    expect(form.field.key).to.equal('user');
    expect(form.error).to.include('type your name');
  });

  it('gives the trimmed values of a valid form', () => {
    const form = new LoginForm({ server: ' 127.0.0.1:1 ', user: ' alice ', password: 'secret words' });
    expect(form.validate()).to.equal(true);
    expect(form.values()).to.deep.equal({ server: '127.0.0.1:1', user: 'alice', password: 'secret words' });
  });
});
