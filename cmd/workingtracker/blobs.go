package main

import (
	"fmt"
	"path/filepath"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
)

// openBlobs opens the screenshots' blob storage: for now a file:// bucket under DATA_DIR/blobs.
// wired to internal/blobs at merge (BLOB_URL: file://, s3://, gs://).
func (e *env) openBlobs() (*blob.Bucket, error) {
	b, err := fileblob.OpenBucket(filepath.Join(e.cfg.DataDir, "blobs"), &fileblob.Options{CreateDir: true})
	if err != nil {
		return nil, fmt.Errorf("open blob storage: %w", err)
	}
	return b, nil
}
