// Package cloud opens the cloud buckets BLOB_URL may name in production: s3://bucket (AWS S3 or
// an S3-compatible store: ?region=, ?endpoint=, ?use_path_style=true) and gs://bucket (Google
// Cloud Storage), with the providers' default credential chains (AWS_* variables, instance
// roles; Application Default Credentials). Signed URLs are the providers' presigned URLs, which
// need credentials that can sign (an access key, or a service account's key or signBlob
// permission).
//
// It is apart from package blobs so that only the binary links the cloud SDKs: tests and tools
// use file:// buckets. The drivers are gocloud's, opened through gocloud's default URL mux,
// where the drivers register themselves when imported; this package is the one place they are.
package cloud

import (
	"context"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/gcsblob" // gs://
	_ "gocloud.dev/blob/s3blob"  // s3://
)

// Open opens an s3:// or gs:// bucket (blobs.Opts.Cloud).
func Open(ctx context.Context, url string) (*blob.Bucket, error) {
	return blob.DefaultURLMux().OpenBucket(ctx, url)
}
