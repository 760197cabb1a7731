//go:build linux

package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shmgo/shm"
)

func TestMain(m *testing.M) {
	shm.Main() // a party started by a two-process version runs here and exits
	os.Exit(m.Run())
}

// The backend fail-first fails its first dial of the processes that share
// the directory endpoints[0], and gives the later ones a nopConn.
func init() {
	backends["fail-first"] = func(_ context.Context, endpoints []string, _ string) (conn, error) {
		if os.Mkdir(filepath.Join(endpoints[0], "dialled"), 0o700) == nil {
			return nil, errors.New("first dial refused")
		}
		return nopConn{}, nil
	}
}

// nopConn's locker is never used: the test's hand-off stops before the
// first turn.
type nopConn struct{}

func (nopConn) Close() error { return nil }

func (nopConn) locker(context.Context, string) (locker, error) { return nil, nil }

func (nopConn) flag(context.Context, string, bool) (flag, error) {
	return nil, errors.New("no flag")
}

// TestHandoffPartyFailsBeforeReady checks that a hand-off party that fails
// before the start releases its partner from the barrier, which would
// otherwise wait out its five minutes.
func TestHandoffPartyFailsBeforeReady(t *testing.T) {
	_, err := handoff("fail-first")(context.Background(), []string{t.TempDir()}, "ns", 1)
	if err == nil || !strings.Contains(err.Error(), "first dial refused") || !strings.Contains(err.Error(), shm.ErrBrokenBarrier.Error()) {
		t.Fatalf("handoff with a party that cannot dial: %v, want its dial error and the partner's %v", err, shm.ErrBrokenBarrier)
	}
}
