// Command workingtracker is the Working Tracker API: one binary whose subcommands serve the
// GraphQL API, work background jobs, migrate and seed the database, and mint development
// tokens.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/workingtracker/api/graph"
)

func main() {
	// Libraries that print through the standard log package (gqlgen's websocket transport,
	// net/http) write JSON lines like everything else.
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "workingtracker:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

const usage = `usage: workingtracker <command> [flags]

commands:
  serve                     serve the GraphQL API (HTTP_ADDR, default :8080) and work
                            background jobs in process (WORKERS, default 10; 0: none)
  worker                    work background jobs only (WORKERS at once), for deployments
                            that scale workers apart from the API
  migrate up|down|status    apply, roll back (last group) or list migrations
  seed [--scale small|large] [--anchor YYYY-MM-DD]
                            load deterministic demo data (two tenants) into an empty database
  token [--tenant acme] [--role ADMIN] [--user ID] [--mfa] [--ttl 8h]
                            mint a development token the development server accepts
  keys generate             print a fresh PII_MASTER_KEY (needs no configuration)
  keys rotate [--tenant SLUG]
                            give each tenant (or one) a new primary key of personal data
                            and enqueue the re-encryption of its values onto it
  keys reencrypt [--tenant SLUG]
                            enqueue the re-encryption only (after a failed enqueue)
  keys status [--tenant SLUG]
                            each tenant's keys and values per key and column
  keys retire KEYID [--tenant SLUG]
                            remove a key no value uses any more (refused while one does)
  operations push --tenant SLUG FILE
                            register the operations of an Apollo persisted-query manifest
                            (trusted documents; all or none)
  operations list --tenant SLUG
                            list a tenant's registered operations with their first and last use
  audit verify [--tenant SLUG]
                            recompute the audit trail's hash chains; exits non-zero naming
                            the first broken entry
  devdb start|stop|url      manage the private local PostgreSQL cluster (development, tests)
  schema                    print the subgraph SDL (what _service { sdl } serves), for
                            composing a supergraph offline

Configuration is read from the environment; see README.md.`

// run is the whole program, with its dependencies passed in so tests can drive it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errUsage
	}
	if args[0] == "schema" { // needs no configuration: it describes the binary itself
		_, err := io.WriteString(stdout, graph.SubgraphSDL()+"\n")
		return err
	}
	if len(args) == 2 && args[0] == "keys" && args[1] == "generate" { // before configuration: a first key
		return keysGenerate(stdout)
	}
	env, err := loadEnv(getenv)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: env.cfg.LogLevel}))
	switch args[0] {
	case "serve":
		return serve(ctx, env, logger, stdout, args[1:])
	case "worker":
		return workerCmd(ctx, env, logger, stdout, args[1:])
	case "migrate":
		return migrateCmd(ctx, env, stdout, args[1:])
	case "seed":
		return seedCmd(ctx, env, stdout, args[1:])
	case "token":
		return tokenCmd(ctx, env, stdout, stderr, args[1:])
	case "keys":
		return keysCmd(ctx, env, logger, stdout, args[1:])
	case "operations":
		return operationsCmd(ctx, env, stdout, args[1:])
	case "audit":
		return auditCmd(ctx, env, stdout, args[1:])
	case "devdb":
		return devdbCmd(ctx, env, stdout, args[1:])
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s\n", args[0], usage)
		return errUsage
	}
}
