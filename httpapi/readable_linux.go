package httpapi

import "syscall"

// readable reports whether a read of socket fd would not block: data waits, the peer closed it
// or it failed (a read then says which). It peeks, reading nothing.
func readable(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN
}
