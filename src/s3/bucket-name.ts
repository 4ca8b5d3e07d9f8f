// S3 bucket names (the rules of general purpose buckets): 3-63 characters, lower-case letters, digits,
// dots and hyphens, starting and ending with a letter or digit, no "..", not an IP address. A bucket is a
// top-level folder, so this also decides which top-level folders S3 shows as buckets.
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const IP_ADDRESS = /^\d+\.\d+\.\d+\.\d+$/;

export function isBucketName(name: string): boolean {
  return BUCKET_NAME.test(name) && !name.includes("..") && !IP_ADDRESS.test(name);
}
