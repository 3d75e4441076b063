import { openDirectoryBlobStore } from '../../src/files/directory-blob-store';
import { blobContract } from '../contract/blob-contract';
import { makeTempDir, removeTempDir } from '../support/temp-dir';

blobContract('directory', async () => {
  const dir = makeTempDir('tinychat-blobs-', 'suite');
  const blobs = await openDirectoryBlobStore(dir);
  return {
    blobs,
    reopen: () => openDirectoryBlobStore(dir),
    cleanup: async () => {
      await blobs.close();
      removeTempDir(dir);
    },
  };
});
