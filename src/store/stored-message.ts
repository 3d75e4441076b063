import type { RoomEventKind } from './room-event';

/** How a message is meant to be shown: plain text, or an action ("/ME waves"). */
export type MessageKind = 'text' | 'action';

/** The file a file message carries: what the receiver sees before downloading it. */
export interface FileRef {
  /** The file's name, without folders. */
  name: string;
  /** Size in bytes. */
  size: number;
  /** SHA-256 of the contents, 64 lower-case hex digits: the key of its bytes. */
  sha256: string;
  /** The media type the sender gave ("image/png"), or ''. */
  mediaType: string;
}

/** A stored message, with both users' names resolved. */
export interface StoredMessage {
  id: number;
  senderId: number;
  receiverId: number;
  sender: string;
  receiver: string;
  clientId: string;
  body: string;
  time: number;
  /** Position in the receiver's inbox. */
  sequence: number;
  kind: MessageKind;
  /**
   * For an entry of a room's log: the room's name. Its id is then the log
   * entry's (ids of room entries and of one-to-one messages are counted
   * apart), and the receiver is the member whose inbox holds it.
   */
  room?: string;
  /** For a room entry: what it records ('message' for a message). */
  roomEvent?: RoomEventKind;
  /** Set for a file message; absent otherwise. */
  file?: FileRef;
}
