DROP FUNCTION due_screenshot_blob_intents(timestamptz, integer);
DROP TABLE screenshot_blob_intents;
