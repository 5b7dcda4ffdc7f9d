-- The screenshot pipeline (issue 11): the agent's upload is kept as the original, the processing
-- job writes the fitted image and its thumbnail beside it. blob_key and thumbnail_key (from the
-- core schema) are the processed results; original_key is the upload. Byte sizes are recorded so
-- that clients can show them without a HEAD on the blob store.
ALTER TABLE screenshots
    ADD COLUMN original_key    text,
    ADD COLUMN original_bytes  integer CHECK (original_bytes >= 0),
    ADD COLUMN original_format text CHECK (original_format IN ('png', 'jpeg', 'webp')),
    ADD COLUMN image_bytes     integer CHECK (image_bytes >= 0),
    ADD COLUMN thumbnail_bytes integer CHECK (thumbnail_bytes >= 0),
    ADD COLUMN updated_at      timestamptz NOT NULL DEFAULT now();

-- A time entry's screenshots (TimeEntry.screenshots, and the cleanup when an entry is deleted).
CREATE INDEX screenshots_time_entry_idx ON screenshots (tenant_id, time_entry_id, captured_at DESC)
    WHERE time_entry_id IS NOT NULL;

-- Privacy: when set, every processed screenshot and thumbnail of the tenant is blurred beyond
-- reading (an ADMIN sets it with setScreenshotBlur). Uploads keep their original until processed.
ALTER TABLE tenants ADD COLUMN blur_screenshots boolean NOT NULL DEFAULT false;
