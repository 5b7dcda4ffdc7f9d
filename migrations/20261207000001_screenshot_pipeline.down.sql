ALTER TABLE tenants DROP COLUMN blur_screenshots;
DROP INDEX screenshots_time_entry_idx;
ALTER TABLE screenshots
    DROP COLUMN original_key,
    DROP COLUMN original_bytes,
    DROP COLUMN original_format,
    DROP COLUMN image_bytes,
    DROP COLUMN thumbnail_bytes,
    DROP COLUMN updated_at;
