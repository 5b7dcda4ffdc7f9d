// Package devpg provisions a private PostgreSQL cluster from the server binaries installed on the
// machine, so that `make run` and `make test` need nothing but a checkout. It is a development
// tool: production deployments always set DATABASE_URL.
//
// The cluster lives in a folder of its own, listens on loopback only, trusts local connections
// and is started with pg_ctl, so it outlives the command that started it and is reused by the
// next one. When the caller is root (CI, containers) the server runs as the "postgres" system
// user, because PostgreSQL refuses to run as root.
package devpg

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Opts configures a cluster.
type Opts struct {
	// Dir holds the cluster's data directory, socket and log. Created when missing.
	Dir string
	// Port is the loopback TCP port the server listens on.
	Port int
	// Database is created when missing and named in the returned URL.
	Database string
	// Fast trades durability for speed (fsync off): for test clusters only.
	Fast bool
}

// Cluster is a running private cluster.
type Cluster struct {
	opts   Opts
	bindir string
	runAs  *user.User // nil when the server runs as the current user
}

// URL is the connection string of the cluster's database.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.opts.Port, c.opts.Database)
}

func (c *Cluster) dataDir() string { return filepath.Join(c.opts.Dir, "data") }
func (c *Cluster) logFile() string { return filepath.Join(c.opts.Dir, "postgres.log") }

// Ensure initialises the cluster if needed, starts it if it is not running, and creates the
// database. It is idempotent and safe to call from concurrent processes: a file lock serialises
// them.
func Ensure(ctx context.Context, opts Opts) (*Cluster, error) {
	if opts.Dir == "" || opts.Port == 0 || opts.Database == "" {
		return nil, errors.New("devpg: Dir, Port and Database are required")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("devpg: resolve dir: %w", err)
	}
	opts.Dir = dir
	bindir, err := findBinDir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{opts: opts, bindir: bindir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("devpg: running as root needs the 'postgres' system user (installed with the server package): %w", err)
		}
		c.runAs = u
	}
	// The parent holds other development files (a signing key with its own 0600 mode); the
	// server's user must be able to pass through it.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("devpg: create %s: %w", filepath.Dir(dir), err)
	}
	if c.runAs != nil && !c.reachable(filepath.Dir(dir)) {
		// A checkout under a private home folder cannot host a cluster that runs as another
		// user; keep the cluster in a folder of its own under the system's temporary folder.
		sum := sha256.Sum256([]byte(dir))
		dir = filepath.Join(os.TempDir(), "workingtracker-pg-"+hex.EncodeToString(sum[:6]))
		c.opts.Dir = dir
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return nil, fmt.Errorf("devpg: create %s: %w", filepath.Dir(dir), err)
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("devpg: create %s: %w", dir, err)
	}
	if err := c.checkOwnDir(dir); err != nil {
		return nil, err
	}
	unlock, err := lockFile(filepath.Join(dir, ".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := c.chown(dir); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(c.dataDir(), "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := c.initdb(ctx); err != nil {
			return nil, err
		}
	}
	if !c.running(ctx) {
		if err := c.start(ctx); err != nil {
			return nil, err
		}
	} else if port, err := c.runningPort(); err == nil {
		// Already running, perhaps started with another port: use the one it listens on.
		c.opts.Port = port
	}
	if err := c.createDatabase(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Stop shuts the cluster down (fast mode: open sessions are disconnected).
func Stop(ctx context.Context, dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	bindir, err := findBinDir()
	if err != nil {
		return err
	}
	c := &Cluster{opts: Opts{Dir: dir}, bindir: bindir}
	if os.Geteuid() == 0 {
		if c.runAs, err = user.Lookup("postgres"); err != nil {
			return err
		}
	}
	if !c.running(ctx) {
		return nil
	}
	return c.run(ctx, "pg_ctl", "stop", "-D", c.dataDir(), "-m", "fast", "-w")
}

func (c *Cluster) initdb(ctx context.Context) error {
	if err := c.run(ctx, "initdb", "-D", c.dataDir(), "-U", "postgres", "-A", "trust",
		"--encoding=UTF8", "--no-locale", "--no-sync"); err != nil {
		return fmt.Errorf("devpg: initdb: %w", err)
	}
	conf := []string{
		"listen_addresses = '127.0.0.1'",
		fmt.Sprintf("port = %d", c.opts.Port),
		fmt.Sprintf("unix_socket_directories = '%s'", c.opts.Dir),
		"max_connections = 300",
		"shared_buffers = 512MB",
		"work_mem = 16MB",
		"maintenance_work_mem = 256MB",
		// pg_stat_statements proves that hot statements are planned once (calls vs plans).
		"shared_preload_libraries = 'pg_stat_statements'",
		"pg_stat_statements.track_planning = on",
		"max_wal_size = 4GB",
		"log_min_duration_statement = -1",
		"timezone = 'UTC'",
	}
	if c.opts.Fast {
		conf = append(conf, "fsync = off", "synchronous_commit = off", "full_page_writes = off")
	}
	f, err := os.OpenFile(filepath.Join(c.dataDir(), "postgresql.auto.conf"), os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("devpg: open config: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(conf, "\n") + "\n"); err != nil {
		return fmt.Errorf("devpg: write config: %w", err)
	}
	return nil
}

func (c *Cluster) start(ctx context.Context) error {
	// The port is given at every start, not only at initdb, so a cluster can move to a free port.
	if err := c.run(ctx, "pg_ctl", "start", "-D", c.dataDir(), "-l", c.logFile(), "-w", "-t", "60",
		"-o", fmt.Sprintf("-p %d", c.opts.Port)); err != nil {
		tail, _ := os.ReadFile(c.logFile())
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return fmt.Errorf("devpg: start server (log %s):\n%s\n%w", c.logFile(), tail, err)
	}
	return nil
}

func (c *Cluster) running(ctx context.Context) bool {
	return c.run(ctx, "pg_ctl", "status", "-D", c.dataDir()) == nil
}

// runningPort reads the port of the running server from its postmaster.pid (fourth line).
func (c *Cluster) runningPort() (int, error) {
	b, err := os.ReadFile(filepath.Join(c.dataDir(), "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("devpg: read postmaster.pid: %w", err)
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 4 {
		return 0, errors.New("devpg: postmaster.pid has no port line")
	}
	return strconv.Atoi(strings.TrimSpace(lines[3]))
}

func (c *Cluster) createDatabase(ctx context.Context) error {
	// Wait until the TCP listener accepts connections: pg_ctl -w watches the socket file only.
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.opts.Port)), time.Second)
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("devpg: server not accepting connections on port %d: %w", c.opts.Port, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, err := c.output(ctx, "psql", "-h", "127.0.0.1", "-p", strconv.Itoa(c.opts.Port), "-U", "postgres",
		"-d", "postgres", "-tAc", fmt.Sprintf("SELECT 1 FROM pg_database WHERE datname = '%s'", c.opts.Database))
	if err != nil {
		return fmt.Errorf("devpg: look up database: %w", err)
	}
	if strings.TrimSpace(out) == "1" {
		return nil
	}
	if err := c.run(ctx, "createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(c.opts.Port), "-U", "postgres", c.opts.Database); err != nil {
		return fmt.Errorf("devpg: createdb: %w", err)
	}
	return nil
}

func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bindir, name), args...)
	cmd.Dir = c.opts.Dir
	// pg_ctl start forks a server that must survive us: give it its own session.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if c.runAs != nil {
		uid, _ := strconv.Atoi(c.runAs.Uid)
		gid, _ := strconv.Atoi(c.runAs.Gid)
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		cmd.Env = append(os.Environ(), "HOME="+c.runAs.HomeDir)
	}
	return cmd
}

