package main

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/workingtracker/api/internal/blobs"
	"github.com/workingtracker/api/internal/blobs/cloud"
)

// openBlobs opens the bucket of BLOB_URL (serve's uploads and /blobs/, the worker's
// processing): by default a file:// bucket under DATA_DIR/blobs. A file:// bucket's URLs are
// signed with BLOB_SIGNING_KEY; development generates one under DATA_DIR, production refuses to
// start without it.
func (e *env) openBlobs(ctx context.Context) (*blobs.Bucket, error) {
	c := e.cfg.Blobs
	url := c.URL
	if url == "" {
		var err error
		if url, err = blobs.FileURL(filepath.Join(e.cfg.DataDir, "blobs")); err != nil {
			return nil, err
		}
	}
	key := c.SigningKey
	if c.Local() && len(key) == 0 {
		if !e.cfg.Development() {
			return nil, errors.New("BLOB_SIGNING_KEY (or BLOB_SIGNING_KEY_FILE) is required in production with a file:// BLOB_URL: " +
				"it signs the URLs the API serves screenshots at")
		}
		var err error
		if key, err = blobs.LoadOrCreateKey(filepath.Join(e.cfg.DataDir, "blob-signing-key")); err != nil {
			return nil, err
		}
	}
	return blobs.Open(ctx, blobs.Opts{URL: url, SigningKey: key, URLTTL: c.URLTTL, PublicURL: c.PublicURL, Cloud: cloud.Open})
}
