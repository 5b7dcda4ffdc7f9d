//go:build !linux

package httpapi

// readable is true: without a peek, waitReadable does not wait (the read waits instead).
func readable(uintptr) bool { return true }
