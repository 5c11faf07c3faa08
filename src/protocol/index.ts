/**
 * Protocol codecs (wire.md §2-§5): bytes -> typed requests, typed replies ->
 * bytes. Pure and synchronous; no sockets, queues, tiles or config.
 *
 * Per connection on the request port:
 *   ProtocolSniffer -> 'lines'  -> LineDecoder  -> lineCommandOf()      -> LineCommand
 *                   -> 'frames' -> FrameDecoder -> parseFramedRequest() -> FramedRequest
 * and back: formatTileNotice / formatErrorNotice / DONE_NOTICE / BARRIER_REPLY,
 * successResponse / errorResponse / shutdownResponse -> encodeFrameResponse.
 */
export { ProtocolSniffer, type WireProtocol } from './protocol-sniffer.js';

export {
  LineDecoder,
  OVERSIZE_HEAD_BYTES,
  type LineDecoderItem,
  type LineDecoderOptions,
  type LineItem,
  type OversizeLineItem,
} from './line-decoder.js';

export {
  parseLineCommand,
  lineCommandOf,
  formatTileNotice,
  formatErrorNotice,
  safeToken,
  DONE_NOTICE,
  BARRIER_REPLY,
  MAX_NOTICE_NAME_CHARS,
  MAX_NOTICE_REASON_CHARS,
  type LineCommand,
  type TileLineCommand,
  type BarrierLineCommand,
  type StopLineCommand,
  type ViewportLineCommand,
  type CancelLineCommand,
  type DirtyLineCommand,
  type PingLineCommand,
  type StatsLineCommand,
  type InvalidLineCommand,
} from './line-command.js';

export { parseTileSyntax, type TileName } from './tile-syntax.js';

export {
  FrameDecoder,
  type FrameDecoderItem,
  type FrameDecoderOptions,
  type FrameItem,
  type BadFrameItem,
  type FatalFrameItem,
  type TruncatedFrameItem,
} from './frame-decoder.js';

export {
  parseFramedRequest,
  requestIdOf,
  FRAMED_COMMANDS,
  type FramedRequest,
  type FramedRequestResult,
  type FramedCommand,
  type ProcessRequest,
  type RenderRequest,
  type ShutdownRequest,
  type PingRequest,
  type StatsRequest,
  type ViewportRequest,
  type CancelRequest,
} from './framed-request.js';

export { RawJsonNumber, type RequestId } from './request-id.js';

export {
  encodeFrameResponse,
  encodeFrameRequest,
  successResponse,
  errorResponse,
  errorResponseOf,
  shutdownResponse,
  RESULT_FIELDS,
  type ResultItem,
  type ErrorBody,
  type FrameResponseJson,
} from './frame-encoder.js';

export {
  FrameResponseDecoder,
  DEFAULT_MAX_IMAGE_COUNT,
  type FrameResponseDecoderItem,
  type FrameResponseDecoderOptions,
  type FrameResponseItem,
  type FatalResponseItem,
  type TruncatedResponseItem,
} from './frame-response-decoder.js';
