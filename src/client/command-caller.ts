import { Metadata, status as Status } from '@grpc/grpc-js';
import type { ChatClient, CommandRequest, CommandResponse, LoginResult } from '../gen/tinychat/v1/chat';
import { ClientError, toClientError } from './errors';

/**
 * Runs Command calls for one user and owns the session token: it logs in
 * when there is no token yet, shares one login between callers that need it
 * at the same time, and logs in once more when the server no longer accepts
 * the token (UNAUTHENTICATED).
 */
export class CommandCaller {
  private token: string | undefined;
  private loggingIn: Promise<string> | undefined;

  constructor(
    /** The server to call now: a client with several addresses moves between them. */
    private readonly channel: () => { client: ChatClient; server: string },
    private readonly user: string,
    private readonly password: string,
    private readonly timeoutMs: number,
    /** Told about every successful login (for the registered spelling of the name). */
    private readonly onLogin: (login: LoginResult) => void,
    /** Never register: an unknown name fails with NOT_FOUND (the client asks for the password again first). */
    private readonly loginOnly = false,
    /** A session token saved by an earlier run: used until the server refuses it. */
    savedToken?: string,
  ) {
    this.token = savedToken;
  }

  /** The current token, if logged in. */
  get currentToken(): string | undefined {
    return this.token;
  }

  /** The current token, logging in first when there is none. */
  session(): Promise<string> {
    if (this.token) return Promise.resolve(this.token);
    this.loggingIn ??= this.login().finally(() => {
      this.loggingIn = undefined;
    });
    return this.loggingIn;
  }

  /** Forgets `token` (the server refused it), so the next session() logs in again. */
  forget(token: string): void {
    if (this.token === token) this.token = undefined;
  }

  /** Runs a command with the session, logging in again once if the server refuses the token. */
  async run(request: CommandRequest): Promise<CommandResponse> {
    const token = await this.session();
    try {
      return await this.call(request, token, this.timeoutMs);
    } catch (err) {
      if (!(err instanceof ClientError) || err.code !== Status.UNAUTHENTICATED) throw err;
      this.forget(token);
      return this.call(request, await this.session(), this.timeoutMs);
    }
  }

  /** One Command call as is; rejects with a ClientError. */
  call(request: CommandRequest, token: string | undefined, timeoutMs: number): Promise<CommandResponse> {
    const metadata = new Metadata();
    if (token) metadata.set('authorization', `Bearer ${token}`);
    const { client, server } = this.channel();
    return new Promise((resolve, reject) => {
      client.command(request, metadata, { deadline: Date.now() + timeoutMs }, (err, response) => {
        if (err) reject(toClientError(err, server));
        else resolve(response);
      });
    });
  }

  private async login(): Promise<string> {
    if (this.password === '') {
      // Resumed from a saved token, which the server no longer takes: only the password helps now.
      throw new ClientError(`the saved session of ${this.user} has ended — log in again with your password`, Status.UNAUTHENTICATED);
    }
    // Split form: a password may hold spaces, and a name with a space is refused as a name.
    const request: CommandRequest = {
      input: { $case: 'invocation', invocation: { name: 'LOGIN', args: [this.user, this.password] } },
      loginOnly: this.loginOnly,
    };
    const response = await this.call(request, undefined, this.timeoutMs);
    if (response.result?.$case !== 'login' || !response.result.login.token) {
      throw new ClientError(`${this.channel().server} answered /LOGIN without a session — is it a TinyChat server?`, Status.INTERNAL);
    }
    this.token = response.result.login.token;
    this.onLogin(response.result.login);
    return this.token;
  }
}
