/**
 * Python `multiprocessing.connection` clients (docs/protocol.md): framing,
 * the authkey handshake, one session per connection, the listener.
 */
export { MpServer, mayConnect, type MpServerOptions } from './mp-server.js';
export { MpSession, type MpSessionOptions } from './mp-session.js';
export { MpMessageDecoder, encodeMpMessage, type MpDecoderItem, type MpMessageItem } from './mp-framing.js';
export { makeChallenge, verifyResponse, answerChallenge, AUTH_MESSAGE_BYTES, CHALLENGE, WELCOME, FAILURE, type AuthForm } from './mp-auth.js';
