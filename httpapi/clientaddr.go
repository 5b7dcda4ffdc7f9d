package httpapi

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/workingtracker/api/internal/auth"
)

// withClientAddress records the client's address for the failure guard (websocket connections
// authenticate after the upgrade, from this context).
//
// With no trusted proxies, a request that arrives from a private or loopback address carrying
// X-Forwarded-For looks like one passed on by a proxy the configuration does not know of: every
// client behind it would count as the proxy's one address. That is logged as a warning, at most
// every ten minutes, until TRUSTED_PROXY_HOPS says otherwise.
func withClientAddress(hops int, logger *slog.Logger, next http.Handler) http.Handler {
	var lastWarning atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := clientIP(r, hops)
		if hops == 0 && r.Header.Get("X-Forwarded-For") != "" {
			if addr, err := netip.ParseAddr(ip); err == nil && (addr.IsPrivate() || addr.IsLoopback()) {
				now := time.Now().UnixNano()
				if last := lastWarning.Load(); now-last > int64(10*time.Minute) && lastWarning.CompareAndSwap(last, now) {
					logger.WarnContext(r.Context(), "requests arrive through a proxy (X-Forwarded-For from a private address) "+
						"but TRUSTED_PROXY_HOPS is 0: every client behind it shares one address and one failed-authentication "+
						"budget; set TRUSTED_PROXY_HOPS to the number of proxies", "peer", ip)
				}
			}
		}
		next.ServeHTTP(w, r.WithContext(auth.WithClientAddress(r.Context(), ip)))
	})
}

// clientIP is the address of the client: the peer, or behind hops trusted proxies the address
// the outermost of them saw (X-Forwarded-For's hops-th entry from the right). Entries further
// left are the client's own words and not trusted. An IPv6 client is its /64, the block one
// host is typically given (any address in it is as easy to use as the next).
func clientIP(r *http.Request, hops int) string {
	addr := ""
	if hops > 0 {
		var forwarded []string
		for _, h := range r.Header.Values("X-Forwarded-For") {
			for _, part := range strings.Split(h, ",") {
				forwarded = append(forwarded, strings.TrimSpace(part))
			}
		}
		if len(forwarded) >= hops {
			addr = forwarded[len(forwarded)-hops]
		}
	}
	if addr == "" {
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			addr = host
		} else {
			addr = r.RemoteAddr
		}
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap()
	if ip.Is6() {
		prefix, _ := ip.Prefix(64)
		return prefix.String()
	}
	return ip.String()
}
