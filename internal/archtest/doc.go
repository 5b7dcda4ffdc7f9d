// Package archtest holds no code: its tests keep the layout's promises (which package owns
// what, which may not import which), so that a change that breaks one fails `make test`
// instead of waiting for a reader to notice.
package archtest
