package shm_test

import (
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shmgo/shm"
)

// TestLockState reads the Mutex words of a named segment: free, held by this
// process, held by a live child, and held by a child that was killed.
func TestLockState(t *testing.T) {
	seg := createSeg(t, 1<<16)
	m := must(shm.NewMutex(shm.In(seg, "m")))(t)
	must(shm.NewValue[int64](1, shm.In(seg, "v")))(t)
	objs := must(seg.Objects())(t)
	if len(objs) != 2 || objs[0].Kind != "Mutex" || objs[1].Kind != "Value" || objs[1].Lock == 0 {
		t.Fatalf("Objects = %+v", objs)
	}
	mOff, vLock := objs[0].Offset, objs[1].Lock
	state := func() shm.LockState {
		t.Helper()
		return must(seg.LockState(mOff))(t)
	}

	if st := state(); st != (shm.LockState{}) {
		t.Fatalf("free Mutex: %+v, want the zero LockState", st)
	}
	if st := must(seg.LockState(vLock))(t); st.Locked {
		t.Fatalf("a Value's free lock: %+v", st)
	}
	if st := must(seg.LockState(64))(t); st.Locked {
		t.Fatalf("the allocation lock, free: %+v", st)
	}

	m.Lock()
	want := shm.LockState{Locked: true, Owner: shm.ProcessToken(), Pid: os.Getpid(), Alive: true, Known: true}
	if st := state(); st != want {
		t.Fatalf("held by this process: %+v, want %+v", st, want)
	}
	m.Unlock()

	tok := must(shm.NewRawValue(uint64(0)))(t)
	holding := newFlag(t)
	p := start(t, lockAndHold, m, tok, holding)
	await(t, "the child to hold the lock", func() bool { return holding.Ptr().Load() == 1 })
	want = shm.LockState{Locked: true, Owner: tok.Load(), Pid: p.Pid(), Alive: true, Known: true}
	if st := state(); st != want {
		t.Fatalf("held by a live child: %+v, want %+v", st, want)
	}
	p.Kill()
	p.Join()
	st := state()
	// Another process may take the dead child's slot in the token table at
	// once (tests of other packages run beside this one): then its PID is
	// no longer recorded.
	if !st.Locked || st.Owner != tok.Load() || st.Alive || !st.Known || (st.Pid != p.Pid() && st.Pid != 0) {
		t.Fatalf("held by a killed child (pid %d, token %#x): %+v, want locked, known dead", p.Pid(), tok.Load(), st)
	}
}

func TestLockStateBadOffset(t *testing.T) {
	seg := createSeg(t, 8192)
	for _, off := range []int64{-8, 3, 8192 - 4, 8192, 1 << 40} {
		if _, err := seg.LockState(off); err == nil || !strings.Contains(err.Error(), "not the offset of a Mutex word") {
			t.Errorf("LockState(%d) = %v, want an error saying why", off, err)
		}
	}
	seg.Close()
	if _, err := seg.LockState(64); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("LockState on a closed segment: %v", err)
	}
}

// TestLockStateRaw: a raw segment has no locks.
func TestLockStateRaw(t *testing.T) {
	name := newSegName(t)
	if err := os.WriteFile("/dev/shm/"+name, make([]byte, 100), 0o600); err != nil {
		t.Fatal(err)
	}
	removeLater(t, name)
	seg := openSeg(t, name)
	if _, err := seg.LockState(0); err == nil || !strings.Contains(err.Error(), "no shm header") {
		t.Errorf("LockState in a raw segment: %v, want an error saying it has no header", err)
	}
}

// createAndHold creates the segment name with a Mutex "m" in it, locks it,
// says so, and holds it until killed.
func createAndHold(name string, holding *shm.RawValue[atomic.Int32]) {
	seg, err := shm.Create(name, 8192)
	if err != nil {
		panic(err)
	}
	m, err := shm.NewMutex(shm.In(seg, "m"))
	if err != nil {
		panic(err)
	}
	m.Lock()
	holding.Ptr().Store(1)
	sleepForever()
}

func init() { shm.Register(createAndHold) }

// TestLockStateDeadCreator: a segment's creator that died holding a lock is
// named by its PID even after another process has taken its slot in the
// token table, since the header records the creator's token and PID.
func TestLockStateDeadCreator(t *testing.T) {
	name := newSegName(t)
	removeLater(t, name)
	holding := newFlag(t)
	p := start(t, createAndHold, name, holding)
	await(t, "the child to hold the lock", func() bool { return holding.Ptr().Load() == 1 })
	p.Kill()
	p.Join()
	// Another child takes the lowest free slot: most likely the dead one's.
	tok := must(shm.NewRawValue(uint64(0)))(t)
	release := newFlag(t)
	q := start(t, takeToken, tok, release)
	await(t, "the second child's token", func() bool { return tok.Load() != 0 })

	seg := openSeg(t, name)
	st := must(seg.LockState(must(seg.Objects())(t)[0].Offset))(t)
	if !st.Locked || st.Alive || !st.Known || st.Pid != p.Pid() {
		t.Errorf("a Mutex held by the dead creator (pid %d): %+v, want locked, known dead, its pid", p.Pid(), st)
	}
	release.Ptr().Store(1)
	join(t, q)
}
