//go:build race

package jobs_test

// raceEnabled: the race detector slows image decoding and resampling some twenty times (a
// 1080p screenshot takes seconds), so tests that process images use smaller ones under it.
const raceEnabled = true
