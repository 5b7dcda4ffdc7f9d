package resolvers

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/workingtracker/api/loaders"
	"github.com/workingtracker/api/store"
)

func screenshotLoader(l *loaders.Loaders) *loaders.Loader[uuid.UUID, *store.Screenshot] {
	return l.Screenshot()
}

// blobURL signs the URL of a processed screenshot's file at key: null until the screenshot is
// PROCESSED (no key yet, or one a retry is replacing), or when no signer is configured.
func (r *Resolver) blobURL(ctx context.Context, s *store.Screenshot, key *string) (*string, error) {
	if key == nil || s.Status != store.ScreenshotProcessed || r.deps.BlobURLs == nil {
		return nil, nil
	}
	url, err := r.deps.BlobURLs.SignURL(ctx, *key)
	if err != nil {
		return nil, fmt.Errorf("sign screenshot url: %w", err)
	}
	return &url, nil
}
