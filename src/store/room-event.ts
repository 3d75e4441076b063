/** What a room log entry records. */
export type RoomEventKind = 'message' | 'joined' | 'left' | 'kicked' | 'topic';
