export { TileClient, type TileClientOptions } from './tile-client.js';
export { CompletionListener, parseNotice, type Notice } from './completion-listener.js';
export { FramedClient, type FramedResponse } from './framed-client.js';
