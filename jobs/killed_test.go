package jobs_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/testdb"
	"github.com/workingtracker/api/jobs"
	"github.com/workingtracker/api/store"
)

// killedChildEnv makes this test binary a worker process (see TestKilledWorkerLosesNothing).
const killedChildEnv = "JOBS_TEST_WORKER_DATABASE_URL"

// TestKilledWorkerLosesNothing: a worker process SIGKILLed in the middle of a job leaves it
// running in the database; once the leader takes the worker for dead (RescueStuckJobsAfter),
// the job is retried and completes under another worker.
func TestKilledWorkerLosesNothing(t *testing.T) {
	if url := os.Getenv(killedChildEnv); url != "" {
		workUntilKilled(t, url)
		return
	}
	t.Parallel()
	ctx := context.Background()
	url := testdb.URL(t)
	s, err := store.Open(ctx, url, store.Opts{})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	inserter := setup(t, s, jobs.Opts{}, func(w *river.Workers) { river.AddWorker(w, &blockWorker{}) })
	res, err := inserter.client.Enqueue(ctx, blockArgs{})
	require.NoError(t, err)

	// Another process (this test binary again) works the job and blocks in it.
	child := exec.Command(os.Args[0], "-test.run=^TestKilledWorkerLosesNothing$", "-test.count=1")
	child.Env = append(os.Environ(), killedChildEnv+"="+url)
	child.Stderr = io.Discard
	out, err := child.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	started := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(out)
		for lines.Scan() {
			if id, ok := strings.CutPrefix(lines.Text(), "started "); ok {
				started <- id
			}
		}
	}()
	select {
	case id := <-started:
		require.Equal(t, strconv.FormatInt(res.Job.ID, 10), id)
	case <-time.After(30 * time.Second):
		_ = child.Process.Kill()
		t.Fatal("the worker process never started the job")
	}
	require.NoError(t, child.Process.Kill()) // SIGKILL: no shutdown, no chance to return the job
	_ = child.Wait()

	job, err := inserter.client.River().JobGet(ctx, res.Job.ID)
	require.NoError(t, err)
	require.Equal(t, rivertype.JobStateRunning, job.State, "the dead worker's job is still marked running")
	require.Equal(t, 1, job.Attempt)

	// The killed process was the leader; its term would lapse after river's leadership TTL.
	// Let it lapse now rather than wait.
	_, err = s.Pool().Exec(ctx, `DELETE FROM river_leader`)
	require.NoError(t, err)
	const rescueAfter = 300 * time.Millisecond
	time.Sleep(time.Until(job.AttemptedAt.Add(rescueAfter + 50*time.Millisecond)))

	next := &blockWorker{started: make(chan int64, 1), release: make(chan struct{})}
	close(next.release)
	b := setup(t, s, jobs.Opts{Workers: 1, JobTimeout: 200 * time.Millisecond, RescueStuckJobsAfter: rescueAfter},
		func(w *river.Workers) { river.AddWorker(w, next) })
	job = waitForState(t, b.client, res.Job.ID, rivertype.JobStateCompleted)
	require.Equal(t, 2, job.Attempt, "retried once")
	require.Len(t, job.Errors, 1)
	require.Contains(t, job.Errors[0].Error, "Stuck job rescued")
}

// workUntilKilled is the worker process: it works jobs until the test kills it (or a minute
// passes, should the test die first).
func workUntilKilled(t *testing.T, url string) {
	ctx := context.Background()
	s, err := store.Open(ctx, url, store.Opts{})
	require.NoError(t, err)
	w := river.NewWorkers()
	river.AddWorker(w, noopWorker{})
	river.AddWorker(w, flakyWorker{})
	block := &blockWorker{started: make(chan int64, 1), release: make(chan struct{})}
	river.AddWorker(w, block)
	c, err := jobs.New(s, w, jobs.Opts{Workers: 1, Logger: slog.New(slog.DiscardHandler), TestOnly: true,
		FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, c.Start(ctx))
	select {
	case id := <-block.started:
		fmt.Printf("started %d\n", id)
	case <-time.After(time.Minute):
	}
	time.Sleep(time.Minute)
}
