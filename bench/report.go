package bench

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// The targets the API is held to, measured as ratios within one run so that the machine's
// speed cancels out.
const (
	// MinThroughputRatio: GraphQL serves at least this fraction of the floor's requests per
	// second at ThroughputClients concurrent clients, on every workload.
	MinThroughputRatio = 0.5
	ThroughputClients  = 16
	// MaxP95Factor: GraphQL's p95 latency with one client is at most this multiple of the floor's.
	MaxP95Factor = 3.0
)

// Verdict is one target's outcome.
type Verdict struct {
	Target string
	// Met is false when a workload misses the target or was not measured for it.
	Met     bool
	Details []string // one per workload
}

// Verdicts judges the targets over res.
func (res *Result) Verdicts() []Verdict {
	throughput := Verdict{Target: fmt.Sprintf("GraphQL throughput ≥ %.0f%% of the floor's at %d clients",
		MinThroughputRatio*100, ThroughputClients), Met: true}
	latency := Verdict{Target: fmt.Sprintf("GraphQL p95 at 1 client ≤ %.0f× the floor's", MaxP95Factor), Met: true}
	for _, w := range res.workloads() {
		if c, ok := res.cell(w, ThroughputClients); ok {
			r := c.Ratio()
			throughput.Met = throughput.Met && r >= MinThroughputRatio
			throughput.Details = append(throughput.Details, fmt.Sprintf("%s %.2f %s", w, r, mark(r >= MinThroughputRatio)))
		} else {
			throughput.Met = false
			throughput.Details = append(throughput.Details, w+" not measured")
		}
		if c, ok := res.cell(w, 1); ok && c.Floor.Percentile(95) > 0 {
			f := float64(c.GraphQL.Percentile(95)) / float64(c.Floor.Percentile(95))
			latency.Met = latency.Met && f <= MaxP95Factor
			latency.Details = append(latency.Details, fmt.Sprintf("%s %.2f× %s", w, f, mark(f <= MaxP95Factor)))
		} else {
			latency.Met = false
			latency.Details = append(latency.Details, w+" not measured")
		}
	}
	return []Verdict{throughput, latency}
}

// TargetsMet reports whether every target is met.
func (res *Result) TargetsMet() bool {
	for _, v := range res.Verdicts() {
		if !v.Met {
			return false
		}
	}
	return true
}

func (res *Result) workloads() []string {
	var names []string
	for _, c := range res.Cells {
		if len(names) == 0 || names[len(names)-1] != c.Workload {
			names = append(names, c.Workload)
		}
	}
	return names
}

func (res *Result) cell(workload string, clients int) (Cell, bool) {
	for _, c := range res.Cells {
		if c.Workload == workload && c.Clients == clients {
			return c, true
		}
	}
	return Cell{}, false
}

// WriteMarkdown writes the results table, the verdicts and the statement statistics.
func (res *Result) WriteMarkdown(w io.Writer, header []string) error {
	var b strings.Builder
	for _, h := range header {
		fmt.Fprintf(&b, "%s  \n", h)
	}
	b.WriteString("\n| workload | clients | GraphQL req/s | floor req/s | ratio | GraphQL p50 / p95 / p99 (ms) | floor p50 / p95 / p99 (ms) |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|\n")
	for _, c := range res.Cells {
		fmt.Fprintf(&b, "| %s | %d | %.1f | %.1f | %.2f | %s | %s |\n", c.Workload, c.Clients,
			c.GraphQL.Throughput(), c.Floor.Throughput(), c.Ratio(), percentiles(c.GraphQL), percentiles(c.Floor))
	}
	b.WriteString("\n")
	for _, v := range res.Verdicts() {
		state := "MET"
		if !v.Met {
			state = "NOT MET"
		}
		fmt.Fprintf(&b, "- **%s: %s** — %s\n", v.Target, state, strings.Join(v.Details, ", "))
	}
	if res.StatementsErr != nil {
		fmt.Fprintf(&b, "\npg_stat_statements unavailable: %v\n", res.StatementsErr)
	} else {
		writeStatements(&b, "GraphQL side", res.GraphQLStatements, res.PoolSize)
		writeStatements(&b, "floor", res.FloorStatements, res.PoolSize)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Statements run at least this often count as hot in the planning verdict.
const hotCalls = 100

// statementsShown caps each side's statement table.
const statementsShown = 15

// writeStatements lists the most called statements with calls against plans. A statement pgx
// prepares and PostgreSQL runs with a generic plan is planned once per pooled connection, so
// its plans stay at most the pool size however many times it runs; plans that grow with calls
// mean a statement is planned per execution.
func writeStatements(b *strings.Builder, side string, stats []StatementStat, poolSize int32) {
	fmt.Fprintf(b, "\npg_stat_statements, %s (warm-ups and equivalence samples included; top %d by calls):\n\n",
		side, statementsShown)
	b.WriteString("| calls | plans | mean exec (ms) | mean plan (ms) | rows/call | statement |\n")
	b.WriteString("|--:|--:|--:|--:|--:|---|\n")
	for i, s := range stats {
		if i == statementsShown {
			break
		}
		var meanExec, meanPlan, rows float64
		if s.Calls > 0 {
			meanExec = float64(s.ExecTime) / float64(s.Calls) / float64(time.Millisecond)
			rows = float64(s.Rows) / float64(s.Calls)
		}
		if s.Plans > 0 {
			meanPlan = float64(s.PlanTime) / float64(s.Plans) / float64(time.Millisecond)
		}
		fmt.Fprintf(b, "| %d | %d | %.3f | %.3f | %.1f | `%s` |\n", s.Calls, s.Plans, meanExec, meanPlan, rows,
			truncate(strings.Join(strings.Fields(s.Query), " "), 160))
	}
	var hot, calls, plans, worst int64
	for _, s := range stats {
		if s.Calls >= hotCalls {
			hot++
			calls += s.Calls
			plans += s.Plans
			worst = max(worst, s.Plans)
		}
	}
	switch {
	case hot == 0:
		fmt.Fprintf(b, "\nNo statement ran %d times or more.\n", hotCalls)
	case worst <= int64(poolSize):
		fmt.Fprintf(b, "\nPlanned once per connection: %d hot statements (≥ %d calls) ran %d times with %d plans in all, "+
			"at most %d for any one (pool: %d connections).\n", hot, hotCalls, calls, plans, worst, poolSize)
	default:
		fmt.Fprintf(b, "\nRE-PLANNED: a hot statement was planned %d times, more than the %d connections of the pool: "+
			"%d hot statements ran %d times with %d plans in all.\n", worst, poolSize, hot, calls, plans)
	}
}

func percentiles(s Sample) string {
	return fmt.Sprintf("%s / %s / %s", ms(s.Percentile(50)), ms(s.Percentile(95)), ms(s.Percentile(99)))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func mark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}
