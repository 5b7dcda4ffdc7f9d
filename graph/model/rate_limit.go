package model

// RateLimit is a caller's query-cost budget: the rateLimit query, and extensions.cost's
// throttleStatus on every response.
type RateLimit struct {
	MaximumAvailable   int     `json:"maximumAvailable"`
	CurrentlyAvailable int     `json:"currentlyAvailable"`
	RestoreRate        float64 `json:"restoreRate"`
	MaximumQueryCost   int     `json:"maximumQueryCost"`
}
