import * as fs from 'fs';
import * as path from 'path';
import * as grpc from '@grpc/grpc-js';
import { loadSync, type ServiceDefinition } from '@grpc/proto-loader';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  type DescriptorProto,
  type EnumDescriptorProto,
  type FieldDescriptorProto,
  type FileDescriptorProto,
} from '@bufbuild/protobuf/wkt';
import { protoPath as healthProtoPath } from 'grpc-health-check';

/** The `buf build` output: TinyChat's API with every file it imports. */
const DESCRIPTOR_SET = path.join('src', 'gen', 'tinychat.binpb');

const REFLECTION_SERVICES = ['grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];

/**
 * Adds gRPC server reflection (grpc.reflection.v1 and v1alpha) to the server,
 * so buf curl, grpcurl and Postman can call TinyChat without a copy of the
 * .proto files. Answers come from complete file descriptors: TinyChat's own
 * from the `buf build` descriptor set, plus grpc.health.v1 and the reflection
 * protocol itself. list_services names tinychat.v1.Chat, grpc.health.v1.Health
 * and both reflection services, so register the health service too.
 * Every file answer carries the requested file and all files it imports,
 * transitively.
 */
export function addReflection(server: grpc.Server): void {
  const pool = defaultPool();
  const handler = (call: grpc.ServerDuplexStream<ReflectionRequest, ReflectionResponse>) => {
    call.on('data', (request: ReflectionRequest) => call.write(answer(pool, request)));
    call.on('end', () => call.end());
    // A client that goes away mid-stream is not the server's problem.
    call.on('error', () => undefined);
  };
  const services = reflectionServices();
  for (const name of REFLECTION_SERVICES) {
    server.addService(services[name], { ServerReflectionInfo: handler });
  }
}

/** The request and response shapes of both protocol versions (they are identical). */
interface ReflectionRequest {
  host?: string;
  message_request?: string;
  file_by_filename?: string;
  file_containing_symbol?: string;
  file_containing_extension?: { containing_type?: string; extension_number?: number };
  all_extension_numbers_of_type?: string;
  list_services?: string;
}

interface ReflectionResponse {
  valid_host: string;
  original_request: ReflectionRequest;
  file_descriptor_response?: { file_descriptor_proto: Uint8Array[] };
  all_extension_numbers_response?: { base_type_name: string; extension_number: number[] };
  list_services_response?: { service: { name: string }[] };
  error_response?: { error_code: number; error_message: string };
}

function answer(pool: DescriptorPool, request: ReflectionRequest): ReflectionResponse {
  const base = { valid_host: request.host ?? '', original_request: request };
  const notFound = (message: string): ReflectionResponse => ({
    ...base,
    error_response: { error_code: grpc.status.NOT_FOUND, error_message: message },
  });
  const files = (names: string[]): ReflectionResponse => ({
    ...base,
    file_descriptor_response: { file_descriptor_proto: pool.encodedWithDependencies(names) },
  });

  switch (request.message_request) {
    case 'list_services':
      return { ...base, list_services_response: { service: pool.services.map((name) => ({ name })) } };
    case 'file_by_filename': {
      const name = request.file_by_filename ?? '';
      return pool.hasFile(name) ? files([name]) : notFound(`No file named "${name}"; list services first.`);
    }
    case 'file_containing_symbol': {
      const symbol = stripDot(request.file_containing_symbol ?? '');
      const file = pool.fileOfSymbol(symbol);
      return file ? files([file]) : notFound(`No symbol named "${symbol}"; use a fully-qualified name such as tinychat.v1.Chat.`);
    }
    case 'file_containing_extension': {
      const type = stripDot(request.file_containing_extension?.containing_type ?? '');
      const number = request.file_containing_extension?.extension_number ?? 0;
      const file = pool.fileOfExtension(type, number);
      return file ? files([file]) : notFound(`No extension ${number} of "${type}" is known to this server.`);
    }
    case 'all_extension_numbers_of_type': {
      const type = stripDot(request.all_extension_numbers_of_type ?? '');
      const numbers = pool.extensionNumbersOf(type);
      if (!numbers) return notFound(`No message type named "${type}"; use a fully-qualified name.`);
      return { ...base, all_extension_numbers_response: { base_type_name: type, extension_number: numbers } };
    }
    default:
      return {
        ...base,
        error_response: {
          error_code: grpc.status.INVALID_ARGUMENT,
          error_message: 'The request asks for nothing this server knows; set one of the message_request fields.',
        },
      };
  }
}

function stripDot(name: string): string {
  return name.startsWith('.') ? name.slice(1) : name;
}

/**
 * Every file descriptor the server can describe, indexed by file name, by
 * fully-qualified symbol (services, methods, messages, fields, oneofs, enums,
 * enum values, extensions) and by extended type.
 */
class DescriptorPool {
  readonly services: string[] = [];
  private readonly files = new Map<string, { proto: FileDescriptorProto; encoded: Uint8Array }>();
  private readonly symbols = new Map<string, string>();
  private readonly messageTypes = new Set<string>();
  private readonly extensions = new Map<string, Map<number, string>>();

  add(proto: FileDescriptorProto): void {
    if (this.files.has(proto.name)) return;
    this.files.set(proto.name, { proto, encoded: toBinary(FileDescriptorProtoSchema, proto) });
    const scope = proto.package ? `${proto.package}.` : '';
    for (const service of proto.service) {
      const name = scope + service.name;
      this.services.push(name);
      this.symbols.set(name, proto.name);
      for (const method of service.method) this.symbols.set(`${name}.${method.name}`, proto.name);
    }
    for (const message of proto.messageType) this.addMessage(proto.name, scope, message);
    for (const enumType of proto.enumType) this.addEnum(proto.name, scope, enumType);
    for (const extension of proto.extension) this.addExtension(proto.name, scope, extension);
  }

  hasFile(name: string): boolean {
    return this.files.has(name);
  }

  fileOfSymbol(symbol: string): string | undefined {
    return this.symbols.get(symbol);
  }

  fileOfExtension(type: string, number: number): string | undefined {
    return this.extensions.get(type)?.get(number);
  }

  /** The extension numbers of a message type (empty when it has none); undefined for an unknown type. */
  extensionNumbersOf(type: string): number[] | undefined {
    if (!this.messageTypes.has(type)) return undefined;
    return [...(this.extensions.get(type)?.keys() ?? [])];
  }

  /** The named files first, then everything they import, transitively, each once. */
  encodedWithDependencies(names: string[]): Uint8Array[] {
    const seen = new Set<string>();
    const out: Uint8Array[] = [];
    const queue = [...names];
    while (queue.length > 0) {
      const name = queue.shift()!;
      const file = this.files.get(name);
      if (!file || seen.has(name)) continue;
      seen.add(name);
      out.push(file.encoded);
      queue.push(...file.proto.dependency);
    }
    return out;
  }

  private addMessage(file: string, scope: string, message: DescriptorProto): void {
    const name = scope + message.name;
    this.symbols.set(name, file);
    this.messageTypes.add(name);
    for (const field of message.field) this.symbols.set(`${name}.${field.name}`, file);
    for (const oneof of message.oneofDecl) this.symbols.set(`${name}.${oneof.name}`, file);
    for (const nested of message.nestedType) this.addMessage(file, `${name}.`, nested);
    for (const enumType of message.enumType) this.addEnum(file, `${name}.`, enumType);
    for (const extension of message.extension) this.addExtension(file, `${name}.`, extension);
  }

  private addEnum(file: string, scope: string, enumType: EnumDescriptorProto): void {
    this.symbols.set(scope + enumType.name, file);
    // Enum values live in the enum's enclosing scope, as in C++.
    for (const value of enumType.value) this.symbols.set(scope + value.name, file);
  }

  private addExtension(file: string, scope: string, extension: FieldDescriptorProto): void {
    this.symbols.set(scope + extension.name, file);
    const extendee = stripDot(extension.extendee);
    let numbers = this.extensions.get(extendee);
    if (!numbers) this.extensions.set(extendee, (numbers = new Map()));
    numbers.set(extension.number, file);
  }
}

let cachedPool: DescriptorPool | undefined;

/** Built once per process: parsing descriptors is the only costly part. */
function defaultPool(): DescriptorPool {
  if (cachedPool) return cachedPool;
  const pool = new DescriptorPool();
  const setPath = path.join(packageRoot(), DESCRIPTOR_SET);
  let set;
  try {
    set = fromBinary(FileDescriptorSetSchema, fs.readFileSync(setPath));
  } catch (err) {
    throw new Error(`Cannot read the API descriptor set ${setPath} (${(err as Error).message}); run "npm run gen" to build it.`);
  }
  for (const file of set.file) pool.add(file);
  for (const file of packagedFiles()) pool.add(file);
  cachedPool = pool;
  return pool;
}

/** The nearest folder above this file holding package.json: the same from src/ and from dist/src/. */
function packageRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`No package.json above ${__dirname}; run TinyChat from its package.`);
    dir = parent;
  }
  return dir;
}

