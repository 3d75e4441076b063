import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { create, createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import { expect } from 'chai';
import { ChatService, type ChatServer } from '../../src/gen/tinychat/v1/chat';
import { createHealth } from '../../src/rpc/health';
import { addReflection } from '../../src/rpc/reflection';
import { bufCurl } from '../support/buf-curl';

/** Just enough of a chat service to show that buf curl reached it. */
const fixedReply: ChatServer = {
  command: (_call, callback) => callback(null, { text: 'fixed reply' }),
  converse: (call) => call.end(),
};

interface ReflectionResponse {
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  list_services_response?: { service: { name: string }[] };
  all_extension_numbers_response?: { base_type_name: string; extension_number: number[] };
  error_response?: { error_code: number; error_message: string };
}

const v1alphaDefinition = loadSync('grpc/reflection/v1alpha/reflection.proto', {
  includeDirs: [path.join(path.dirname(require.resolve('@grpc/reflection')), '..', 'proto')],
  keepCase: true,
  oneofs: true,
});
const V1alphaClient = grpc.makeGenericClientConstructor(
  v1alphaDefinition['grpc.reflection.v1alpha.ServerReflection'] as grpc.ServiceDefinition,
  'ServerReflection',
);

function fileNames(response: ReflectionResponse): string[] {
  return (response.file_descriptor_response?.file_descriptor_proto ?? []).map(
    (bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name,
  );
}

describe('gRPC server reflection', function () {
  let server: grpc.Server;
  let port: number;
  let client: grpc.Client;

  /** Sends each request on one v1alpha stream and resolves with the responses in order. */
  function reflect(requests: object[]): Promise<ReflectionResponse[]> {
    return new Promise((resolve, reject) => {
      const responses: ReflectionResponse[] = [];
      const call = (client as unknown as { ServerReflectionInfo(): grpc.ClientDuplexStream<object, ReflectionResponse> })
        .ServerReflectionInfo();
      call.on('data', (response: ReflectionResponse) => responses.push(response));
      call.on('error', reject);
      call.on('end', () => resolve(responses));
      for (const request of requests) call.write(request);
      call.end();
    });
  }

  before(async function () {
    server = new grpc.Server();
    server.addService(ChatService, fixedReply);
    addReflection(server);
    createHealth().register(server);
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) =>
        err ? reject(err) : resolve(bound),
      ),
    );
    client = new V1alphaClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });

  after(async function () {
    client.close();
    await new Promise<void>((resolve, reject) => server.tryShutdown((err) => (err ? reject(err) : resolve())));
  });

  it('lists the chat and health services to buf curl', async function () {
    const services = (await bufCurl(port, ['--list-services'])).trim().split('\n');
    expect(services).to.include.members(['tinychat.v1.Chat', 'grpc.health.v1.Health']);
  });

  it('lists every method of every service to buf curl, including Command and Converse', async function () {
    const methods = (await bufCurl(port, ['--list-methods'])).trim().split('\n');
    expect(methods).to.include.members([
      'tinychat.v1.Chat/Command',
      'tinychat.v1.Chat/Converse',
      'grpc.health.v1.Health/Check',
      'grpc.health.v1.Health/Watch',
      'grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
    ]);
  });

  it('lets buf curl call Command with no schema other than what reflection serves', async function () {
    const output = await bufCurl(port, ['--data', '{"line":"/TIME"}'], '/tinychat.v1.Chat/Command');
    expect(JSON.parse(output)).to.deep.equal({ text: 'fixed reply' });
  });

  it('lists the reflection services themselves among the services', async function () {
    const [response] = await reflect([{ list_services: '' }]);
    expect(response.list_services_response?.service.map((s) => s.name)).to.have.members([
      'tinychat.v1.Chat',
      'tinychat.v1.Files',
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
      'grpc.reflection.v1alpha.ServerReflection',
    ]);
  });

  it('answers file_containing_symbol for the chat service with chat.proto and the timestamp.proto it imports', async function () {
    const [response] = await reflect([{ file_containing_symbol: 'tinychat.v1.Chat' }]);
    expect(fileNames(response)).to.deep.equal(['tinychat/v1/chat.proto', 'google/protobuf/timestamp.proto']);
  });

  it('finds the file of methods, messages, nested fields, oneofs, enums and enum values by full name', async function () {
    const symbols = {
      'tinychat.v1.Chat.Converse': 'tinychat/v1/chat.proto',
      'tinychat.v1.Files.Download': 'tinychat/v1/files.proto',
      'tinychat.v1.FileInfo.sha256': 'tinychat/v1/chat.proto',
      'tinychat.v1.Message': 'tinychat/v1/chat.proto',
      'tinychat.v1.Message.sequence': 'tinychat/v1/chat.proto',
      'tinychat.v1.ClientFrame.kind': 'tinychat/v1/chat.proto',
      'google.protobuf.Timestamp': 'google/protobuf/timestamp.proto',
      'grpc.health.v1.HealthCheckResponse.ServingStatus': 'grpc/health/v1/health.proto',
      'grpc.health.v1.HealthCheckResponse.NOT_SERVING': 'grpc/health/v1/health.proto',
    };
    const responses = await reflect(Object.keys(symbols).map((symbol) => ({ file_containing_symbol: symbol })));
    expect(responses.map((response) => fileNames(response)[0])).to.deep.equal(Object.values(symbols));
  });

  it('answers file_by_filename with the file and its imports', async function () {
    const [response] = await reflect([{ file_by_filename: 'tinychat/v1/chat.proto' }]);
    expect(fileNames(response)).to.deep.equal(['tinychat/v1/chat.proto', 'google/protobuf/timestamp.proto']);
  });

  it('answers an unknown symbol or file with a NOT_FOUND error response and keeps the stream open', async function () {
    const responses = await reflect([
      { file_containing_symbol: 'tinychat.v1.NoSuchThing' },
      { file_by_filename: 'tinychat/v1/missing.proto' },
      { list_services: '' },
    ]);
    expect(responses[0].error_response?.error_code).to.equal(grpc.status.NOT_FOUND);
    expect(responses[0].error_response?.error_message).to.contain('tinychat.v1.NoSuchThing');
    expect(responses[1].error_response?.error_code).to.equal(grpc.status.NOT_FOUND);
    expect(responses[2].list_services_response?.service).to.have.length(5);
  });

  it('reports that the API declares no extensions', async function () {
    const responses = await reflect([
      { file_containing_extension: { containing_type: 'tinychat.v1.Message', extension_number: 100 } },
      { all_extension_numbers_of_type: 'tinychat.v1.Message' },
      { all_extension_numbers_of_type: 'tinychat.v1.NoSuchMessage' },
    ]);
    expect(responses[0].error_response?.error_code).to.equal(grpc.status.NOT_FOUND);
    expect(responses[1].all_extension_numbers_response?.base_type_name).to.equal('tinychat.v1.Message');
    expect(responses[1].all_extension_numbers_response?.extension_number ?? []).to.deep.equal([]);
    expect(responses[2].error_response?.error_code).to.equal(grpc.status.NOT_FOUND);
  });

  it('serves descriptors for every listed service that a strict descriptor registry accepts', async function () {
    const [listing] = await reflect([{ list_services: '' }]);
    const services = listing.list_services_response!.service.map((s) => s.name);
    const responses = await reflect(services.map((name) => ({ file_containing_symbol: name })));
    const files = new Map<string, FileDescriptorProto>();
    for (const response of responses) {
      for (const bytes of response.file_descriptor_response!.file_descriptor_proto) {
        const file = fromBinary(FileDescriptorProtoSchema, bytes);
        files.set(file.name, file);
      }
    }
    // Imports before importers, as a registry wants them.
    const ordered = [...files.values()].sort((a, b) => a.dependency.length - b.dependency.length);
    const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
    for (const name of services) expect(registry.getService(name), name).to.not.equal(undefined);
    const statuses = registry.getMessage('grpc.health.v1.HealthListResponse')!.fields[0];
    expect(statuses.fieldKind).to.equal('map');
  });
});
