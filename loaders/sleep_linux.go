package loaders

import (
	"runtime"
	"syscall"
	"time"
)

// sleepFor blocks the calling goroutine's thread in the kernel for d, which wakes it within
// microseconds (time.Sleep wakes an idle process in whole milliseconds). The goroutine uses no
// processor meanwhile; the runtime hands its P to other goroutines if the sleep outlasts a
// scheduler tick while they wait. The thread's timer slack is set to 1 µs first: Linux's default
// of 50 µs lets a sleep overrun by as much as the whole quiet window (measured +40 µs a batch).
func sleepFor(d time.Duration) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const prSetTimerSlack = 29
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, uintptr(time.Microsecond), 0)
	ts := syscall.NsecToTimespec(int64(d))
	_ = syscall.Nanosleep(&ts, nil)
}
