DROP FUNCTION interrupted_screenshots(timestamptz, integer);
DROP INDEX screenshots_unfinished_updated_idx;
