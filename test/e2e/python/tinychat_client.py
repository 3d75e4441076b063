"""A TinyChat client in Python, built only from proto/tinychat/v1/chat.proto.

It shows that the contract is enough for another language: it logs in, lists
users, opens Converse, sends one message to a peer, waits for its receipt and
then for one message from that peer. Every step prints one JSON object on its
own line (an "event" field says which step), so a test can read the output.

Usage:
  python3 tinychat_client.py --stubs DIR --target HOST:PORT --user NAME \
      --peer NAME --body TEXT [--timeout SECONDS]

DIR holds the modules that grpc_tools.protoc generated from chat.proto
(tinychat/v1/chat_pb2.py and chat_pb2_grpc.py). Exits 0 once the peer's
message has arrived, 1 on any error or when --timeout passes first.
"""

import argparse
import json
import os
import queue
import sys
import time
import uuid


def emit(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


def frames(outbox):
    """Yields the frames put on outbox until None, which half-closes the stream."""
    while True:
        frame = outbox.get()
        if frame is None:
            return
        yield frame


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stubs", required=True, help="folder holding the generated tinychat/v1 modules")
    parser.add_argument("--target", required=True, help="server address, HOST:PORT")
    parser.add_argument("--user", required=True, help="name to log in as")
    parser.add_argument("--peer", required=True, help="user to message and to wait for")
    parser.add_argument("--body", required=True, help="text of the message to send")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for everything")
    args = parser.parse_args()

    sys.path.insert(0, args.stubs)
    import grpc
    from tinychat.v1 import chat_pb2, chat_pb2_grpc

    deadline = time.monotonic() + args.timeout

    def remaining():
        return max(0.1, deadline - time.monotonic())

    with grpc.insecure_channel(args.target) as channel:
        stub = chat_pb2_grpc.ChatStub(channel)
        try:
            # The password comes from the environment, never from argv (where ps shows it).
            invocation = chat_pb2.Invocation(name="LOGIN", args=[args.user, os.environ["TINYCHAT_PASSWORD"]])
            login = stub.Command(chat_pb2.CommandRequest(invocation=invocation), timeout=remaining())
            # The token stays private: only what a person may see is printed.
            emit("login", user=login.login.user, registered=login.login.registered, text=login.text)
            credentials = [("authorization", f"Bearer {login.login.token}")]

            users = stub.Command(chat_pb2.CommandRequest(line="/USERS"), metadata=credentials, timeout=remaining())
            emit("users", users=[{"name": u.name, "online": u.online} for u in users.users.users])

            outbox = queue.Queue()
            # Resume with after_sequence unset: start after the acknowledged position.
            outbox.put(chat_pb2.ClientFrame(resume=chat_pb2.Resume()))
            client_id = str(uuid.uuid4())
            outbox.put(
                chat_pb2.ClientFrame(send=chat_pb2.SendMessage(client_id=client_id, receiver=args.peer, body=args.body))
            )
            stream = stub.Converse(frames(outbox), metadata=credentials, timeout=remaining())
            got_receipt = False
            got_message = False
            try:
                for frame in stream:
                    if frame.HasField("ready"):
                        emit("ready", user=frame.ready.user, last_sequence=frame.ready.last_sequence)
                    for error in frame.errors:
                        emit("frame_error", code=error.code, message=error.message, client_id=error.client_id)
                        return 1
                    for receipt in frame.receipts:
                        got_receipt = got_receipt or receipt.client_id == client_id
                        emit(
                            "receipt",
                            client_id=receipt.client_id,
                            id=receipt.id,
                            sequence=receipt.sequence,
                            receiver=receipt.receiver,
                            duplicate=receipt.duplicate,
                        )
                    for message in frame.messages:
                        if got_message or message.sender.lower() != args.peer.lower():
                            continue
                        got_message = True
                        emit(
                            "message",
                            sender=message.sender,
                            receiver=message.receiver,
                            body=message.body,
                            id=message.id,
                            sequence=message.sequence,
                        )
                        outbox.put(chat_pb2.ClientFrame(ack=chat_pb2.Ack(sequence=message.sequence)))
                    if got_receipt and got_message:
                        stream.cancel()
                        return 0
            finally:
                outbox.put(None)
            emit("error", code="OK", message="the stream ended before the receipt and the peer's message arrived")
            return 1
        except grpc.RpcError as err:
            message = err.details()
            if err.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                message = f"gave up after {args.timeout:g} s; is the server at {args.target} up, and did {args.peer} answer?"
            emit("error", code=err.code().name, message=message)
            return 1


if __name__ == "__main__":
    sys.exit(main())