/** Where @grpc/reflection keeps the protocol's .proto files. */
function reflectionProtoDir(): string {
  return path.join(path.dirname(require.resolve('@grpc/reflection')), '..', 'proto');
}

/** The .proto files, relative to reflectionProtoDir(), each declaring one of REFLECTION_SERVICES. */
const REFLECTION_PROTOS = ['grpc/reflection/v1/reflection.proto', 'grpc/reflection/v1alpha/reflection.proto'];

function reflectionServices(): Record<string, ServiceDefinition> {
  const definition = loadSync(REFLECTION_PROTOS, {
    includeDirs: [reflectionProtoDir()],
    keepCase: true,
    longs: Number,
    enums: Number,
    oneofs: true,
  });
  return Object.fromEntries(REFLECTION_SERVICES.map((name) => [name, definition[name] as ServiceDefinition]));
}

/**
 * Descriptors of the health and reflection protocols, which are not part of
 * the `buf build` set. They come from the .proto files their npm packages
 * ship, compiled by proto-loader and then corrected.
 */
function packagedFiles(): FileDescriptorProto[] {
  // grpc-health-check ships <root>/health/v1/health.proto; clients know the file as grpc/health/v1/health.proto.
  const healthRoot = path.resolve(path.dirname(healthProtoPath), '..', '..');
  const sources = [
    { root: healthRoot, file: 'health/v1/health.proto', name: 'grpc/health/v1/health.proto', service: 'grpc.health.v1.Health' },
    ...REFLECTION_PROTOS.map((file, i) => ({ root: reflectionProtoDir(), file, name: file, service: REFLECTION_SERVICES[i] })),
  ];
  return sources.map(({ root, file, name, service }) => {
    const methods = Object.values(loadSync(file, { includeDirs: [root] })[service] as ServiceDefinition);
    // These files import nothing, so the descriptor list holds just the file itself.
    const proto = fromBinary(FileDescriptorProtoSchema, methods[0].requestType.fileDescriptorProtos[0]);
    proto.name = name;
    return asProtocWouldWriteIt(proto);
  });
}

