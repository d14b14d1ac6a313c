// Types of the DICOM codec packages, which ship none (or none that TypeScript's "node" module
// resolution finds through their package exports).

/** An Emscripten module factory of the @cornerstonejs codecs (decode-only WebAssembly builds). */
interface CodecModuleOptions {
  print?: (text: string) => void;
  printErr?: (text: string) => void;
  locateFile?: (file: string, prefix: string) => string;
}
interface CodecFrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned?: boolean;
}
interface CodecDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getFrameInfo(): CodecFrameInfo;
  getDecodedBuffer(): Uint8Array;
  delete(): void;
}

declare module '@cornerstonejs/codec-openjpeg/decodewasmjs' {
  const factory: (options?: CodecModuleOptions) => Promise<{ J2KDecoder: new () => CodecDecoder }>;
  export default factory;
}

declare module '@cornerstonejs/codec-charls/decodewasmjs' {
  const factory: (options?: CodecModuleOptions) => Promise<{ JpegLSDecoder: new () => CodecDecoder }>;
  export default factory;
}

declare module 'jpeg-lossless-decoder-js' {
  export const lossless: {
    Decoder: new () => {
      /** Decodes a JPEG lossless (process 14) frame; samples of more than 8 bits come back as 16-bit words. */
      decode(buffer: ArrayBuffer, offset?: number, length?: number): Uint8Array | Uint16Array;
      numComp: number;
      xDim: number;
      yDim: number;
    };
  };
}
