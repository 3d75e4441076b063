"""Sends a file to a TinyChat user from Python, built only from the .proto files.

It logs in, computes the file's SHA-256, asks Files.UploadStatus how much the
server holds, streams the rest with Files.Upload in chunks the server takes,
then sends the file message on Chat.Converse and waits for its receipt. Each
step prints one JSON object on its own line ("event" says which).

Usage:
  python3 tinychat_send_file.py --stubs DIR --target HOST:PORT --user NAME \
      --peer NAME --file PATH [--timeout SECONDS]

DIR holds the modules grpc_tools.protoc generated from chat.proto and
files.proto. The password comes from TINYCHAT_PASSWORD. Exits 0 once the
receipt arrived, 1 on any error.
"""

import argparse
import hashlib
import json
import os
import queue
import sys
import time
import uuid


def emit(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stubs", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--peer", required=True)
    parser.add_argument("--file", required=True)
    parser.add_argument("--timeout", type=float, default=15.0)
    args = parser.parse_args()

    sys.path.insert(0, args.stubs)
    import grpc
    from tinychat.v1 import chat_pb2, chat_pb2_grpc, files_pb2, files_pb2_grpc

    deadline = time.monotonic() + args.timeout

    def remaining():
        return max(0.1, deadline - time.monotonic())

    digest = hashlib.sha256()
    with open(args.file, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            digest.update(block)
    sha256 = digest.hexdigest()
    size = os.path.getsize(args.file)
    name = os.path.basename(args.file)

    with grpc.insecure_channel(args.target) as channel:
        chat = chat_pb2_grpc.ChatStub(channel)
        files = files_pb2_grpc.FilesStub(channel)
        try:
            invocation = chat_pb2.Invocation(name="LOGIN", args=[args.user, os.environ["TINYCHAT_PASSWORD"]])
            login = chat.Command(chat_pb2.CommandRequest(invocation=invocation), timeout=remaining())
            credentials = [("authorization", f"Bearer {login.login.token}")]

            state = files.UploadStatus(files_pb2.UploadStatusRequest(sha256=sha256, size=size), metadata=credentials, timeout=remaining())
            emit("status", stored_bytes=state.stored_bytes, complete=state.complete)
            if not state.complete:
                def chunks():
                    first = True
                    with open(args.file, "rb") as f:
                        f.seek(state.stored_bytes)
                        while True:
                            data = f.read(state.max_chunk_bytes)
                            if not data and not first:
                                return
                            if first:
                                yield files_pb2.UploadChunk(sha256=sha256, size=size, offset=state.stored_bytes, data=data)
                                first = False
                            else:
                                yield files_pb2.UploadChunk(data=data)
                            if not data:
                                return

                state = files.Upload(chunks(), metadata=credentials, timeout=remaining())
                emit("uploaded", stored_bytes=state.stored_bytes, complete=state.complete)
            if not state.complete:
                emit("error", code="INCOMPLETE", message="the server does not hold the whole file")
                return 1

            outbox = queue.Queue()
            outbox.put(chat_pb2.ClientFrame(resume=chat_pb2.Resume()))
            client_id = str(uuid.uuid4())
            info = chat_pb2.FileInfo(name=name, size=size, sha256=sha256, media_type="application/octet-stream")
            outbox.put(chat_pb2.ClientFrame(send=chat_pb2.SendMessage(client_id=client_id, receiver=args.peer, file=info)))

            def frames():
                while True:
                    frame = outbox.get()
                    if frame is None:
                        return
                    yield frame

            stream = chat.Converse(frames(), metadata=credentials, timeout=remaining())
            try:
                for frame in stream:
                    for error in frame.errors:
                        emit("frame_error", code=error.code, message=error.message)
                        return 1
                    for receipt in frame.receipts:
                        if receipt.client_id == client_id:
                            emit("receipt", id=receipt.id, sequence=receipt.sequence, sha256=sha256, size=size)
                            stream.cancel()
                            return 0
            finally:
                outbox.put(None)
            emit("error", code="OK", message="the stream ended before the receipt")
            return 1
        except grpc.RpcError as err:
            emit("error", code=err.code().name, message=err.details())
            return 1


if __name__ == "__main__":
    sys.exit(main())
