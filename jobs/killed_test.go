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
	"gocloud.dev/blob"

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

	// Another process (this test binary again) works the job and blocks in it; it is SIGKILLed
	// there: no shutdown, no chance to return the job.
	id := killChildAt(t, "TestKilledWorkerLosesNothing", killedChildEnv+"="+url, "started ")
	require.Equal(t, strconv.FormatInt(res.Job.ID, 10), id)

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

// killedShotEnv makes this test binary a screenshot worker process (see
// TestKilledScreenshotWorkerLosesNothing): database URL and blob folder, comma-separated.
const killedShotEnv = "JOBS_TEST_SCREENSHOT_WORKER"

// TestKilledScreenshotWorkerLosesNothing: a worker process SIGKILLed in the middle of
// processing a screenshot (its image written, its thumbnail not, nothing recorded) leaves the
// screenshot PROCESSING; the job is rescued and the next worker finishes it: PROCESSED, with
// one result under the same keys.
func TestKilledScreenshotWorkerLosesNothing(t *testing.T) {
	if env := os.Getenv(killedShotEnv); env != "" {
		url, dir, _ := strings.Cut(env, ",")
		processUntilKilled(t, url, dir)
		return
	}
	t.Parallel()
	ctx := context.Background()
	url := testdb.URL(t)
	s, err := store.Open(ctx, url, store.Opts{})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	b := setupShots(t, s, func(_ *jobs.ScreenshotPipeline, o *jobs.Opts) { o.Workers = 0 }) // insert only
	row := b.insertShot(t, pngOf(t, screen(320, 180)), nil)
	jobID := b.enqueue(t, row)

	prefix := jobs.ScreenshotKeyPrefix(b.scope.TenantID, row.ID)
	require.Equal(t, prefix+"thumbnail.jpg", killAtThumbnail(t, "TestKilledScreenshotWorkerLosesNothing", url, b.dir))

	require.Equal(t, store.ScreenshotProcessing, b.shot(t, row.ID).Status, "claimed, never recorded")
	require.Equal(t, []string{prefix + "image.jpg", prefix + "original"}, keys(t, b.bucket, prefix), "half written")
	job, err := b.client.River().JobGet(ctx, jobID)
	require.NoError(t, err)
	require.Equal(t, rivertype.JobStateRunning, job.State)

	// The killed process was the leader: end its term now rather than wait for it to lapse.
	_, err = s.Pool().Exec(ctx, `DELETE FROM river_leader`)
	require.NoError(t, err)
	const timeout = 2 * time.Second // the kind's timeout: the rescuer leaves a job this long
	time.Sleep(time.Until(job.AttemptedAt.Add(timeout + 50*time.Millisecond)))
	next := startClient(t, s, jobs.ScreenshotPipeline{Store: s, Blobs: b.bucket, Publisher: b.events, Timeout: timeout},
		jobs.Opts{Workers: 1, JobTimeout: 200 * time.Millisecond, RescueStuckJobsAfter: 300 * time.Millisecond})
	job = waitForState(t, next, jobID, rivertype.JobStateCompleted)
	require.Equal(t, 2, job.Attempt)
	require.Contains(t, job.Errors[0].Error, "Stuck job rescued")

	shot := b.shot(t, row.ID)
	require.Equal(t, store.ScreenshotProcessed, shot.Status)
	require.Equal(t, prefix+"image.jpg", *shot.BlobKey)
	require.Equal(t, []string{prefix + "image.jpg", prefix + "original", prefix + "thumbnail.jpg"}, keys(t, b.bucket, prefix))
	require.Equal(t, []string{store.ScreenshotProcessed}, b.events.statuses(row.ID),
		"the transition to PROCESSING was the dead process's; the rescued attempt made only the last")
}

