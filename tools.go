//go:build tools

// Package tools pins the code generators `make generate` runs, so every machine generates the
// same code from the same versions.
package tools

import (
	_ "github.com/99designs/gqlgen"
)
