import { PostgresBlobStore } from '../../src/files/postgres-blob-store';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres-store';
import { blobContract } from '../contract/blob-contract';
import { postgresAdmin, POSTGRES_URL, uniqueName } from '../support/cluster';

// Each test gets a schema of its own in the test database, as the store's tests do.
blobContract('PostgreSQL', async () => {
  const schema = uniqueName('tc_blobs');
  const stores: PostgresStore[] = [await openPostgresStore(POSTGRES_URL, { schema, maxConnections: 4 })];
  return {
    blobs: new PostgresBlobStore(stores[0].pool),
    reopen: async () => {
      const again = await openPostgresStore(POSTGRES_URL, { schema, maxConnections: 4 });
      stores.push(again);
      return new PostgresBlobStore(again.pool);
    },
    cleanup: async () => {
      for (const store of stores) await store.close();
      await postgresAdmin((client) => client.query(`DROP SCHEMA IF EXISTS ${client.escapeIdentifier(schema)} CASCADE`));
    },
  };
});
