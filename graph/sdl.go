package graph

import "strings"

// SubgraphSDL is the schema this subgraph serves as `_service { sdl }`, for composing a
// supergraph offline (e.g. `rover supergraph compose`) where introspection is off in production.
func SubgraphSDL() string {
	var sdl []string
	for _, src := range sources {
		if !src.BuiltIn {
			sdl = append(sdl, src.Input)
		}
	}
	return strings.Join(sdl, "\n")
}
