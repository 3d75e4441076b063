import { randomBytes } from 'node:crypto';
import { sha256 } from '../support/sha256';
import { expect } from 'chai';
import { isChatError } from '../../src/chat/errors';
import type { BlobStore, UploadKey } from '../../src/files/blob-store';

/** A fresh, empty blob store for one test, and how to get rid of it. */
export interface BlobFixture {
  blobs: BlobStore;
  /** Opens the same data again (as a restarted server would). */
  reopen(): Promise<BlobStore>;
  /** Closes what the fixture opened and deletes its data. */
  cleanup(): Promise<void>;
}


async function readAll(blobs: BlobStore, sha: string, offset: number, maxChunk: number): Promise<{ bytes: Buffer; largest: number }> {
  const parts: Buffer[] = [];
  let largest = 0;
  for await (const part of blobs.read(sha, offset, maxChunk)) {
    parts.push(Buffer.from(part));
    largest = Math.max(largest, part.length);
  }
  return { bytes: Buffer.concat(parts), largest };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  expect.fail('expected the promise to reject');
}

/** The mocha suite every BlobStore backend must pass: the contract in src/files/blob-store.ts. */
export function blobContract(name: string, makeBlobs: () => Promise<BlobFixture>): void {
  describe(`BlobStore contract: ${name}`, function () {
    let fixture: BlobFixture;
    let blobs: BlobStore;

    beforeEach(async function () {
      fixture = await makeBlobs();
      blobs = fixture.blobs;
    });

    afterEach(async function () {
      await fixture.cleanup();
    });

    const content = randomBytes(200_000);
    const key: UploadKey = { ownerId: 1, sha256: sha256(content) };

    async function upload(to: BlobStore, k: UploadKey, bytes: Uint8Array, from = 0, piece = 60 * 1024): Promise<void> {
      for (let at = from; at < bytes.length; at += piece) await to.append(k, at, bytes.subarray(at, at + piece));
    }

    it('starts an unknown upload at byte 0 and counts appended bytes', async function () {
      expect(await blobs.uploadState(key)).to.deep.equal({ stored: 0, complete: false });
      expect(await blobs.append(key, 0, content.subarray(0, 1000))).to.equal(1000);
      expect(await blobs.append(key, 1000, content.subarray(1000, 1500))).to.equal(1500);
      expect(await blobs.uploadState(key)).to.deep.equal({ stored: 1500, complete: false });
    });

    it('refuses an append that does not start where the held bytes end, naming the right offset', async function () {
      await blobs.append(key, 0, content.subarray(0, 1000));
      const err = await rejection(blobs.append(key, 0, content.subarray(0, 1000)));
      expect(isChatError(err, 'failed-precondition')).to.equal(true);
      expect((err as Error).message).to.include('continue from byte 1000');
      expect(await blobs.uploadState(key)).to.deep.equal({ stored: 1000, complete: false });
    });

    it('keeps a checked upload and reads it back whole, or from any offset, in pieces no larger than asked', async function () {
      await upload(blobs, key, content);
      await blobs.complete(key, content.length);
      expect(await blobs.uploadState(key)).to.deep.equal({ stored: content.length, complete: true });
      expect(await blobs.blobSize(key.sha256)).to.equal(content.length);
      const whole = await readAll(blobs, key.sha256, 0, 16 * 1024);
      expect(whole.bytes.equals(content)).to.equal(true);
      expect(whole.largest).to.be.at.most(16 * 1024);
      const tail = await readAll(blobs, key.sha256, 123_457, 60 * 1024);
      expect(tail.bytes.equals(content.subarray(123_457))).to.equal(true);
      await blobs.complete(key, content.length);
      expect(await blobs.uploadState(key)).to.deep.equal({ stored: content.length, complete: true });
    });

    it('discards an upload whose bytes do not have its SHA-256 and says to send again', async function () {
      const wrong = Buffer.from(content);
      wrong[5000] ^= 0xff;
      await upload(blobs, key, wrong);
      const err = await rejection(blobs.complete(key, content.length));
      expect(isChatError(err, 'invalid-argument')).to.equal(true);
      expect((err as Error).message).to.match(/SHA-256.*send the file again/);
      expect(await blobs.uploadState(key)).to.deep.equal({ stored: 0, complete: false });
      expect(await blobs.blobSize(key.sha256)).to.equal(undefined);
    });

    it('refuses to complete an upload that is short of its size', async function () {
      await upload(blobs, key, content.subarray(0, 100_000));
      const err = await rejection(blobs.complete(key, content.length));
      expect(isChatError(err, 'invalid-argument')).to.equal(true);
      expect((err as Error).message).to.include(`100000 bytes arrived for a file of ${content.length}`);
    });

    it('keeps a file sent by two owners once, and completes the second owner without its bytes', async function () {
      await upload(blobs, key, content);
      await blobs.complete(key, content.length);
      const other: UploadKey = { ownerId: 2, sha256: key.sha256 };
      expect(await blobs.uploadState(other)).to.deep.equal({ stored: 0, complete: false });
      await blobs.complete(other, content.length);
      expect(await blobs.uploadState(other)).to.deep.equal({ stored: content.length, complete: true });
      expect((await readAll(blobs, key.sha256, 0, 60 * 1024)).bytes.equals(content)).to.equal(true);
    });

    it('counts complete and partial uploads against their owner only', async function () {
      await upload(blobs, key, content);
      await blobs.complete(key, content.length);
      const small = randomBytes(5000);
      await blobs.append({ ownerId: 1, sha256: sha256(small) }, 0, small.subarray(0, 3000));
      expect(await blobs.usage(1)).to.equal(content.length + 3000);
      expect(await blobs.usage(2)).to.equal(0);
    });

    it('keeps held bytes and complete uploads across a reopen, and the upload resumes where it stopped', async function () {
      await upload(blobs, key, content.subarray(0, 120_000));
      blobs = await fixture.reopen();
      const state = await blobs.uploadState(key);
      expect(state).to.deep.equal({ stored: 120_000, complete: false });
      await upload(blobs, key, content, state.stored);
      await blobs.complete(key, content.length);
      blobs = await fixture.reopen();
      expect(await blobs.uploadState(key)).to.deep.equal({ stored: content.length, complete: true });
      expect((await readAll(blobs, key.sha256, 0, 60 * 1024)).bytes.equals(content)).to.equal(true);
    });

    it('completes an empty file', async function () {
      const empty: UploadKey = { ownerId: 3, sha256: sha256(new Uint8Array()) };
      await blobs.append(empty, 0, new Uint8Array());
      await blobs.complete(empty, 0);
      expect(await blobs.blobSize(empty.sha256)).to.equal(0);
      expect((await readAll(blobs, empty.sha256, 0, 1024)).bytes.length).to.equal(0);
    });
  });
}
