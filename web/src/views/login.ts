import { createRawApi, ParleyApi, ParleyError, type SessionAnswer } from '@parley/client';
import { errorText, failedWith } from '../errors.js';
import { el } from '../dom.js';

/** Log in or register with one form; `notice` explains why the user is here (e.g. an expired session). */
export function loginView(onSignedIn: (answer: SessionAnswer) => void, notice?: string): HTMLElement {
  const api = new ParleyApi(createRawApi({ baseUrl: location.origin }));
  const username = el('input', {
    testid: 'username',
    attrs: {
      id: 'login-username',
      name: 'username',
      autocomplete: 'username',
      autocapitalize: 'none',
      spellcheck: 'false',
      required: true,
      maxlength: 32,
    },
  });
  const password = el('input', {
    testid: 'password',
    attrs: { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true, maxlength: 128 },
  });
  const error = el('p', { class: 'form-error', attrs: { role: 'alert' } });
  const loginButton = el('button', { testid: 'login', class: 'primary', attrs: { type: 'submit' } }, 'Log in');
  const registerButton = el('button', { testid: 'register', attrs: { type: 'button' } }, 'Create account');

  const form = el(
    'form',
    { class: 'login-form', attrs: { novalidate: true, 'aria-labelledby': 'login-title' } },
    el('h1', { attrs: { id: 'login-title' } }, 'Parley'),
    el('p', { class: 'muted' }, 'Log in, or pick a username and password to create an account.'),
    notice ? el('p', { class: 'notice', attrs: { role: 'status' } }, notice) : null,
    el('label', { attrs: { for: 'login-username' } }, 'Username'),
    username,
    el('label', { attrs: { for: 'login-password' } }, 'Password'),
    password,
    el('p', { class: 'hint' }, 'New accounts: 3–32 of a–z, 0–9, _ . - and a password of 8 or more characters.'),
    error,
    el('div', { class: 'login-actions' }, loginButton, registerButton),
  );

  async function submit(action: 'login' | 'register'): Promise<void> {
    error.textContent = '';
    if (!username.value.trim() || !password.value) {
      error.textContent = 'Enter a username and a password.';
      (username.value.trim() ? password : username).focus();
      return;
    }
    loginButton.disabled = registerButton.disabled = true;
    try {
      const answer =
        action === 'login'
          ? await api.login(username.value.trim(), password.value)
          : await api.register({ username: username.value.trim(), password: password.value });
      onSignedIn(answer);
    } catch (failure) {
      error.textContent = failedWith(failure, 401)
        ? 'Wrong username or password.'
        : failedWith(failure, 409)
          ? 'That username is taken. Pick another, or log in.'
          : failedWith(failure, 400) && failure instanceof ParleyError
            ? failure.messages.map(readable).join(' ')
            : errorText(failure);
      loginButton.disabled = registerButton.disabled = false;
      password.focus();
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void submit('login');
  });
  registerButton.addEventListener('click', () => void submit('register'));
  queueMicrotask(() => username.focus());
  return el('main', { class: 'login-page' }, form);
}

/** The server's validation messages are terse and lower-case: say them as sentences. */
function readable(message: string): string {
  if (message.startsWith('password')) return 'The password must be at least 8 characters long (and at most 128).';
  if (message.startsWith('username')) return 'The username must be 3 to 32 characters: letters a–z, digits, and _ . or -.';
  const sentence = message.charAt(0).toUpperCase() + message.slice(1);
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`;
}
