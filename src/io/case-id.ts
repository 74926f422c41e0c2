/** A scan file's case id from its name (no folder): the part before the first '_' (LUNG1-001_vol.nii.gz → LUNG1-001), else the name without .nii/.nii.gz. */
export function caseIdOfName(name: string): string {
  const cut = name.indexOf('_');
  return cut >= 0 ? name.slice(0, cut) : name.replace(/\.nii(\.gz)?$/, '');
}
