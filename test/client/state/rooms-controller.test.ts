import { expect } from 'chai';
import { ChatConnection } from '../../../src/client/connection';
import { ChatController } from '../../../src/client/state/chat-controller';
import { ChatState } from '../../../src/client/state/chat-state';
import type { ChatMessage, Conversation } from '../../../src/client/state/conversation';
import { TEST_PASSWORD } from '../../support/grpc-client';
import { eventually } from '../../support/eventually';
import { removeTempDirs, startTestServer, type TestServer } from '../../support/test-server';

interface Person {
  state: ChatState;
  controller: ChatController;
  connection: ChatConnection;
  bells: number;
}

function lines(conversation: Conversation | undefined): string[] {
  return (conversation?.entries() ?? []).flatMap((e) => (e.kind === 'message' ? [(e as ChatMessage).action ? `* ${e.sender} ${e.body}` : `${e.sender}: ${e.body}`] : []));
}

describe('ChatController in rooms', function () {
  let server: TestServer;
  let people: Person[];

  beforeEach(async () => {
    server = await startTestServer();
    people = [];
  });

  afterEach(async () => {
    await Promise.all(people.map((p) => p.connection.close()));
    await server.stop();
    removeTempDirs();
  });

  async function online(user: string): Promise<Person> {
    const connection = new ChatConnection({ server: server.target, user, password: TEST_PASSWORD, backoff: { initialMs: 20, maxMs: 200 } });
    const state = new ChatState(user, server.target);
    const person: Person = { state, controller: new ChatController(connection, state), connection, bells: 0 };
    state.on('bell', () => (person.bells += 1));
    people.push(person);
    await person.controller.connect();
    return person;
  }

  it('opens a room on /JOIN, sends lines there, and counts a mention apart with a bell in a room not shown', async () => {
    const alice = await online('alice');
    const bob = await online('bob');
    await alice.controller.submit('/JOIN #dev');
    await eventually('alice’s room shown', () => alice.state.current?.peer === '#dev');
    await bob.controller.submit('/JOIN #dev');
    await eventually('bob’s room shown', () => bob.state.current?.peer === '#dev');
    await bob.controller.submit('/START alice');
    await eventually('bob looks at alice', () => bob.state.current?.peer === 'alice');
    const bellsBefore = bob.bells;
    await alice.controller.submit('the build is green');
    await alice.controller.submit('@bob can you ship it?');
    const room = () => bob.state.find('#dev');
    await eventually('both lines at bob', () => lines(room()).includes('alice: @bob can you ship it?'));
    expect(lines(room())).to.deep.equal(['* bob joined #dev', 'alice: the build is green', 'alice: @bob can you ship it?']);
    expect([room()!.unread, room()!.mentions]).to.deep.equal([2, 1]);
    expect(bob.bells - bellsBefore).to.equal(1);
    await eventually('alice’s sends stored', () => alice.state.pendingCount === 0);
    expect(lines(alice.state.find('#dev'))).to.deep.equal(['* alice joined #dev', '* bob joined #dev', 'alice: the build is green', 'alice: @bob can you ship it?']);
    // Tab completion knows the room and its members.
    expect(bob.state.completionSources().names).to.include.members(['#dev', 'alice', 'bob']);
  });

  it('opens the rooms one is in at connect, with their latest entries, and closes a room on /LEAVE', async () => {
    const alice = await online('alice');
    await alice.controller.submit('/JOIN #ops');
    await eventually('joined', () => alice.state.current?.peer === '#ops');
    await alice.controller.submit('remember the backups');
    await eventually('stored', () => alice.state.pendingCount === 0);
    await alice.connection.close();
    people.splice(0);

    const again = await online('alice');
    const ops = again.state.find('#ops');
    expect(ops).to.not.equal(undefined);
    await eventually('the latest entries', () => lines(again.state.find('#ops')).includes('alice: remember the backups'));
    again.state.focus(again.state.find('#ops'));
    await again.controller.submit('/LEAVE');
    await eventually('the room closed', () => again.state.find('#ops') === undefined);
    const rooms = await again.connection.command('/ROOMS');
    expect(rooms.text).to.match(/#ops\s+0/);
  });
});