// processUntilKilled is the screenshot worker process: it processes until it is about to write
// a thumbnail, says so, and waits to be killed (or a minute, should the test die first).
func processUntilKilled(t *testing.T, url, dir string) {
	ctx := context.Background()
	s, err := store.Open(ctx, url, store.Opts{})
	require.NoError(t, err)
	bucket := openBucket(t, dir)
	pipeline := jobs.ScreenshotPipeline{Store: s, Blobs: stallThumbnails{bucket}}
	c, err := jobs.New(s, jobs.NewWorkers(jobs.Deps{Screenshots: pipeline}), jobs.Opts{Workers: 1,
		Logger: slog.New(slog.DiscardHandler), TestOnly: true, FetchCooldown: 5 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, c.Start(ctx))
	time.Sleep(time.Minute)
}

// stallThumbnails is a real bucket whose thumbnail writes never return: the process is killed
// there.
type stallThumbnails struct{ *blob.Bucket }

func (b stallThumbnails) WriteAll(ctx context.Context, key string, p []byte, opts *blob.WriterOptions) error {
	if strings.HasSuffix(key, "/thumbnail.jpg") {
		fmt.Printf("stalled %s\n", key)
		select {}
	}
	return b.Bucket.WriteAll(ctx, key, p, opts)
}

// TestKilledScreenshotWorkerInTheLastAttempt: a worker SIGKILLed during the job's last attempt
// leaves the screenshot PROCESSING, and river's rescuer discards the job without running our
// code, so nothing marks the row; the reconciliation does: FAILED with InterruptedReason, and
// published, so its subscribers see a final status.
func TestKilledScreenshotWorkerInTheLastAttempt(t *testing.T) {
	if env := os.Getenv(killedShotEnv); env != "" {
		url, dir, _ := strings.Cut(env, ",")
		processUntilKilled(t, url, dir)
		return
	}
	t.Parallel()
	ctx := context.Background()
	url := testdb.URL(t)
	s, err := store.Open(ctx, url, store.Opts{})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	b := setupShots(t, s, func(_ *jobs.ScreenshotPipeline, o *jobs.Opts) { o.Workers = 0 }) // insert only
	row := b.insertShot(t, pngOf(t, screen(320, 180)), nil)
	res, err := b.client.River().Insert(ctx, jobs.ProcessScreenshotArgs{TenantArgs: jobs.TenantArgs{TenantID: b.scope.TenantID},
		ScreenshotID: row.ID, CapturedAt: row.CapturedAt}, &river.InsertOpts{MaxAttempts: 1}) // the first is the last
	require.NoError(t, err)

	killAtThumbnail(t, "TestKilledScreenshotWorkerInTheLastAttempt", url, b.dir) // in its last attempt
	require.Equal(t, store.ScreenshotProcessing, b.shot(t, row.ID).Status)

	_, err = s.Pool().Exec(ctx, `DELETE FROM river_leader`) // end the dead leader's term now
	require.NoError(t, err)
	job, err := b.client.River().JobGet(ctx, res.Job.ID)
	require.NoError(t, err)
	const timeout = 2 * time.Second
	time.Sleep(time.Until(job.AttemptedAt.Add(timeout + 50*time.Millisecond)))
	next := startClient(t, s, jobs.ScreenshotPipeline{Store: s, Blobs: b.bucket, Publisher: b.events, Timeout: timeout,
		InterruptedAfter: time.Millisecond},
		jobs.Opts{Workers: 1, JobTimeout: 200 * time.Millisecond, RescueStuckJobsAfter: 300 * time.Millisecond})
	job = waitForState(t, next, res.Job.ID, rivertype.JobStateDiscarded)
	require.Contains(t, job.Errors[0].Error, "Stuck job rescued")
	require.Equal(t, store.ScreenshotProcessing, b.shot(t, row.ID).Status, "the rescuer ran none of our code")

	reconcile(t, next)
	shot := b.shot(t, row.ID)
	require.Equal(t, store.ScreenshotFailed, shot.Status, "not stuck")
	require.Equal(t, jobs.InterruptedReason, *shot.FailureReason)
	require.Equal(t, []string{store.ScreenshotFailed}, b.events.statuses(row.ID),
		"PROCESSING was the dead process's to publish; FAILED is the reconciliation's")
}

// killAtThumbnail runs test in a child process as a screenshot worker over the database at url
// and the bucket in dir (processUntilKilled), waits until it stalls writing a thumbnail, and
// SIGKILLs it there, mid-job; it returns the key the child stalled at.
func killAtThumbnail(t *testing.T, test, url, dir string) string {
	t.Helper()
	return killChildAt(t, test, killedShotEnv+"="+url+","+dir, "stalled ")
}

// killChildAt runs test again in a child process of this test binary with env added, waits
// until the child prints a line starting with marker (it is then blocked mid-job), SIGKILLs it
// and returns the rest of that line.
func killChildAt(t *testing.T, test, env, marker string) string {
	t.Helper()
	child := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	child.Env = append(os.Environ(), env)
	child.Stderr = io.Discard
	out, err := child.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	reached := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(out)
		for lines.Scan() {
			if rest, ok := strings.CutPrefix(lines.Text(), marker); ok {
				reached <- rest
			}
		}
	}()
	select {
	case rest := <-reached:
		require.NoError(t, child.Process.Kill())
		_ = child.Wait()
		return rest
	case <-time.After(30 * time.Second):
		_ = child.Process.Kill()
		_ = child.Wait()
		t.Fatalf("the worker process never printed %q", marker)
		return ""
	}
}
