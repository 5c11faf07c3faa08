import { fileURLToPath } from 'node:url';
import { loadPackageDefinition, type GrpcObject, type ServiceClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';

/** The .proto files shipped with the package (src/ and dist/ sit at the same depth). */
export const PROTO_DIR = fileURLToPath(new URL('../../../proto', import.meta.url));

export const VISION_PROTO = 'mosaicd/v1/vision.proto';
export const SEED_PROTO = 'Datas.proto';

/** Field names as in the .proto; absent fields read as their defaults; bytes as Buffers. */
const LOADER_OPTIONS: Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR] };

export interface LoadedServices {
  vision: ServiceDefinition;
  mainServer: ServiceDefinition;
  /** Client constructors, for the TypeScript tests and benches. */
  VisionClient: ServiceClientConstructor;
  MainServerClient: ServiceClientConstructor;
}

let loaded: LoadedServices | undefined;

/** Parses the shipped .proto files once per process. */
export function loadServices(): LoadedServices {
  if (loaded) return loaded;
  const root = loadPackageDefinition(loadSync([VISION_PROTO, SEED_PROTO], LOADER_OPTIONS));
  const v1 = (root['mosaicd'] as GrpcObject)['v1'] as GrpcObject;
  const VisionClient = v1['Vision'] as ServiceClientConstructor;
  const MainServerClient = root['MainServer'] as ServiceClientConstructor;
  loaded = { vision: VisionClient.service, mainServer: MainServerClient.service, VisionClient, MainServerClient };
  return loaded;
}
