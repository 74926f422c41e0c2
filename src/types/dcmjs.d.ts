/** The part of dcmjs (which ships no types) that lungtumor uses: writing a dataset as a DICOM Part 10 file. */
declare module 'dcmjs' {
  type NaturalDataset = Record<string, unknown>;
  interface DicomDictInstance {
    dict: Record<string, unknown>;
    write(options?: { allowInvalidVRLength?: boolean }): ArrayBuffer;
  }
  const dcmjs: {
    data: {
      DicomDict: new (meta: Record<string, unknown>) => DicomDictInstance;
      DicomMetaDictionary: {
        denaturalizeDataset(dataset: NaturalDataset): Record<string, unknown>;
        uid(): string;
      };
    };
    log: { setLevel(level: string): void };
  };
  export default dcmjs;
}
