//go:build !linux

package loaders

import "time"

// sleepFor sleeps for d; outside Linux it is time.Sleep (millisecond wake-ups when idle).
func sleepFor(d time.Duration) { time.Sleep(d) }
