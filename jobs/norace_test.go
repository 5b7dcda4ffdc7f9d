//go:build !race

package jobs_test

// raceEnabled: see race_test.go.
const raceEnabled = false
