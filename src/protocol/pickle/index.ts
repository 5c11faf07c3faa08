/**
 * Pickles from Python multiprocessing clients: a restricted unpickler that
 * builds plain values and uint8 numpy arrays only (nothing in a pickle is
 * ever run), a writer for replies, and the request/reply codec on top.
 */
export { unpickle, type PickleLimits } from './unpickler.js';
export { pickle, pickleProtocolOf } from './pickler.js';
export { NdArray, PyFloat, PyTuple, PyWritableTuple, type PickleDict, type PickleKey, type PickleValue, type WritableValue } from './values.js';
export { encodeNdImage, type EncodedImage } from './ndarray-image.js';
export {
  parseMpMessage,
  encodeMpReply,
  encodeMpError,
  frameError,
  resultsOfFramedJson,
  type MpFrame,
  type MpFrameOrError,
  type MpFrameOutcome,
  type MpMessage,
  type MpResult,
  type MpShape,
} from './mp-request.js';
