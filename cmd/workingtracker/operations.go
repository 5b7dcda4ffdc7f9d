package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/workingtracker/api/graph"
	"github.com/workingtracker/api/internal/persisted"
	"github.com/workingtracker/api/store"
)

// operationsCmd registers a tenant's trusted documents from an Apollo persisted-query manifest
// (push) and lists them (list). It works in production too: deployments push the manifests
// their clients were built with.
func operationsCmd(ctx context.Context, e *env, stdout io.Writer, args []string) error {
	const use = "operations push --tenant SLUG FILE | operations list --tenant SLUG"
	if len(args) == 0 {
		return fmt.Errorf("%w: %s", errUsage, use)
	}
	fs := flag.NewFlagSet("operations "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	tenant := fs.String("tenant", "", "tenant slug")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *tenant == "" {
		return fmt.Errorf("%w: --tenant is required: %s", errUsage, use)
	}
	var file string
	switch {
	case args[0] == "push" && fs.NArg() == 1:
		file = fs.Arg(0)
	case args[0] == "list" && fs.NArg() == 0:
	default:
		return fmt.Errorf("%w: %s", errUsage, use)
	}
	s, err := e.openStore(ctx, store.Opts{MaxConns: 2})
	if err != nil {
		return err
	}
	defer s.Close()
	t, err := s.TenantBySlug(ctx, *tenant)
	if err != nil {
		return fmt.Errorf("tenant %q: %w", *tenant, err)
	}
	scope := store.Scope{TenantID: t.ID} // no actor: registered_by stays empty
	registrar := persisted.Registrar{Store: s, Schema: graph.NewExecutableSchema(graph.Config{}).Schema()}
	if file != "" {
		return pushOperations(ctx, registrar, scope, file, stdout)
	}
	ops, err := registrar.PersistedOperations(ctx, scope, store.PersistedOperationsParams{})
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tVERSION\tTYPE\tID\tREGISTERED BY\tREGISTERED\tFIRST USED\tLAST USED")
	for _, op := range ops {
		by := "operations push"
		if op.RegisteredBy != nil {
			by = op.RegisteredBy.String()
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", op.Name, op.Version, op.Type, op.ID, by,
			op.RegisteredAt.Format(time.RFC3339), timeOrDash(op.FirstUsedAt), timeOrDash(op.LastUsedAt))
	}
	return w.Flush()
}

func pushOperations(ctx context.Context, registrar persisted.Registrar, scope store.Scope, file string, stdout io.Writer) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	ops, err := persisted.ParseManifest(f)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	ctx = commandAudit(ctx, actionOperationsPush, "PersistedOperation", "operations push", "operations")
	registered, err := registrar.RegisterOperations(ctx, scope, ops)
	if err != nil {
		return fmt.Errorf("%s: nothing registered: %w", file, err)
	}
	for _, op := range registered {
		fmt.Fprintf(stdout, "%s v%d %s %s\n", op.Name, op.Version, op.Type, op.ID)
	}
	fmt.Fprintf(stdout, "%d operations registered from %s\n", len(registered), file)
	return nil
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