/**
 * proto-loader's descriptors differ from protoc's in two ways that make
 * tools built on Go's protodesc (buf curl among them) refuse the file with
 * "failed to find service":
 * type references are relative ("HealthCheckResponse" rather than
 * ".grpc.health.v1.HealthCheckResponse") and map entry types are named after
 * their field ("Statuses" rather than "StatusesEntry"). This rewrites both,
 * in place, for a file that imports nothing.
 */
function asProtocWouldWriteIt(proto: FileDescriptorProto): FileDescriptorProto {
  const declared = new Set<string>();
  const collect = (scope: string, messages: DescriptorProto[], enums: EnumDescriptorProto[]) => {
    for (const enumType of enums) declared.add(scope + enumType.name);
    for (const message of messages) {
      renameMapEntries(message);
      declared.add(scope + message.name);
      collect(`${scope}${message.name}.`, message.nestedType, message.enumType);
    }
  };
  const packageScope = proto.package ? `${proto.package}.` : '';
  collect(packageScope, proto.messageType, proto.enumType);

  // Protobuf scoping: look in the innermost scope first, then outwards.
  const resolve = (scope: string, reference: string): string => {
    if (reference === '' || reference.startsWith('.')) return reference;
    const parts = scope.split('.').filter((part) => part !== '');
    for (let depth = parts.length; depth >= 0; depth--) {
      const candidate = [...parts.slice(0, depth), reference].join('.');
      if (declared.has(candidate)) return `.${candidate}`;
    }
    return reference;
  };
  const qualify = (scope: string, messages: DescriptorProto[]) => {
    for (const message of messages) {
      const name = scope + message.name;
      for (const field of message.field) {
        // Assign only on change: assigning even "" would mark the optional field as set.
        const resolved = resolve(name, field.typeName);
        if (resolved !== field.typeName) field.typeName = resolved;
      }
      qualify(`${name}.`, message.nestedType);
    }
  };
  qualify(packageScope, proto.messageType);
  for (const service of proto.service) {
    for (const method of service.method) {
      const inputType = resolve(proto.package, method.inputType);
      const outputType = resolve(proto.package, method.outputType);
      if (inputType !== method.inputType) method.inputType = inputType;
      if (outputType !== method.outputType) method.outputType = outputType;
    }
  }
  return proto;
}

/** Gives each map entry type of a message the name protoc gives it: the field name in CamelCase plus "Entry". */
function renameMapEntries(message: DescriptorProto): void {
  for (const field of message.field) {
    const entry = message.nestedType.find((nested) => nested.options?.mapEntry && nested.name === field.typeName);
    if (!entry) continue;
    entry.name = field.name.replace(/(?:^|_)(.)/g, (_match, letter: string) => letter.toUpperCase()) + 'Entry';
    field.typeName = entry.name;
  }
}
