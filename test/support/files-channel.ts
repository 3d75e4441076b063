import * as grpc from '@grpc/grpc-js';
import { FilesClient } from '../../src/gen/tinychat/v1/files';
import type { FilesChannel } from '../../src/client/file-transfer';

/** Files clients a test opened, closed together at teardown. */
export class FilesChannels {
  private readonly clients: FilesClient[] = [];

  /** A Files client on `target` calling with `token`. */
  open(target: string, token: string | undefined): FilesChannel {
    const client = new FilesClient(target, grpc.credentials.createInsecure());
    this.clients.push(client);
    const metadata = new grpc.Metadata();
    if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
    return { client, metadata };
  }

  closeAll(): void {
    for (const client of this.clients.splice(0)) client.close();
  }
}
