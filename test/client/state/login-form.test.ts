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

  it('keeps the password when the server was out of reach, and clears it when the login was refused', () => {
    const form = new LoginForm({ server: '127.0.0.1:1', user: 'alice' });
    form.fields.find((f) => f.key === 'password')!.editor.set('a password');
    form.failed({ message: 'cannot reach 127.0.0.1:1', retryable: true }, 0);
    expect(form.values().password).to.equal('a password');
    form.failed({ message: 'too many failed logins for alice — try again in 60 s', retryable: false, retryAfterMs: 60_000 }, 1000);
    expect(form.values().password).to.equal('');
    expect(form.error).to.equal('too many failed logins for alice');
    expect(form.lockedFor(1000)).to.equal(60);
    expect(form.lockedFor(30_500)).to.equal(31);
    expect(form.lockedFor(61_000)).to.equal(0);
  });

  it('registers only the name the server said is new, once the password is typed the same twice', () => {
    const form = new LoginForm({ server: '127.0.0.1:1', user: 'carol', password: 'given password' });
    expect(form.passwordTyped).to.equal(false);
    form.confirmNewAccount('carol');
    expect(form.field.key).to.equal('again');
    expect(form.registering).to.equal(true);
    expect(form.validate()).to.equal(false);
    form.field.editor.set('given passwore');
    expect(form.validate()).to.equal(false);
    expect(form.error).to.include('the two passwords differ');
    expect(form.values().password).to.equal('');
    form.field.editor.set('typed password');
    form.fields.find((f) => f.key === 'again')!.editor.set('typed password');
    expect(form.passwordTyped).to.equal(true);
    expect(form.validate()).to.equal(true);
    form.fields.find((f) => f.key === 'user')!.editor.set('carl');
    expect(form.registering).to.equal(false);
  });
});