func (c *Cluster) run(ctx context.Context, name string, args ...string) error {
	out, err := c.command(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (c *Cluster) output(ctx context.Context, name string, args ...string) (string, error) {
	cmd := c.command(ctx, name, args...)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return string(out), nil
}

// chown hands the cluster folder to the server's user and checks that user can reach it: a
// checkout under a private home directory cannot host a cluster that runs as another user.
func (c *Cluster) chown(dir string) error {
	if c.runAs == nil {
		return nil
	}
	uid, _ := strconv.Atoi(c.runAs.Uid)
	gid, _ := strconv.Atoi(c.runAs.Gid)
	if err := os.Lchown(dir, uid, gid); err != nil {
		return fmt.Errorf("devpg: chown %s: %w", dir, err)
	}
	if !c.reachable(dir) {
		return fmt.Errorf("devpg: user %q cannot reach %s; set DATA_DIR to a folder it can reach", c.runAs.Username, dir)
	}
	return nil
}

// checkOwnDir refuses a cluster folder that someone else could have prepared: a symlink, or a
// folder not owned by us or the server's user, or writable by others. As root, trusting such a
// folder would let its owner choose files root then creates, chowns or hands to the server.
func (c *Cluster) checkOwnDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("devpg: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.IsDir() || fi.Mode()&os.ModeSymlink != 0 || fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("devpg: %s is not a private folder (a symlink, or writable by others): remove it", dir)
	}
	owners := map[uint32]bool{uint32(os.Geteuid()): true}
	if c.runAs != nil {
		uid, _ := strconv.Atoi(c.runAs.Uid)
		owners[uint32(uid)] = true
	}
	if !owners[st.Uid] {
		return fmt.Errorf("devpg: %s belongs to another user (uid %d): remove it", dir, st.Uid)
	}
	return nil
}

// reachable reports whether the server's user can enter dir (every parent must let it pass).
func (c *Cluster) reachable(dir string) bool {
	uid, _ := strconv.Atoi(c.runAs.Uid)
	gid, _ := strconv.Atoi(c.runAs.Gid)
	probe := exec.Command("/usr/bin/test", "-x", dir)
	probe.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	return probe.Run() == nil
}

// findBinDir picks the newest installed server: Debian keeps each major version apart under
// /usr/lib/postgresql/N/bin and puts none of them on PATH.
func findBinDir() (string, error) {
	if dir := os.Getenv("PG_BINDIR"); dir != "" {
		return dir, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(matches, func(i, j int) bool {
		return versionOf(matches[i]) > versionOf(matches[j])
	})
	if len(matches) > 0 {
		return filepath.Dir(matches[0]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("devpg: no PostgreSQL server binaries found (install Debian's postgresql package, or set DATABASE_URL)")
}

func versionOf(initdbPath string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdbPath))))
	return v
}

func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("devpg: open lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("devpg: lock: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// Binary is the path of one of the installed PostgreSQL's programs (pg_dump, psql …), found
// as the cluster's server binaries are (PG_BINDIR, the newest /usr/lib/postgresql/*/bin, PATH).
func Binary(name string) (string, error) {
	dir, err := findBinDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, name), nil
}
